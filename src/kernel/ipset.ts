import { attr, cstring, nfnetlinkLookup } from './nfnetlink.ts';
import { u8 } from './netlink/codec.ts';
import type { ProcessRunner } from './iptables.ts';

const NFNL_SUBSYS_IPSET = 6;
const IPSET_CMD_HEADER = 12;
const IPSET_ATTR_PROTOCOL = 1;
const IPSET_ATTR_SETNAME = 2;
/** The oldest protocol the kernel's ipset still accepts (and the only one older kernels accept). */
const IPSET_PROTOCOL = 6;
const AF_INET = 2;
const ENOENT = 2;

/**
 * Which of the named sets exist, asked of the kernel over netlink (a header request per name): no
 * process start, which is most of what reading an empty ipset state costs. null when netlink
 * cannot tell (no ipset support, an unexpected answer); the caller then reads with ipset save.
 */
export async function ipsetsPresent(names: readonly string[]): Promise<Set<string> | null> {
  const errnos = await nfnetlinkLookup(names.map((name) => ({
    subsystem: NFNL_SUBSYS_IPSET, command: IPSET_CMD_HEADER, family: AF_INET,
    attributes: [attr(IPSET_ATTR_PROTOCOL, u8(IPSET_PROTOCOL)), attr(IPSET_ATTR_SETNAME, cstring(name))],
  })));
  if (errnos === null || errnos.some((e) => e !== 0 && e !== ENOENT)) return null;
  return new Set(names.filter((_, i) => errnos[i] === 0));
}

/**
 * The `ipset save` lines of the named sets that exist; missing sets are simply absent. When none of
 * them exists (a node seaway has not programmed yet) the answer comes from netlink and no process
 * starts; otherwise one `ipset save` of every set rather than one process per name: on the path of
 * every pass, a process start costs more than skipping the lines of other owners' sets.
 */
export async function ipsetSave(runner: ProcessRunner, names: readonly string[]): Promise<string> {
  const present = await ipsetsPresent(names);
  if (present?.size === 0) return '';
  let result;
  try {
    result = await runner('ipset', ['save'], { allowFailure: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''; // no ipset tool: no sets to see
    throw error;
  }
  if (result.code !== 0) throw new Error(`ipset save exited ${result.code}: ${result.stderr.trim()}`);
  const wanted = new Set(names);
  const kept: string[] = [];
  for (const line of result.stdout.split('\n')) {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first > 0 && wanted.has(line.slice(first + 1, second < 0 ? undefined : second))) kept.push(line);
  }
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

/** Applies a restore script in one ipset process; -exist makes re-adding or re-creating harmless. */
export async function ipsetRestore(runner: ProcessRunner, script: string): Promise<void> {
  await runner('ipset', ['-exist', 'restore'], { input: script });
}
