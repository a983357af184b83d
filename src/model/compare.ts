/** Orders strings by UTF-16 code units, like Go's sort.Strings: the same on every node and locale (localeCompare is not). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A plain JSON object (not null, not an array), as a field of a Kubernetes object must be before it is read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
