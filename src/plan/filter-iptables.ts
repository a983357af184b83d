import type { IptablesMode } from '../model/node-facts.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import type { FilterInput } from './filter-input.ts';

export type IptablesTableName = 'nat' | 'filter' | 'mangle';
export const IPTABLES_TABLES: readonly IptablesTableName[] = ['mangle', 'nat', 'filter'];

/** One seaway chain: its rules exactly as iptables-save prints them ("-A CHAIN ..."). */
export interface IptablesChain { name: string; rules: string[] }
/** A rule in a built-in chain that jumps to a seaway chain; it must be rule number 1 there. */
export interface IptablesJump { hook: string; chain: string }
export interface IptablesTablePlan { chains: IptablesChain[]; jumps: IptablesJump[] }
export type IptablesDesired = Record<IptablesTableName, IptablesTablePlan>;

/** Every chain name seaway may own, per table: cleanup and stale detection use this, not the desired state. */
export const OWNED_IPTABLES_CHAINS: Record<IptablesTableName, readonly string[]> = {
  nat: [OWNERSHIP.chains.natPostrouting],
  filter: [OWNERSHIP.chains.filterInput, OWNERSHIP.chains.filterForward],
  mangle: [OWNERSHIP.chains.manglePostrouting],
};

const LOCAL = OWNERSHIP.ipsets.localCidrs;
const REMOTE = OWNERSHIP.ipsets.remoteCidrs;
const between = (from: string, to: string) => `-m set --match-set ${from} src -m set --match-set ${to} dst`;
const VTEP_NETWORK = `${OWNERSHIP.vtepFirstOctet}.0.0.0/8`;

/** Renders seaway's chains and jumps in iptables-save's canonical spelling, so observed and desired compare as strings. */
export function renderIptables(input: FilterInput): IptablesDesired {
  const nat = OWNERSHIP.chains.natPostrouting;
  const natRules = [
    `-A ${nat} ${between(LOCAL, REMOTE)} -j ACCEPT`,
    `-A ${nat} ${between(REMOTE, LOCAL)} -j ACCEPT`,
  ];
  if (input.cniAddress) natRules.push(`-A ${nat} -s ${VTEP_NETWORK} -o ${input.vxlanDevice} -j SNAT --to-source ${input.cniAddress}`);

  const fin = OWNERSHIP.chains.filterInput;
  const ffw = OWNERSHIP.chains.filterForward;
  const mangle = OWNERSHIP.chains.manglePostrouting;
  const clamp = input.mssClamp.mode === 'pmtu' ? '--clamp-mss-to-pmtu' : `--set-mss ${input.mssClamp.mss}`;
  const syn = '-m tcp --tcp-flags SYN,RST SYN';
  return {
    nat: { chains: [{ name: nat, rules: natRules }], jumps: [{ hook: 'POSTROUTING', chain: nat }] },
    filter: {
      chains: [
        { name: fin, rules: [`-A ${fin} -p udp -m udp --dport ${input.vxlanPort} -j ACCEPT`] },
        {
          name: ffw,
          rules: [
            `-A ${ffw} -o ${input.vxlanDevice} -j ACCEPT`,
            `-A ${ffw} -i ${input.vxlanDevice} -j ACCEPT`,
            `-A ${ffw} ${between(LOCAL, REMOTE)} -j ACCEPT`,
            `-A ${ffw} ${between(REMOTE, LOCAL)} -j ACCEPT`,
          ],
        },
      ],
      jumps: [{ hook: 'INPUT', chain: fin }, { hook: 'FORWARD', chain: ffw }],
    },
    mangle: {
      chains: [{
        name: mangle,
        rules: [
          `-A ${mangle} -p tcp ${between(LOCAL, REMOTE)} ${syn} -j TCPMSS ${clamp}`,
          `-A ${mangle} -p tcp ${between(REMOTE, LOCAL)} ${syn} -j TCPMSS ${clamp}`,
        ],
      }],
      jumps: [{ hook: 'POSTROUTING', chain: mangle }],
    },
  };
}

