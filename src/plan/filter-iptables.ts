import { createHash } from 'node:crypto';
import type { IptablesMode } from '../model/node-facts.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { parseCidr, type Cidr } from '../model/cidr.ts';
import type { FilterInput } from './filter-input.ts';
import { firstBreakingRule, type HookHazard, type TrafficClass } from './datapath-hazards.ts';
import { MARK_PREFIX, parseRule, RuleParseError } from './iptables-rule.ts';

export type IptablesTableName = 'nat' | 'filter' | 'mangle';
export const IPTABLES_TABLES: readonly IptablesTableName[] = ['mangle', 'nat', 'filter'];

/** One rule seaway writes: its iptables-restore line and the ownership mark (hash) it carries. */
export interface MarkedRule { text: string; mark: string }
/** One seaway chain and its rules in order. */
export interface IptablesChain { name: string; rules: MarkedRule[] }
/**
 * A rule in a built-in chain that jumps to a seaway chain. 'first': inserted at the top and kept
 * ahead of every foreign rule that would break the datapath (`hazard`); 'last': appended, so the
 * host's own rules (a firewall's DROP of UDP 4800) keep their say.
 */
export interface IptablesJump extends MarkedRule {
  hook: string;
  chain: string;
  position: 'first' | 'last';
  hazard?: () => HookHazard;
}
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

/**
 * The mark of one rule: a hash of where it goes and what it says, as Calico Felix marks its rules.
 * Observed rules are compared by their marks alone, so how an iptables version spells a rule back
 * (option order, `-m udp` added or not) never reads as drift, and a rule someone else wrote in the
 * same words does not pass for seaway's.
 */
export function ruleMark(table: IptablesTableName, chain: string, matches: string, target: string): string {
  return createHash('sha256').update(`${table}\n${chain}\n${matches}\n${target}`).digest('base64url').slice(0, 16);
}

function marked(table: IptablesTableName, chain: string, matches: string, target: string): MarkedRule {
  const mark = ruleMark(table, chain, matches, target);
  const body = matches === '' ? '' : `${matches} `;
  return { text: `-A ${chain} ${body}-m comment --comment "${MARK_PREFIX}${mark}" -j ${target}`, mark };
}

function jump(table: IptablesTableName, hook: string, chain: string, position: 'first' | 'last', matches = '', hazard?: () => HookHazard): IptablesJump {
  return { ...marked(table, hook, matches, chain), hook, chain, position, ...(hazard ? { hazard } : {}) };
}

function cidrs(texts: readonly string[]): Cidr[] {
  return texts.flatMap((text) => {
    const parsed = parseCidr(text);
    return parsed.ok ? [parsed.cidr] : [];
  });
}

/** Computed once, on first use: only a foreign rule ahead of a jump needs it. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * Renders seaway's chains and jumps. FORWARD accepts only what leaves through vx-submariner (as
 * Submariner does): traffic from remote clusters to local pods still meets the node's policy
 * chains. INPUT accepts VXLAN only from the cluster's node addresses, and its jump is appended.
 */
