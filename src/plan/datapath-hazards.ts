/**
 * Which foreign iptables rules, ahead of seaway's jump in a built-in chain, would break the
 * datapath: "position by meaning, not by index" (DESIGN.md section 2). Another agent's jump
 * first in nat POSTROUTING is no drift while nothing it leads to can masquerade pod traffic
 * between clusters; it is when something can. Pure.
 */
import { containsCidr, overlaps, parseCidr, type Cidr } from '../model/cidr.ts';
import { parseRule, RuleParseError, type ParsedRule, type RuleOption } from './iptables-rule.ts';

/** Traffic seaway's rules in one hook exist for: from one set of CIDRs to another. */
export interface TrafficClass {
  src: { set: string; cidrs: readonly Cidr[] };
  dst: { set: string; cidrs: readonly Cidr[] };
  /** The device it leaves through, where the hook's traffic always uses one (FORWARD: vx-submariner). */
  out?: string;
  /** The only protocol that matters here (the MSS clamp: tcp). */
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
  /** seaway's own sets (by name) that a `-m set` match can be judged by: the classes name them. */
  ownSets: ReadonlySet<string>;
}

/** How much of a traffic class a rule's conditions can match. */
export type Reach = 'none' | 'some' | 'all';

const narrower = (a: Reach, b: Reach): Reach => (a === 'none' || b === 'none' ? 'none' : a === 'some' || b === 'some' ? 'some' : 'all');

function addressReach(value: string, cidrs: readonly Cidr[], negated: boolean): Reach {
  if (cidrs.length === 0) return 'none';
  const parsed = parseCidr(value.includes('/') ? value : `${value}/32`);
  if (!parsed.ok) return 'some';
  const x = parsed.cidr;
  const covered = cidrs.every((c) => containsCidr(x, c));
  const touched = cidrs.some((c) => overlaps(x, c));
  if (!negated) return covered ? 'all' : touched ? 'some' : 'none';
  return !touched ? 'all' : covered ? 'none' : 'some';
}

function exact(match: boolean, negated: boolean): Reach {
  return match !== negated ? 'all' : 'none';
}

/** iptables interface names end in "+" for a prefix match. */
function interfaceMatches(pattern: string, device: string): boolean {
  return pattern.endsWith('+') ? device.startsWith(pattern.slice(0, -1)) : pattern === device;
}

const PROTOCOL_NUMBERS: Record<string, string> = { tcp: '6', udp: '17', icmp: '1' };

function optionReach(option: RuleOption, traffic: TrafficClass, hazard: HookHazard): Reach {
  const value = option.values[0] ?? '';
  if (option.module === '') {
    switch (option.name) {
      case '-s': return addressReach(value, traffic.src.cidrs, option.negated);
      case '-d': return addressReach(value, traffic.dst.cidrs, option.negated);
      case '-o': return traffic.out === undefined ? 'some' : exact(interfaceMatches(value, traffic.out), option.negated);
      case '-p': {
        const protocol = value.toLowerCase();
        if (protocol === 'all' || protocol === '0') return option.negated ? 'none' : 'all';
        if (traffic.proto === undefined) return 'some';
        return exact(protocol === traffic.proto || protocol === PROTOCOL_NUMBERS[traffic.proto], option.negated);
      }
      default: return 'some'; // -i: the interface traffic arrives on is not known here
    }
  }
  if (option.module === 'comment') return 'all';
  if (option.module === 'set' && option.name === '--match-set' && hazard.ownSets.has(value)) {
    const direction = option.values[1];
    const side = direction === 'src' ? traffic.src : direction === 'dst' ? traffic.dst : null;
    // The planner keeps seaway's sets disjoint, so one of them names either all of a side or none of it.
    if (side) return exact(side.set === value, option.negated);
  }
  return 'some';
}

/** How much of `traffic` a rule's conditions can match ('some' for every condition not understood). */
export function ruleReach(rule: ParsedRule, traffic: TrafficClass, hazard: HookHazard): Reach {
  let reach: Reach = 'all';
  for (const option of rule.options) {
    reach = narrower(reach, optionReach(option, traffic, hazard));
    if (reach === 'none') return 'none';
  }
  return reach;
}

/** Ends traversal of the whole hook for the packets they take. */
const FINAL_VERDICTS = new Set(['ACCEPT', 'DROP', 'REJECT']);
const MAX_DEPTH = 16;

interface ScanResult { rival: string | null; ended: boolean }

/**
 * The first rule in `rules` (and in the chains they jump to) that breaks `traffic`, given that
 * `reach` of it gets this far. ended: all of it leaves the chain here (a RETURN or a final
 * verdict that takes all of it), so nothing later can touch it.
 */
function scan(
  rules: readonly string[], traffic: TrafficClass, reach: Reach, hazard: HookHazard,
  chains: ReadonlyMap<string, readonly string[]>, visiting: Set<string>, depth: number,
): ScanResult & { returned: boolean } {
  for (const text of rules) {
    let rule: ParsedRule;
    try {
      rule = parseRule(text);
    } catch (error) {
      if (!(error instanceof RuleParseError)) throw error;
      // A rule seaway cannot read is trusted as little as one it could: it may take any of the traffic.
      if (hazard.certainty === 'some' && [...hazard.breaking].some((t) => text.includes(` -j ${t}`))) return { rival: text, ended: true, returned: false };
      continue;
    }
    const r = narrower(reach, ruleReach(rule, traffic, hazard));
    if (r === 'none' || rule.target === null) continue;
    const target = rule.target;
    if (hazard.breaking.has(target)) {
      if (hazard.certainty === 'some' || r === 'all') return { rival: text, ended: true, returned: false };
      continue;
    }
    if (FINAL_VERDICTS.has(target)) {
      if (r === 'all') return { rival: null, ended: true, returned: false };
      continue;
    }
    if (target === 'RETURN') {
      if (r === 'all') return { rival: null, ended: false, returned: true };
      continue;
    }
    const chain = chains.get(target);
    if (chain === undefined || visiting.has(target) || depth >= MAX_DEPTH) continue; // an extension target (LOG, MARK, ...) that lets it pass
    visiting.add(target);
    const inner = scan(chain, traffic, r, hazard, chains, visiting, depth + 1);
    visiting.delete(target);
    if (inner.rival !== null) return { rival: text === inner.rival ? text : `${text} -> ${inner.rival}`, ended: true, returned: false };
    if (inner.ended) return { ...inner, returned: false };
    // A goto that all of the traffic takes never comes back to this chain.
    if (rule.goto && r === 'all') return { rival: null, ended: false, returned: true };
  }
  return { rival: null, ended: false, returned: false };
}

/**
 * The first foreign rule among `ahead` (the rules before seaway's jump in a built-in chain, in
 * order) that breaks the datapath's traffic at this hook, followed through the chains it jumps
 * to (`chains`: the table's chains by name); its text (and the chain path to the breaking rule),
 * or null when none does.
 */
export function firstBreakingRule(ahead: readonly string[], hazard: HookHazard, chains: ReadonlyMap<string, readonly string[]>): string | null {
  for (const traffic of hazard.classes) {
    const found = scan(ahead, traffic, 'all', hazard, chains, new Set(), 0);
    if (found.rival !== null) return found.rival;
  }
  return null;
}
