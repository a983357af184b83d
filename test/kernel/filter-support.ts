import { run, type ExecOptions, type ExecResult } from '../../src/kernel/exec.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';
import { KERNEL_FILTER_NETLINK } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';

/** Wraps run and records every invocation, so tests count writes independently of the driver's own counter. */
export function recordingRunner(base: ProcessRunner = run) {
  const calls: { file: string; args: readonly string[]; input?: string }[] = [];
  const runner: ProcessRunner = (file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult> => {
    calls.push({ file, args, input: options?.input });
    return base(file, args, options);
  };
  const isWrite = (c: { file: string; args: readonly string[] }) =>
    /-restore$/.test(c.file) || (c.file === 'nft' && c.args.includes('-f')) || (c.file === 'ipset' && c.args.includes('restore'));
  return {
    run: runner,
    calls,
    /** Writing invocations recorded since the last reset. */
    writes: () => calls.filter(isWrite),
    reset: () => { calls.length = 0; },
  };
}

/**
 * Netlink that can never tell or write: netlink answers for the namespace this process is in, so a
 * driver whose tools run in another namespace (`ip netns exec`) reads and writes with them alone.
 */
export const TOOLS_ONLY_NETLINK: FilterNetlink = {
  iptablesTableNames: async () => null,
  nftTableState: async () => null,
  ipsetList: async () => null,
  ipsetCreate: async () => false,
  ipsetChangeMembers: async () => false,
  nftChangeElements: async () => false,
  nftFillAndWake: async () => false,
};

/** The kernel's netlink, with every change of set members (ipset or nft) recorded as `SET +added -deleted`. */
export function recordingNetlink() {
  const memberWrites: string[] = [];
  const netlink: FilterNetlink = {
    ...KERNEL_FILTER_NETLINK,
    ipsetChangeMembers: (set, add, del) => {
      memberWrites.push(`${set} +${add.join(',')} -${del.join(',')}`);
      return KERNEL_FILTER_NETLINK.ipsetChangeMembers(set, add, del);
    },
    nftChangeElements: (changes) => {
      memberWrites.push(...changes.map(({ set, add, del }) => `${set} +${add.join(',')} -${del.join(',')}`));
      return KERNEL_FILTER_NETLINK.nftChangeElements(changes);
    },
    nftFillAndWake: (fill, tableMade) => {
      memberWrites.push(...fill.map(({ set, add }) => `${set} +${add.join(',')} -`));
      return KERNEL_FILTER_NETLINK.nftFillAndWake(fill, tableMade);
    },
  };
  return { netlink, memberWrites, reset: () => { memberWrites.length = 0; } };
}

export const SAMPLE: DesiredFilter = {
  localCidrs: ['10.1.0.0/16', '10.96.0.0/12'],
  remoteCidrs: ['10.2.0.0/16', '10.3.0.0/24', '10.3.1.5/32'],
  nodeAddresses: ['192.168.1.10/32', '192.168.1.11/32'],
  cniAddress: '10.1.0.1',
  vxlanDevice: 'vx-submariner',
  vxlanPort: 4800,
  mssClamp: { mode: 'pmtu' },
};

const sh = (file: string, args: string[], input?: string) => run(file, args, { input });

/** Every iptables (both flavours), nft and ipset object of this namespace as text, counters masked. */
export async function snapshot(): Promise<string> {
  const parts = await Promise.all([
    run('iptables-legacy-save', []), run('iptables-nft-save', []), run('nft', ['list', 'ruleset']), run('ipset', ['save']),
  ]);
  return parts.map((p) => p.stdout).join('\n=====\n')
    .split('\n').filter((l) => !l.startsWith('#')).join('\n')
    .replace(/\[\d+:\d+\]/g, '[0:0]').replace(/packets \d+ bytes \d+/g, 'packets 0 bytes 0');
}

/** Empties every table, chain and set of this (throwaway) namespace, in both iptables flavours. */
export async function resetNamespace(): Promise<void> {
  for (const mode of ['legacy', 'nft'] as const) {
    for (const table of ['filter', 'nat', 'mangle']) {
      await sh(`iptables-${mode}`, ['-t', table, '-F']);
      await sh(`iptables-${mode}`, ['-t', table, '-X']);
    }
    for (const chain of ['INPUT', 'FORWARD', 'OUTPUT']) await sh(`iptables-${mode}`, ['-P', chain, 'ACCEPT']);
  }
  await sh('nft', ['flush', 'ruleset']);
  await sh('ipset', ['destroy']);
}

/** A CNI and kube-proxy stand-in: masquerade for pod egress, FORWARD policy DROP, rules in every table, a set of its own. */
export async function installForeignRules(mode: 'legacy' | 'nft'): Promise<void> {
  await sh('ipset', ['create', 'CNI-OWN', 'hash:ip']);
  await sh(`iptables-${mode}-restore`, ['--noflush'], [
    '*nat', ':CNI-MASQ - [0:0]',
    '-A POSTROUTING -s 10.1.0.0/16 -j CNI-MASQ',
    '-A CNI-MASQ ! -d 10.1.0.0/16 -j MASQUERADE',
    'COMMIT',
    '*filter', ':FORWARD DROP [0:0]',
    '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A INPUT -m set --match-set CNI-OWN src -j ACCEPT',
    'COMMIT',
    '*mangle',
    '-A POSTROUTING -p udp -j RETURN',
    'COMMIT', '',
  ].join('\n'));
}

/** The rules of one chain as iptables-save prints them. */
export async function chainRules(mode: 'legacy' | 'nft', table: string, chain: string): Promise<string[]> {
  const { stdout } = await run(`iptables-${mode}-save`, ['-t', table]);
  return stdout.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
}

export async function ipsetMembers(name: string): Promise<string[]> {
  const { stdout } = await run('ipset', ['save', name]);
  return stdout.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[2]!).sort();
}
