/** Name rules of Kubernetes and Linux. Each check returns what is wrong, or null when the name is fine. */

/** RFC 1123 label as Kubernetes checks it: lowercase alphanumerics and '-', alphanumeric at both ends, at most 63. */
export function dns1123Label(value: string): string | null {
  if (value.length > 63) return `is ${value.length} characters long; a DNS-1123 label has at most 63`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) return 'is not a DNS-1123 label (lowercase letters, digits and \'-\', starting and ending with a letter or digit)';
  return null;
}

/** RFC 1123 subdomain: dot-separated labels, at most 253 characters (what Kubernetes allows for Node names). */
export function dns1123Subdomain(value: string): string | null {
  if (value.length > 253) return `is ${value.length} characters long; a DNS-1123 subdomain has at most 253`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
    return 'is not a DNS-1123 subdomain (lowercase letters, digits, \'-\' and \'.\')';
  }
  return null;
}

/** What the kernel accepts as a link name (dev_valid_name): 1-15 bytes, not "." or "..", no '/', ':', NUL or whitespace. */
export function interfaceName(value: string): string | null {
  if (Buffer.byteLength(value) > 15) return 'is longer than 15 bytes (IFNAMSIZ)';
  if (value === '.' || value === '..') return 'is not a valid interface name';
  if (/[/:\s\0]/.test(value)) return 'contains \'/\', \':\', a space or a NUL, which interface names cannot';
  return null;
}
