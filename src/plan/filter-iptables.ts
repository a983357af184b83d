import { createHash } from 'node:crypto';
import type { EchoLimit } from '../model/desired-state.ts';
import type { IptablesMode } from '../model/node-facts.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { parseCidrs } from '../model/cidr.ts';
import type { FilterInput } from './filter-input.ts';
import { firstBreakingRule, setsMatchedFrom, type HookHazard, type KnownSets, type TrafficSide } from './datapath-hazards.ts';
import { MARK_PREFIX, parseRule, RuleParseError } from './iptables-rule.ts';

export type IptablesTableName = 'nat' | 'filter' | 'mangle';
export const IPTABLES_TABLES: readonly IptablesTableName[] = ['mangle', 'nat', 'filter'];

/** One rule seaway writes: its iptables-restore line and the ownership mark (hash) it carries. */
export interface MarkedRule { text: string; mark: string }
/** One seaway chain and its rules in order. */
export interface IptablesChain { name: string; rules: MarkedRule[] }
/**
 * A rule in a built-in chain that jumps to a seaway chain, kept ahead of every foreign rule that
 * would break the datapath (`hazard`). 'first': inserted at the top when it is not; 'last':
 * appended, or inserted just ahead of the first such rule, so the host's own rules (a firewall's
 * DROP of UDP 4800) keep their say and only a catch-all (a trailing REJECT) is passed.
 */
export interface IptablesJump extends MarkedRule {
  hook: string;
  chain: string;
  position: 'first' | 'last';
  hazard?: () => HookHazard;
}
export interface IptablesTablePlan { chains: IptablesChain[]; jumps: IptablesJump[] }
export type IptablesDesired = Record<IptablesTableName, IptablesTablePlan>;

/**
 * The built-in chains seaway jumps from, per table, and the chain each jumps to, where foreign
 * rules ahead of the jump are judged (their sets read). The echo limit's jump is not among them:
 * it has no hazard, so nothing ahead of it needs reading.
 */
const JUMP_HOOKS: Record<IptablesTableName, ReadonlyArray<{ hook: string; chain: string }>> = {
  nat: [{ hook: 'POSTROUTING', chain: OWNERSHIP.chains.natPostrouting }],
  filter: [{ hook: 'INPUT', chain: OWNERSHIP.chains.filterInput }, { hook: 'FORWARD', chain: OWNERSHIP.chains.filterForward }],
  mangle: [{ hook: 'POSTROUTING', chain: OWNERSHIP.chains.manglePostrouting }],
};

