/**
 * An independent statement of the one IPv4/CIDR grammar seaway accepts (model/cidr scanIpv4 and
 * scanPrefixLength), written as regular expressions instead of a character loop, so that tests can
 * check the parser and everything built on it against it: four decimal octets 0-255 without leading
 * zeros, a prefix length 0-32 without leading zeros, nothing else (no spaces, signs, hex, octal).
 */
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const ADDRESS = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const PREFIX = /^(?:3[0-2]|[12][0-9]|[0-9])$/;

/** The address as an unsigned 32-bit number, or null when the grammar refuses the text. */
export function specAddress(text: string): number | null {
  if (!ADDRESS.test(text)) return null;
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** "address/prefix" per the grammar, or null; hostBitsSet when the address is not the network's. */
export function specCidr(text: string): { address: number; prefixLength: number; hostBitsSet: boolean } | null {
  const parts = text.split('/');
  if (parts.length !== 2 || !PREFIX.test(parts[1]!)) return null;
  const value = specAddress(parts[0]!);
  if (value === null) return null;
  const prefixLength = Number(parts[1]);
  return { address: value, prefixLength, hostBitsSet: value % 2 ** (32 - prefixLength) !== 0 };
}

/**
 * Deterministic near-misses of valid addresses and CIDRs: each a valid one with one to three
 * characters deleted, inserted or replaced from an alphabet of digits, separators and garbage.
 */
export function mutatedCidrs(count: number, bases = ['10.2.0.0/16', '100.64.3.0/24', '1.2.3.4/32', '0.0.0.0/1', '255.255.255.0/24', '192.168.10.128/25', '10.0.0.1', '255.255.255.255']): string[] {
  let seed = 42;
  const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const alphabet = '0123456789./ -:x';
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const chars = [...bases[random(bases.length)]!];
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(chars.length + 1);
      const op = random(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, alphabet[random(alphabet.length)]!);
      else chars[Math.min(at, chars.length - 1)] = alphabet[random(alphabet.length)]!;
    }
    out.push(chars.join(''));
  }
  return out;
}
