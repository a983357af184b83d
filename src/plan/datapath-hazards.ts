/**
 * Which foreign iptables rules, ahead of seaway's jump in a built-in chain, would break the
 * datapath: "position by meaning, not by index" (DESIGN.md section 2). Another agent's jump
 * first in nat POSTROUTING is no drift while nothing it leads to can masquerade pod traffic
 * between clusters; it is when something can. Pure.
 */
import { containsCidr, overlaps, parseCidr, type Cidr } from '../model/cidr.ts';
import { parseRule, RuleParseError, type ParsedRule, type RuleOption } from './iptables-rule.ts';

/** One end of the traffic: its CIDRs, the seaway set that holds exactly them (if any), and whether they can be this host's own addresses. */
export interface TrafficSide {
  cidrs: readonly Cidr[];
  set?: string;
  /** No address here is ever one of this host's (remote clusters' pods): `-m addrtype --src-type LOCAL` cannot match. */
  neverLocal?: boolean;
}

/** Traffic seaway's rules in one hook exist for: from one set of CIDRs to another. */
export interface TrafficClass {
  src: TrafficSide;
  dst: TrafficSide;
  /** Every device it may leave through, where the hook knows them (FORWARD: vx-submariner); absent: any. */
  out?: readonly string[];
  /** Devices it never leaves through (the gateway's CNI interface), where `out` is not known. */
  notOut?: readonly string[];
  /** The only protocol that matters here (the MSS clamp: tcp; VXLAN: udp). */
  proto?: string;
}

/** What breaks the traffic at one hook, and how surely a rule must take it to count. */
export interface HookHazard {
  classes: readonly TrafficClass[];
  /** Targets that break the datapath when they take the traffic (MASQUERADE in nat POSTROUTING). */
  breaking: ReadonlySet<string>;
  /**
   * 'some': a rule that may take any of the traffic counts (one masqueraded flow is a broken flow).
   * 'all': only a rule certain to take all of it (FORWARD: a conditional DROP is someone's policy,
   * which has its say; only a catch-all DROP ahead of seaway's accept defeats the datapath).
   */
  certainty: 'some' | 'all';
  /**
   * Judge each rule on its own conditions: what earlier conditional rules took away does not make
   * a later rule conditional (INPUT: a host firewall's trailing REJECT catches all it did not
   * accept). Otherwise a DROP after a conditional RETURN or ACCEPT takes only some of the traffic
   * (a policy chain's default deny, which has its say).
   */
  judgeEach?: boolean;
}

/** Members of foreign ipsets (hash:net or hash:ip) the driver read, by name: `-m set` matches on them are judged by their CIDRs. */
export type KnownSets = ReadonlyMap<string, readonly Cidr[]>;

/** How much of a traffic class a rule's conditions can match. */
export type Reach = 'none' | 'some' | 'all';

const narrower = (a: Reach, b: Reach): Reach => (a === 'none' || b === 'none' ? 'none' : a === 'some' || b === 'some' ? 'some' : 'all');

/** How much of `side` lies in `covering` (a CIDR, or a set's members); negated: outside it. */
function membershipReach(covering: readonly Cidr[], side: readonly Cidr[], negated: boolean): Reach {
  if (side.length === 0) return 'none';
  const covered = side.every((c) => covering.some((x) => containsCidr(x, c)));
  const touched = side.some((c) => covering.some((x) => overlaps(x, c)));
  if (!negated) return covered ? 'all' : touched ? 'some' : 'none';
  return !touched ? 'all' : covered ? 'none' : 'some';
}

function addressReach(value: string, side: readonly Cidr[], negated: boolean): Reach {
  const parsed = parseCidr(value.includes('/') ? value : `${value}/32`);
  return parsed.ok ? membershipReach([parsed.cidr], side, negated) : 'some';
}

function exact(match: boolean, negated: boolean): Reach {
  return match !== negated ? 'all' : 'none';
}

/** iptables interface names end in "+" for a prefix match. */
function interfaceMatches(pattern: string, device: string): boolean {
  return pattern.endsWith('+') ? device.startsWith(pattern.slice(0, -1)) : pattern === device;
}

function deviceReach(pattern: string, devices: readonly string[], negated: boolean): Reach {
  const matching = devices.filter((d) => interfaceMatches(pattern, d)).length;
  if (matching === 0) return negated ? 'all' : 'none';
  if (matching === devices.length) return negated ? 'none' : 'all';
  return 'some';
}

