import type { ProcessRunner } from './iptables.ts';
import { NFNL_SUBSYS_NFTABLES } from './nft-events.ts';
import { attr, cstring, nfnetlinkAcks } from './nfnetlink.ts';

/** `nft -j list table`, or null when the table does not exist. */
export async function nftListTable(runner: ProcessRunner, family: string, table: string): Promise<string | null> {
  const result = await runner('nft', ['-j', 'list', 'table', family, table], { allowFailure: true });
  if (result.code === 0) return result.stdout;
  if (/No such file or directory/i.test(result.stderr)) return null;
  throw new Error(`nft list table ${family} ${table} exited ${result.code}: ${result.stderr.trim()}`);
}

/** Applies a script as one nft transaction: all of it or nothing. */
export async function nftApply(runner: ProcessRunner, script: string): Promise<void> {
  await runner('nft', ['-f', '-'], { input: script });
}

/** Tables in the ruleset as "family name", e.g. "ip filter". */
export async function nftListTables(runner: ProcessRunner): Promise<string[]> {
  const result = await runner('nft', ['list', 'tables'], { allowFailure: true });
  if (result.code !== 0) return [];
  return result.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table ')).map((l) => l.slice(6));
}

const NFT_MSG_GETTABLE = 1;
const NFTA_TABLE_NAME = 1;
const NFPROTO: Record<string, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };
const ENOENT = 2;

/**
 * Whether the table exists, asked of the kernel over netlink without starting nft; null when
 * netlink cannot tell (then list it with nft).
 */
export async function nftTablePresent(family: string, table: string): Promise<boolean | null> {
  const code = NFPROTO[family];
  if (code === undefined) return null;
  const errnos = await nfnetlinkAcks([{
    subsystem: NFNL_SUBSYS_NFTABLES, command: NFT_MSG_GETTABLE, family: code, attributes: [attr(NFTA_TABLE_NAME, cstring(table))],
  }]);
  if (errnos === null || (errnos[0] !== 0 && errnos[0] !== ENOENT)) return null;
  return errnos[0] === 0;
}