export function renderIptables(input: FilterInput): IptablesDesired {
  const nat = OWNERSHIP.chains.natPostrouting;
  const natRules = [marked('nat', nat, between(LOCAL, REMOTE), 'ACCEPT'), marked('nat', nat, between(REMOTE, LOCAL), 'ACCEPT')];
  if (input.cniAddress) natRules.push(marked('nat', nat, `-s ${VTEP_NETWORK} -o ${input.vxlanDevice}`, `SNAT --to-source ${input.cniAddress}`));

  const fin = OWNERSHIP.chains.filterInput;
  const ffw = OWNERSHIP.chains.filterForward;
  const mangle = OWNERSHIP.chains.manglePostrouting;
  const clamp = input.mssClamp.mode === 'pmtu' ? '--clamp-mss-to-pmtu' : `--set-mss ${input.mssClamp.mss}`;
  const syn = '-m tcp --tcp-flags SYN,RST SYN';
  const classes = lazy(() => {
    const local = { set: LOCAL, cidrs: cidrs(input.localCidrs) };
    const remote = { set: REMOTE, cidrs: cidrs(input.remoteCidrs) };
    return [{ src: local, dst: remote }, { src: remote, dst: local }] as TrafficClass[];
  });
  const ownSets = new Set([LOCAL, REMOTE]);
  const hazard = (breaking: string[], certainty: 'some' | 'all', extra: Partial<TrafficClass>) =>
    lazy((): HookHazard => ({ classes: classes().map((c) => ({ ...c, ...extra })), breaking: new Set(breaking), certainty, ownSets }));
  return {
    nat: {
      chains: [{ name: nat, rules: natRules }],
      jumps: [jump('nat', 'POSTROUTING', nat, 'first', '', hazard(['MASQUERADE', 'SNAT', 'NETMAP'], 'some', {}))],
    },
    filter: {
      chains: [
        { name: fin, rules: [marked('filter', fin, `-p udp -m udp --dport ${input.vxlanPort} -m set --match-set ${OWNERSHIP.ipsets.nodeAddresses} src`, 'ACCEPT')] },
        { name: ffw, rules: [marked('filter', ffw, `-o ${input.vxlanDevice}`, 'ACCEPT')] },
      ],
      jumps: [
        jump('filter', 'INPUT', fin, 'last', '-p udp'),
        jump('filter', 'FORWARD', ffw, 'first', '', hazard(['DROP', 'REJECT'], 'all', { out: input.vxlanDevice })),
      ],
    },
    mangle: {
      chains: [{
        name: mangle,
        rules: [
          marked('mangle', mangle, `-p tcp ${between(LOCAL, REMOTE)} ${syn}`, `TCPMSS ${clamp}`),
          marked('mangle', mangle, `-p tcp ${between(REMOTE, LOCAL)} ${syn}`, `TCPMSS ${clamp}`),
        ],
      }],
      jumps: [jump('mangle', 'POSTROUTING', mangle, 'first', '', hazard(['ACCEPT', 'DROP', 'REJECT'], 'some', { proto: 'tcp' }))],
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

/** The ownership mark an observed rule carries, or null (unmarked, or not readable as a rule). */
function markOf(rule: string): string | null {
  if (!rule.includes(MARK_PREFIX)) return null;
  try {
    return parseRule(rule).mark;
  } catch (error) {
    if (error instanceof RuleParseError) return null;
    throw error;
  }
}

const sameMarks = (seen: readonly string[], wanted: readonly MarkedRule[]) =>
  seen.length === wanted.length && seen.every((rule, i) => markOf(rule) === wanted[i]!.mark);

/** A jump that is not as wanted; rival: the foreign rule ahead of it that breaks the datapath, if that is why. */
export interface JumpDrift { jump: IptablesJump; rival: string | null }

/** The rival ahead of an otherwise intact jump, or why the jump itself is not intact ('missing', 'changed'). */
function judgeJump(j: IptablesJump, observed: Map<string, ObservedChain> | undefined): JumpDrift | null {
  const rules = observed?.get(j.hook)?.rules ?? [];
  const own = rules.flatMap((rule, index) => (jumpsTo(rule, j.chain) ? [index] : []));
  if (own.length !== 1 || markOf(rules[own[0]!]!) !== j.mark) return { jump: j, rival: null };
  if (j.position === 'last' || j.hazard === undefined || own[0] === 0) return null;
  const chains = new Map([...observed!].map(([name, chain]) => [name, chain.rules]));
  const rival = firstBreakingRule(rules.slice(0, own[0]), j.hazard(), chains);
  return rival === null ? null : { jump: j, rival };
}

/** Finds what is not intact in one table; pure. */
export function iptablesTableDrift(desired: IptablesTablePlan, observed: Map<string, ObservedChain> | undefined) {
  const chains = desired.chains.filter((c) => {
    const seen = observed?.get(c.name);
    return !seen || !sameMarks(seen.rules, c.rules);
  });
  const jumps = desired.jumps.map((j) => judgeJump(j, observed)).filter((d) => d !== null);
  return { chains, jumps };
}

/** The foreign rules that put seaway's jumps out of place, each as "<table> <hook>: <rule>". */
export function iptablesRivals(desired: IptablesDesired, observed: IptablesObserved, tables: readonly IptablesTableName[] = IPTABLES_TABLES): string[] {
  return tables.flatMap((table) => iptablesTableDrift(desired[table], observed.get(table)).jumps
    .flatMap((d) => (d.rival === null ? [] : [`${table} ${d.jump.hook}: ${d.rival}`])));
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
    for (const c of drift.chains) lines.push(`:${c.name} - [0:0]`, ...c.rules.map((r) => r.text));
    for (const { jump: j } of drift.jumps) {
      for (const rule of observed?.get(j.hook)?.rules ?? []) if (jumpsTo(rule, j.chain)) lines.push(`-D ${rule.slice(3)}`);
      lines.push(j.position === 'first' ? `-I ${j.hook} 1 ${j.text.slice(`-A ${j.hook} `.length)}` : j.text);
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