const PROTOCOL_NUMBERS: Record<string, string> = { tcp: '6', udp: '17', icmp: '1' };

function optionReach(option: RuleOption, traffic: TrafficClass, sets: KnownSets): Reach {
  const value = option.values[0] ?? '';
  switch (option.module) {
    case '':
      switch (option.name) {
        case '-s': return addressReach(value, traffic.src.cidrs, option.negated);
        case '-d': return addressReach(value, traffic.dst.cidrs, option.negated);
        case '-o':
          if (traffic.out !== undefined) return deviceReach(value, traffic.out, option.negated);
          // A device it never takes: that rule cannot take it (or, negated, takes all of it).
          if (!value.endsWith('+') && traffic.notOut?.includes(value)) return option.negated ? 'all' : 'none';
          return 'some';
        case '-p': {
          const protocol = value.toLowerCase();
          if (protocol === 'all' || protocol === '0') return option.negated ? 'none' : 'all';
          if (traffic.proto === undefined) return 'some';
          return exact(protocol === traffic.proto || protocol === PROTOCOL_NUMBERS[traffic.proto], option.negated);
        }
        default: return 'some'; // -i: the interface traffic arrives on is not known here
      }
    case 'comment':
      return 'all';
    case 'set': {
      if (option.name !== '--match-set') return 'some';
      const direction = option.values[1];
      const side = direction === 'src' ? traffic.src : direction === 'dst' ? traffic.dst : null;
      if (side === null) return 'some'; // a two-dimension match is not judged
      const others = [traffic.src.set, traffic.dst.set];
      // The planner keeps seaway's sets disjoint, so one of them names either all of a side or none of it.
      if (side.set !== undefined && others.includes(value)) return exact(side.set === value, option.negated);
      const members = sets.get(value);
      return members === undefined ? 'some' : membershipReach(members, side.cidrs, option.negated);
    }
    case 'addrtype': {
      if (option.name === '--limit-iface-in' || option.name === '--limit-iface-out') return 'all';
      const side = option.name === '--src-type' ? traffic.src : option.name === '--dst-type' ? traffic.dst : null;
      // Remote clusters' pods are never this host's addresses; local CIDRs hold the CNI interface's.
      if (side?.neverLocal && value === 'LOCAL') return option.negated ? 'all' : 'none';
      return 'some';
    }
    default:
      return 'some';
  }
}

/** How much of `traffic` a rule's conditions can match ('some' for every condition not understood). */
export function ruleReach(rule: ParsedRule, traffic: TrafficClass, sets: KnownSets = new Map()): Reach {
  let reach: Reach = 'all';
  for (const option of rule.options) {
    reach = narrower(reach, optionReach(option, traffic, sets));
    if (reach === 'none') return 'none';
  }
  return reach;
}

/**
 * A rule seaway cannot read is trusted as little as one it could: it may take any of the traffic
 * (reach 'some'), to whatever target its text names.
 */
function readRule(text: string): ParsedRule {
  try {
    return parseRule(text);
  } catch (error) {
    if (!(error instanceof RuleParseError)) throw error;
    const target = / -([jg]) (\S+)/.exec(text);
    const unknown = { name: '?', negated: false, values: [], module: '?' };
    return { options: [unknown], target: target?.[2] ?? null, goto: target?.[1] === 'g', mark: null };
  }
}

/** Ends traversal of the whole hook for the packets they take. */
const FINAL_VERDICTS = new Set(['ACCEPT', 'DROP', 'REJECT']);
const MAX_DEPTH = 16;

interface ScanResult {
  /** The rule (and the path to it) that breaks the traffic, or null. */
  rival: string | null;
  /** All of the traffic met a final verdict: nothing after this point sees any of it. */
  ended: boolean;
  /** All of the traffic returned from this chain to its caller. */
  returned: boolean;
  /** Some of the traffic (not necessarily all) met a final verdict: what reaches later rules is only some of it. */
  finalSome: boolean;
}

interface Scan {
  hazard: HookHazard;
  chains: ReadonlyMap<string, readonly string[]>;
  sets: KnownSets;
  visiting: Set<string>;
}