/** Every chain name seaway may own, per table: cleanup and stale detection use this, not the desired state. */
export const OWNED_IPTABLES_CHAINS: Record<IptablesTableName, readonly string[]> = {
  nat: [OWNERSHIP.chains.natPostrouting],
  filter: [OWNERSHIP.chains.filterInput, OWNERSHIP.chains.filterForward, OWNERSHIP.chains.filterEchoLimit],
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

/** Computed once, on first use: only a foreign rule ahead of a jump needs it. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * The echo-request limit (the gateway's, see EchoLimit): echo requests to the address jump to
 * seaway's chain, where the exempt senders return first, then those from remote ranges pass
 * within the limit and the rest of them are dropped; anything else (this cluster's own sources)
 * returns at the chain's end. The exempt senders are a set (one per remote cluster, 1,000 of them):
 * one lookup per echo request, and a remote gateway that moves is a member changed, not the chain
 * written again.
 */
function echoLimitChain(limit: EchoLimit): IptablesChain {
  const chain = OWNERSHIP.chains.filterEchoLimit;
  const remote = `-m set --match-set ${REMOTE} src`;
  return {
    name: chain,
    rules: [
      marked('filter', chain, `-m set --match-set ${OWNERSHIP.ipsets.echoExempt} src`, 'RETURN'),
      marked('filter', chain, `${remote} -m limit --limit ${limit.perSecond}/sec --limit-burst ${limit.burst}`, 'RETURN'),
      marked('filter', chain, remote, 'DROP'),
    ],
  };
}

/**
 * Renders seaway's chains and jumps. FORWARD accepts only what leaves through vx-submariner (as
 * Submariner does): traffic from remote clusters to local pods still meets the node's policy
 * chains. INPUT accepts VXLAN only from the cluster's node addresses, and its jump is appended.
 * The echo limit's jump goes first in INPUT: hosts commonly accept ICMP early, and a limiter
 * behind that accept would never see the flood. It comes last in the list of jumps, so a script
 * that places both INPUT jumps inserts the appended one (whose position is counted in the
 * chain as observed) before the insert at position 1 shifts that chain.
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
  const sides = lazy(() => ({
    local: { set: LOCAL, cidrs: parseCidrs(input.localCidrs) } as TrafficSide,
    remote: { set: REMOTE, cidrs: parseCidrs(input.remoteCidrs), neverLocal: true } as TrafficSide,
  }));
  // Where pod traffic to remote clusters leaves: the planner knows it exactly on a worker, and on the gateway where it never does.
  const outward = input.egress === undefined ? {} : 'only' in input.egress ? { out: input.egress.only } : { notOut: input.egress.never };
  const betweenClusters = (breaking: string[], certainty: 'some' | 'all', extra: { out?: 'outward' | 'vxlan'; proto?: string }) => lazy((): HookHazard => {
    const { local, remote } = sides();
    const out = extra.out === 'vxlan' ? [input.vxlanDevice] : undefined;
    return {
      classes: [
        { src: local, dst: remote, ...(extra.out === 'outward' ? outward : out ? { out } : {}), ...(extra.proto ? { proto: extra.proto } : {}) },
        { src: remote, dst: local, ...(out ? { out } : {}), ...(extra.proto ? { proto: extra.proto } : {}) },
      ],
      breaking: new Set(breaking), certainty,
    };
  });
  // VXLAN from the other nodes, to whichever address of this node.
  const vxlanIn = lazy((): HookHazard => ({
    classes: [{ src: { set: OWNERSHIP.ipsets.nodeAddresses, cidrs: parseCidrs(input.nodeAddresses) }, dst: { cidrs: parseCidrs(['0.0.0.0/0']) }, proto: 'udp' }],
    breaking: new Set(['DROP', 'REJECT']), certainty: 'all', judgeEach: true,
  }));
  return {
    nat: {
      chains: [{ name: nat, rules: natRules }],
      jumps: [jump('nat', 'POSTROUTING', nat, 'first', '', betweenClusters(['MASQUERADE', 'SNAT', 'NETMAP'], 'some', { out: 'outward' }))],
    },
    filter: {
      chains: [
        { name: fin, rules: [marked('filter', fin, `-p udp -m udp --dport ${input.vxlanPort} -m set --match-set ${OWNERSHIP.ipsets.nodeAddresses} src`, 'ACCEPT')] },
        { name: ffw, rules: [marked('filter', ffw, `-o ${input.vxlanDevice}`, 'ACCEPT')] },
        ...(input.echoLimit ? [echoLimitChain(input.echoLimit)] : []),
      ],
      jumps: [
        jump('filter', 'INPUT', fin, 'last', '-p udp', vxlanIn),
        jump('filter', 'FORWARD', ffw, 'first', '', betweenClusters(['DROP', 'REJECT'], 'all', { out: 'vxlan' })),
        // No hazard: a foreign rule put ahead of it later keeps its place (Felix re-inserts its own
        // jumps first; fighting it over a limiter would be a tug-of-war). It is placed first only
        // when it is missing or not intact.
        ...(input.echoLimit
          ? [jump('filter', 'INPUT', OWNERSHIP.chains.filterEchoLimit, 'first', `-d ${input.echoLimit.address}/32 -p icmp -m icmp --icmp-type 8`)]
          : []),
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
      jumps: [jump('mangle', 'POSTROUTING', mangle, 'first', '', betweenClusters(['ACCEPT', 'DROP', 'REJECT'], 'some', { proto: 'tcp' }))],
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

/**
 * A jump that is not as wanted, and where it goes: `at` is the 1-based position to insert it at
 * once seaway's own jumps to the chain are deleted (null: append). rival: the foreign rule ahead
 * of it that breaks the datapath, if that is why.
 */
export interface JumpDrift { jump: IptablesJump; rival: string | null; at: number | null }

const chainsOf = (observed: Map<string, ObservedChain> | undefined): Map<string, readonly string[]> =>
  new Map([...(observed ?? [])].map(([name, chain]) => [name, chain.rules]));

/** Whether one jump is intact: exactly one, with seaway's mark, and no foreign rule ahead of it that breaks the datapath. */
function judgeJump(j: IptablesJump, observed: Map<string, ObservedChain> | undefined, sets: KnownSets): JumpDrift | null {
  const rules = observed?.get(j.hook)?.rules ?? [];
  const own = rules.flatMap((rule, index) => (jumpsTo(rule, j.chain) ? [index] : []));
  const intact = own.length === 1 && markOf(rules[own[0]!]!) === j.mark;
  if (intact && own[0] === 0) return null;
  if (!intact && j.position === 'first') return { jump: j, rival: null, at: 1 };
  // Where the breaking rules are, among the others: ahead of an intact jump, or anywhere for a jump to place.
  const foreign = rules.filter((_, index) => !own.includes(index));
  const consider = intact ? rules.slice(0, own[0]) : foreign;
  const breaking = j.hazard && consider.length > 0 ? firstBreakingRule(consider, j.hazard(), chainsOf(observed), sets) : null;
  if (intact && breaking === null) return null;
  const at = j.position === 'first' ? 1 : breaking === null ? null : foreign.indexOf(consider[breaking.index]!) + 1;
  return { jump: j, rival: intact ? breaking!.rule : null, at };
}

/** Finds what is not intact in one table; pure. `sets`: foreign ipsets' members, for judging rules that match on them. */
export function iptablesTableDrift(desired: IptablesTablePlan, observed: Map<string, ObservedChain> | undefined, sets: KnownSets = new Map()) {
  const chains = desired.chains.filter((c) => {
    const seen = observed?.get(c.name);
    return !seen || !sameMarks(seen.rules, c.rules);
  });
  const jumps = desired.jumps.map((j) => judgeJump(j, observed, sets)).filter((d) => d !== null);
  return { chains, jumps };
}

/**
 * The foreign ipsets that rules ahead of seaway's jumps match on (for a jump still to be placed,
 * every rule of its chain): the driver reads their members, so Calico's
 * `! --match-set cali40all-ipam-pools dst` is judged by what the pools hold. Needs no desired
 * state: the hooks and chains are seaway's fixed ones.
 */
export function foreignSetsToRead(observed: IptablesObserved): string[] {
  const own = new Set<string>(Object.values(OWNERSHIP.ipsets));
  const names = new Set<string>();
  for (const table of IPTABLES_TABLES) {
    const chains = observed.get(table);
    for (const { hook, chain } of JUMP_HOOKS[table]) {
      const rules = chains?.get(hook)?.rules ?? [];
      const at = rules.findIndex((rule) => jumpsTo(rule, chain));
      if (at === 0) continue;
      for (const name of setsMatchedFrom(at < 0 ? rules : rules.slice(0, at), chainsOf(chains))) if (!own.has(name)) names.add(name);
    }
  }
  return [...names].sort();
}

/** One table's iptables-restore section (null: nothing to change) and the rivals that made its jumps drift. */
function planTable(
  table: IptablesTableName, desired: IptablesTablePlan | null, observed: Map<string, ObservedChain> | undefined, sets: KnownSets,
): { script: string | null; rivals: string[] } {
  const lines: string[] = [];
  const rivals: string[] = [];
  const deleteJumpsTo = (chain: string) => {
    for (const seen of observed?.values() ?? []) {
      for (const rule of seen.rules) if (jumpsTo(rule, chain) && !rule.startsWith(`-A ${chain} `)) lines.push(`-D ${rule.slice(3)}`);
    }
  };
  if (desired) {
    const drift = iptablesTableDrift(desired, observed, sets);
    for (const c of drift.chains) lines.push(`:${c.name} - [0:0]`, ...c.rules.map((r) => r.text));
    for (const { jump: j, rival, at } of drift.jumps) {
      for (const rule of observed?.get(j.hook)?.rules ?? []) if (jumpsTo(rule, j.chain)) lines.push(`-D ${rule.slice(3)}`);
      lines.push(at === null ? j.text : `-I ${j.hook} ${at} ${j.text.slice(`-A ${j.hook} `.length)}`);
      if (rival !== null) rivals.push(`${table} ${j.hook}: ${rival}`);
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
  return { script: lines.length === 0 ? null : `*${table}\n${lines.join('\n')}\nCOMMIT\n`, rivals };
}

/**
 * Renders the iptables-restore --noflush input that makes one table match `desired` (null: remove
 * everything seaway owns there), rewriting only the chains and jumps that are not intact. null when
 * the table is already right, so a pass with nothing to change writes nothing.
 */
export function planIptablesTable(
  table: IptablesTableName, desired: IptablesTablePlan | null, observed: Map<string, ObservedChain> | undefined, sets: KnownSets = new Map(),
): string | null {
  return planTable(table, desired, observed, sets).script;
}

/**
 * The sections of one iptables-restore for `tables` (the others' seaway chains are removed) and
 * the foreign rules, each as "<table> <hook>: <rule>", whose place ahead of a jump made a section
 * necessary.
 */
export function planIptablesTables(
  desired: IptablesDesired | null, observed: IptablesObserved, sets: KnownSets = new Map(), tables: readonly IptablesTableName[] = IPTABLES_TABLES,
): { sections: string[]; rivals: string[] } {
  const planned = IPTABLES_TABLES.map((table) => planTable(table, desired && tables.includes(table) ? desired[table] : null, observed.get(table), sets));
  return { sections: planned.flatMap((p) => (p.script === null ? [] : [p.script])), rivals: planned.flatMap((p) => p.rivals) };
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
