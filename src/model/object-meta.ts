/** Reading a Kubernetes object's metadata defensively (pure): maps of strings and unix-seconds annotations. */
import { isRecord } from './compare.ts';

/** A record's string entries, the others left out: a copy, never the record itself. */
export function stringEntries(value: Readonly<Record<string, unknown>>): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') strings[key] = entry;
  return strings;
}

/**
 * A labels or annotations map as read: {} when absent (undefined or null); null when it is not an
 * object or one of its values is not a string; otherwise the map itself (not a copy).
 */
export function stringMap(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) return null;
  for (const entry of Object.values(value)) if (typeof entry !== 'string') return null;
  return value as Record<string, string>;
}

/**
 * An annotation holding unix seconds (decimal digits only), as unix ms; null when it is not a
 * string of digits or its ms are past Number.MAX_SAFE_INTEGER.
 */
export function unixSecondsAnnotationMs(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return null;
  const ms = Number(value) * 1000;
  return Number.isSafeInteger(ms) ? ms : null;
}