/** Walks `rules` with `reach` of the traffic arriving; the first breaking rule, or how the traffic left. */
function scan(rules: readonly string[], traffic: TrafficClass, reach: Reach, s: Scan, depth: number): ScanResult {
  // How much of the traffic still reaches the next rule: a rule that may take some of it away
  // (a conditional RETURN, ACCEPT or goto) leaves only "some" for every rule after it.
  let remaining = reach;
  let finalSome = false;
  const tookSome = () => { if (!s.hazard.judgeEach) remaining = 'some'; };
  for (const text of rules) {
    const rule = readRule(text);
    const r = narrower(remaining, ruleReach(rule, traffic, s.sets));
    if (r === 'none' || rule.target === null) continue;
    const target = rule.target;
    if (s.hazard.breaking.has(target)) {
      if (s.hazard.certainty === 'some' || r === 'all') return { rival: text, ended: true, returned: false, finalSome: true };
      tookSome();
      finalSome = true;
      continue;
    }
    if (FINAL_VERDICTS.has(target)) {
      if (r === 'all') return { rival: null, ended: true, returned: false, finalSome: true };
      tookSome();
      finalSome = true;
      continue;
    }
    if (target === 'RETURN') {
      if (r === 'all') return { rival: null, ended: false, returned: true, finalSome };
      tookSome();
      continue;
    }
    const chain = s.chains.get(target);
    if (chain === undefined) continue; // an extension target (LOG, MARK, CONNMARK ...): the traffic goes on
    if (s.visiting.has(target) || depth >= MAX_DEPTH) {
      // A cycle, or deeper than any real ruleset: what it does is not followed, so assume it may take some.
      remaining = 'some';
      continue;
    }
    s.visiting.add(target);
    const inner = scan(chain, traffic, r, s, depth + 1);
    s.visiting.delete(target);
    if (inner.rival !== null) return { rival: `${text} -> ${inner.rival}`, ended: true, returned: false, finalSome: true };
    if (inner.ended) return { rival: null, ended: true, returned: false, finalSome: true };
    if (inner.finalSome) { tookSome(); finalSome = true; }
    // What takes a goto never comes back to this chain.
    if (rule.goto) {
      if (r === 'all') return { rival: null, ended: false, returned: true, finalSome };
      tookSome();
    }
  }
  return { rival: null, ended: false, returned: false, finalSome };
}

/** A foreign rule that breaks the datapath: its index among the rules scanned, and its text with the path to the breaking rule. */
export interface BreakingRule { index: number; rule: string }

/**
 * The first foreign rule among `ahead` (the rules before seaway's jump in a built-in chain, in
 * order) that breaks the datapath's traffic at this hook, followed through the chains it jumps
 * to (`chains`: the table's chains by name), or null when none does.
 */
export function firstBreakingRule(
  ahead: readonly string[], hazard: HookHazard, chains: ReadonlyMap<string, readonly string[]>, sets: KnownSets = new Map(),
): BreakingRule | null {
  let first: BreakingRule | null = null;
  for (const traffic of hazard.classes) {
    // Rule by rule, so the index of the top-level rule that leads to the break is known.
    const s: Scan = { hazard, chains, sets, visiting: new Set() };
    let remaining: Reach = 'all';
    for (let index = 0; index < ahead.length && (first === null || index < first.index); index++) {
      const found = scan([ahead[index]!], traffic, remaining, s, 0);
      if (found.rival !== null) { first = { index, rule: found.rival }; break; }
      if (found.ended || found.returned || hazard.judgeEach) { if (found.ended || found.returned) break; continue; }
      if (found.finalSome) remaining = 'some';
      // A conditional RETURN or goto at the top level also leaves only some of it for later rules.
      const rule = readRule(ahead[index]!);
      if ((rule.target === 'RETURN' || rule.goto) && ruleReach(rule, traffic, sets) !== 'none') remaining = 'some';
    }
  }
  return first;
}

/** The names of the ipsets that rules reachable from `ahead` match on (seaway's own included): what the driver may read for judging them. */
export function setsMatchedFrom(ahead: readonly string[], chains: ReadonlyMap<string, readonly string[]>): string[] {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (rules: readonly string[], depth: number) => {
    for (const text of rules) {
      const rule = readRule(text);
      for (const option of rule.options) if (option.module === 'set' && option.name === '--match-set' && option.values[0]) names.add(option.values[0]);
      const chain = rule.target === null ? undefined : chains.get(rule.target);
      if (chain && !seen.has(rule.target!) && depth < MAX_DEPTH) {
        seen.add(rule.target!);
        visit(chain, depth + 1);
      }
    }
  };
  visit(ahead, 0);
  return [...names].sort();
}