export interface ObservedChain { policy: string; rules: string[] }
/** What iptables-save shows: table -> chain -> policy ('-' for user chains) and rules in order. */
export type IptablesObserved = Map<string, Map<string, ObservedChain>>;

export class IptablesParseError extends Error {
  constructor(lineNumber: number, line: string, why: string) {
    super(`iptables-save output line ${lineNumber}: ${why}: ${line.slice(0, 200)}`);
    this.name = 'IptablesParseError';
  }
}

/** Parses iptables-save output (legacy or nft flavour, with or without -c counters). */
export function parseIptablesSave(text: string): IptablesObserved {
  const tables: IptablesObserved = new Map();
  let current: Map<string, ObservedChain> | null = null;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      current = new Map();
      tables.set(line.slice(1), current);
      return;
    }
    if (line === 'COMMIT') { current = null; return; }
    if (!current) throw new IptablesParseError(index + 1, line, 'outside a table');
    const table: Map<string, ObservedChain> = current;
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (!name || !policy) throw new IptablesParseError(index + 1, line, 'malformed chain line');
      table.set(name, { policy, rules: [] });
      return;
    }
    const rule = line.replace(/^\[\d+:\d+\]\s+/, '');
    const m = /^-A (\S+)(?: |$)/.exec(rule);
    if (!m) throw new IptablesParseError(index + 1, line, 'expected a rule (-A CHAIN ...)');
    const chain = table.get(m[1]!);
    if (!chain) throw new IptablesParseError(index + 1, line, `rule for undeclared chain ${m[1]}`);
    chain.rules.push(rule);
  });
  return tables;
}

function jumpsTo(rule: string, chain: string): boolean {
  return rule.endsWith(` -j ${chain}`) || rule.includes(` -j ${chain} `) || rule.endsWith(` -g ${chain}`) || rule.includes(` -g ${chain} `);
}

const sameRules = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((rule, i) => rule === b[i]);

/** Finds what is not intact in one table; pure. */
export function iptablesTableDrift(desired: IptablesTablePlan, observed: Map<string, ObservedChain> | undefined) {
  const chains = desired.chains.filter((c) => {
    const seen = observed?.get(c.name);
    return !seen || !sameRules(seen.rules, c.rules);
  });
  const jumps = desired.jumps.filter((j) => {
    const rules = observed?.get(j.hook)?.rules ?? [];
    const count = rules.filter((r) => jumpsTo(r, j.chain)).length;
    return count !== 1 || rules[0] !== `-A ${j.hook} -j ${j.chain}`;
  });
  return { chains, jumps };
}

/**
 * Renders the iptables-restore --noflush input that makes one table match `desired` (null: remove
 * everything seaway owns there), rewriting only the chains and jumps that are not intact. null when
 * the table is already right, so a pass with nothing to change writes nothing.
 */
