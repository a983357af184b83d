/**
 * Whether this kernel can process ESP itself (XFRM) or charon must do it in userspace
 * (kernel-libipsec). Asked by behaviour, not by module lists or config files: XFRM policies can
 * work on a kernel without the ESP transform, and only an ESP state tells.
 */
import { randomInt } from 'node:crypto';
import { run, type ExecResult } from './exec.ts';
import type { EspMode } from '../plan/strongswan-conf.ts';
import { errorText } from '../model/error-text.ts';

export interface EspModeDetection {
  mode: EspMode;
  /** Why, for the log: the kernel's own words when it refused the state. */
  reason: string;
}

export interface DetectEspModeOptions {
  /** Deadline of each `ip` call (default 5 s). */
  timeoutMs?: number;
}

/**
 * What the kernel (through iproute2) answers when it cannot hold an ESP state: no ESP transform
 * ("Requested type not found"), no cipher for it, no XFRM netlink at all.
 */
const LACKS_ESP = [
  /Requested type not found/i,
  /algorithm not found/i,
  /Protocol not supported/i,
  /Function not implemented/i,
  /Address family not supported/i,
];

/**
 * Documentation addresses (TEST-NET-1, RFC 5737) and no policy: the state can never match a
 * packet, and it lives only between the two calls.
 */
const PROBE_SOURCE = '192.0.2.1';
const PROBE_DESTINATION = '192.0.2.2';
const PROBE_KEY_AES128 = '0x00112233445566778899aabbccddeeff';
const PROBE_KEY_SHA256 = '0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

/**
 * Adds a throwaway ESP state and deletes it at once. 'xfrm' when the kernel takes it, 'libipsec'
 * when it says it lacks ESP; any other failure (no `ip`, no permission, a timeout) throws: guessing
 * 'libipsec' then would hide a broken node behind slow userspace ESP.
 */
export async function detectEspMode(exec: typeof run = run, options: DetectEspModeOptions = {}): Promise<EspModeDetection> {
  const timeoutMs = options.timeoutMs ?? 5000;
  // SPIs below 256 are reserved; a random one keeps two probes (or a leftover) from colliding.
  const spi = `0x${randomInt(0x100, 0xffff_ffff).toString(16)}`;
  const id = ['src', PROBE_SOURCE, 'dst', PROBE_DESTINATION, 'proto', 'esp', 'spi', spi];
  const add = ['xfrm', 'state', 'add', ...id, 'mode', 'tunnel',
    'enc', 'cbc(aes)', PROBE_KEY_AES128, 'auth-trunc', 'hmac(sha256)', PROBE_KEY_SHA256, '128'];
  let added: ExecResult;
  try {
    added = await exec('ip', add, { allowFailure: true, timeoutMs });
  } catch (error) {
    throw new Error(`cannot tell whether the kernel supports ESP: ip ${add.join(' ')} failed: ${errorText(error)}`, { cause: error });
  }
  const answer = (added.stderr.trim() || added.stdout.trim()).replace(/\s+/g, ' ');
  if (added.code !== 0) {
    if (LACKS_ESP.some((pattern) => pattern.test(answer))) return { mode: 'libipsec', reason: `the kernel refused an ESP state: ${answer}` };
    throw new Error(`cannot tell whether the kernel supports ESP: ip xfrm state add exited ${added.code}: ${answer || '(no output)'}`);
  }
  const reason = 'the kernel accepted an ESP state';
  try {
    await exec('ip', ['xfrm', 'state', 'delete', ...id], { timeoutMs });
    return { mode: 'xfrm', reason };
  } catch (error) {
    // The answer stands; the leftover matches no packet, but the operator should hear of it.
    return { mode: 'xfrm', reason: `${reason}; deleting the probe state (ip xfrm state delete ${id.join(' ')}) failed: ${errorText(error)}` };
  }
}