export function planIptablesTable(
  table: IptablesTableName,
  desired: IptablesTablePlan | null,
  observed: Map<string, ObservedChain> | undefined,
): string | null {
  const lines: string[] = [];
  const deleteJumpsTo = (chain: string) => {
    for (const seen of observed?.values() ?? []) {
      for (const rule of seen.rules) if (jumpsTo(rule, chain) && !rule.startsWith(`-A ${chain} `)) lines.push(`-D ${rule.slice(3)}`);
    }
  };
  if (desired) {
    const drift = iptablesTableDrift(desired, observed);
    for (const c of drift.chains) lines.push(`:${c.name} - [0:0]`, ...c.rules);
    for (const j of drift.jumps) {
      for (const rule of observed?.get(j.hook)?.rules ?? []) if (jumpsTo(rule, j.chain)) lines.push(`-D ${rule.slice(3)}`);
      lines.push(`-I ${j.hook} 1 -j ${j.chain}`);
    }
    const wanted = new Set(desired.chains.map((c) => c.name));
    const stale = OWNED_IPTABLES_CHAINS[table].filter((name) => !wanted.has(name) && observed?.has(name));
    for (const name of stale) deleteJumpsTo(name);
    for (const name of stale) lines.push(`-F ${name}`, `-X ${name}`);
  } else {
    const owned = OWNED_IPTABLES_CHAINS[table].filter((name) => observed?.has(name));
    for (const name of owned) deleteJumpsTo(name);
    for (const name of owned) lines.push(`-F ${name}`, `-X ${name}`);
  }
  if (lines.length === 0) return null;
  return `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
}

/** Counts rules that are not seaway's (not in or jumping to an owned chain): how much a host uses this iptables flavour. */
export function countForeignRules(observed: IptablesObserved): number {
  let count = 0;
  for (const [table, chains] of observed) {
    const owned = OWNED_IPTABLES_CHAINS[table as IptablesTableName] ?? [];
    for (const [name, chain] of chains) {
      if (owned.includes(name)) continue;
      count += chain.rules.filter((rule) => !owned.some((o) => jumpsTo(rule, o))).length;
    }
  }
  return count;
}

export interface IptablesModeDetection {
  mode: IptablesMode;
  /** Rules that are not seaway's, per flavour. */
  foreignRules: Record<IptablesMode, number>;
}

/**
 * The flavour the host's other rules (kube-proxy, the CNI) live in, from each flavour's iptables-save
 * output (null: that flavour is not usable here): the one with more rules that are not seaway's; nft
 * when neither has any. Rules written with the other flavour would be silently ignored by whoever
 * reads this one, so seaway follows the host. Output that does not parse counts as no rules, as an
 * unusable flavour does: detection only weighs the two, and the chosen flavour's driver reports
 * a parse failure when it observes.
 */
export function chooseIptablesMode(saved: Readonly<Record<IptablesMode, string | null>>): IptablesModeDetection {
  const foreign = (text: string | null): number => {
    if (text === null) return 0;
    try {
      return countForeignRules(parseIptablesSave(text));
    } catch (error) {
      if (error instanceof IptablesParseError) return 0;
      throw error;
    }
  };
  const legacy = foreign(saved.legacy);
  const nft = foreign(saved.nft);
  return { mode: legacy > nft ? 'legacy' : 'nft', foreignRules: { legacy, nft } };
}

/**
 * Whether an iptables filter table could drop what seaway's nft table accepts: an accept in one base
 * chain does not stop another base chain of the same hook from dropping, so when INPUT or FORWARD
 * has a non-ACCEPT policy or rules of someone else's, the nft backend also needs iptables accepts.
 */
export function iptablesFilterCanDrop(observed: IptablesObserved): boolean {
  const filter = observed.get('filter');
  if (!filter) return false;
  const owned = OWNED_IPTABLES_CHAINS.filter;
  return ['INPUT', 'FORWARD'].some((hook) => {
    const chain = filter.get(hook);
    if (!chain) return false;
    return chain.policy !== 'ACCEPT' || chain.rules.some((rule) => !owned.some((o) => jumpsTo(rule, o)));
  });
}

/** Built-in chains that hold a jump to one of seaway's chains, per table: where a cleanup removes jumps. */
export function hooksWithOwnedJumps(observed: IptablesObserved): Array<{ table: IptablesTableName; hook: string }> {
  const found: Array<{ table: IptablesTableName; hook: string }> = [];
  for (const table of IPTABLES_TABLES) {
    const owned = OWNED_IPTABLES_CHAINS[table];
    for (const [name, chain] of observed.get(table) ?? []) {
      if (chain.policy === '-' || owned.includes(name)) continue;
      if (chain.rules.some((rule) => owned.some((o) => jumpsTo(rule, o)))) found.push({ table, hook: name });
    }
  }
  return found;
}
