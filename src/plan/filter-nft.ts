import { OWNERSHIP } from '../model/ownership.ts';
import type { FilterInput } from './filter-input.ts';
import type { SetMemberChange } from './filter-ipset.ts';

export const NFT_FAMILY = 'ip';
export const NFT_TABLE = OWNERSHIP.nftTable;
const T = `${NFT_FAMILY} ${NFT_TABLE}`;

export interface NftChainSpec {
  name: string;
  type: 'filter' | 'nat';
  hook: 'input' | 'forward' | 'postrouting';
  /** Numeric priority: srcnat is 100, filter 0, mangle -150; seaway sits one ahead of each. */
  prio: number;
  policy: 'accept';
  /** Rules in nft's own text spelling, as observed rules are decompiled to. */
  rules: string[];
}

export interface NftDesired {
  sets: Map<string, string[]>;
  chains: NftChainSpec[];
}

const NFT_SETS = { local: 'localcidrs', remote: 'remotecidrs', nodes: 'nodeaddrs', gatewayHealth: 'gwhealth' } as const;
const VTEP_NETWORK = `${OWNERSHIP.vtepFirstOctet}.0.0.0/8`;

/**
 * Renders seaway's nft table. NAT exemption is an identity `snat to ip saddr`, not `accept`: an accept
 * in one nat base chain does not stop a later one (the CNI's masquerade at srcnat) from binding, a
 * NAT binding does. Forward accepts only what leaves through vx-submariner and input only VXLAN from
 * the cluster's nodes, as the iptables backend does. They cannot overrule an iptables DROP in another
 * base chain of the same hook; the driver adds an iptables shim for that. With an echo limit (the
 * gateway's) input also drops echo requests to its address from remote ranges beyond the limit,
 * the senders in the `gwhealth` set exempt: a drop in any base chain is final, so it holds
 * whatever later chains accept.
 */
export function renderNft(input: FilterInput): NftDesired {
  const L = `@${NFT_SETS.local}`;
  const R = `@${NFT_SETS.remote}`;
  const dev = JSON.stringify(input.vxlanDevice);
  const nat = [`ip saddr ${L} ip daddr ${R} snat to ip saddr`, `ip saddr ${R} ip daddr ${L} snat to ip saddr`];
  if (input.cniAddress) nat.push(`ip saddr ${VTEP_NETWORK} oifname ${dev} snat to ${input.cniAddress}`);
  const clamp = input.mssClamp.mode === 'pmtu' ? 'rt mtu' : String(input.mssClamp.mss);
  const syn = 'tcp flags & (syn | rst) == syn';
  const sets = new Map<string, string[]>([[NFT_SETS.local, input.localCidrs], [NFT_SETS.remote, input.remoteCidrs], [NFT_SETS.nodes, input.nodeAddresses]]);
  const filterInput = [`udp dport ${input.vxlanPort} ip saddr @${NFT_SETS.nodes} accept`];
  const limit = input.echoLimit;
  if (limit) {
    sets.set(NFT_SETS.gatewayHealth, limit.exempt);
    // Spelled as nft lists it back (decompileRule), the burst always given so it reads back the same.
    filterInput.push(`icmp type echo-request ip daddr ${limit.address} ip saddr ${R} ip saddr != @${NFT_SETS.gatewayHealth} `
      + `limit rate over ${limit.perSecond}/second burst ${limit.burst} packets drop`);
  }
  return {
    sets,
    chains: [
      { name: 'nat_postrouting', type: 'nat', hook: 'postrouting', prio: 99, policy: 'accept', rules: nat },
      { name: 'filter_input', type: 'filter', hook: 'input', prio: -1, policy: 'accept', rules: filterInput },
      { name: 'filter_forward', type: 'filter', hook: 'forward', prio: -1, policy: 'accept', rules: [`oifname ${dev} accept`] },
      {
        name: 'mangle_postrouting', type: 'filter', hook: 'postrouting', prio: -151, policy: 'accept',
        rules: [
          `${syn} ip saddr ${L} ip daddr ${R} tcp option maxseg size set ${clamp}`,
          `${syn} ip saddr ${R} ip daddr ${L} tcp option maxseg size set ${clamp}`,
        ],
      },
    ],
  };
}

const chainHeader = (c: NftChainSpec) => `type ${c.type} hook ${c.hook} priority ${c.prio}; policy ${c.policy};`;
const setDecl = (name: string, members: readonly string[]) =>
  `add set ${T} ${name} { type ipv4_addr; flags interval; ${members.length ? `elements = { ${members.join(', ')} }; ` : ''}}`;

/**
 * The whole table, replacing whatever is there in the same transaction (create-if-missing, delete,
 * define). `dormantAndEmpty`: the table made dormant (no base chain sees a packet) with its sets
 * empty, the first half of a staged write (NftStaged).
 */
export function renderNftTable(desired: NftDesired, dormantAndEmpty = false): string {
  const lines = [`add table ${T}`, `delete table ${T}`, dormantAndEmpty ? `add table ${T} { flags dormant; }` : `add table ${T}`];
  for (const [name, members] of desired.sets) lines.push(setDecl(name, dormantAndEmpty ? [] : members));
  for (const c of desired.chains) {
    lines.push(`add chain ${T} ${c.name} { ${chainHeader(c)} }`);
    for (const rule of c.rules) lines.push(`add rule ${T} ${c.name} ${rule}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface NftObservedChain { type?: string; hook?: string; prio?: number; policy?: string; rules: string[] }
export interface NftObserved {
  sets: Map<string, { type: string; flags: string[]; members: Set<string> }>;
  chains: Map<string, NftObservedChain>;
  /** The table is dormant: its chains see no packet (a staged write cut off before its fill woke it). */
  dormant?: boolean;
}

/** seaway's table as the kernel holds it after `desired` was written whole: what a vouched-for kernel is diffed against. */
export function nftAsWritten(desired: NftDesired): NftObserved {
  return {
    sets: new Map([...desired.sets].map(([name, members]) => [name, { type: 'ipv4_addr', flags: ['interval'], members: new Set(members) }])),
    chains: new Map(desired.chains.map((c) => [c.name, { type: c.type, hook: c.hook, prio: c.prio, policy: c.policy, rules: c.rules }])),
  };
}

export class NftParseError extends Error {
  constructor(why: string) {
    super(`nft -j output: ${why}`);
    this.name = 'NftParseError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

function element(e: Json): string {
  if (typeof e === 'string') return e.includes('/') ? e : `${e}/32`;
  if (isObject(e) && isObject(e.prefix)) return `${String(e.prefix.addr)}/${String(e.prefix.len)}`;
  if (isObject(e) && isObject(e.elem)) return element(e.elem.val ?? null);
  return `?${JSON.stringify(e)}`;
}

function operand(e: Json | undefined, quoteStrings: boolean): string {
  if (typeof e === 'string') return quoteStrings && !e.startsWith('@') ? JSON.stringify(e) : e;
  if (typeof e === 'number') return String(e);
  if (Array.isArray(e)) return `(${e.map((x) => operand(x, false)).join(' | ')})`;
  if (isObject(e)) {
    if (isObject(e.payload)) return `${String(e.payload.protocol)} ${String(e.payload.field)}`;
    if (isObject(e.meta)) return String(e.meta.key);
    if (isObject(e.rt)) return `rt ${String(e.rt.key)}`;
    if (isObject(e.prefix)) return `${String(e.prefix.addr)}/${String(e.prefix.len)}`;
    if (Array.isArray(e['&']) && e['&'].length === 2) return `${operand(e['&'][0], false)} & ${operand(e['&'][1], false)}`;
  }
  return `?${JSON.stringify(e)}`;
}

/**
 * A packet-rate limit as `limit rate [over ]R/PER burst B packets`: the burst always given (nft's
 * text listing leaves out its default of 5; the JSON always has it). A byte-rate limit, or one
 * missing a field, is not seaway's: a "?" token.
 */
function limitText(limit: { [key: string]: Json }): string {
  const { rate, burst, per, inv } = limit;
  const packets = limit.rate_unit === undefined || limit.rate_unit === 'packets';
  if (!packets || typeof rate !== 'number' || typeof burst !== 'number' || typeof per !== 'string') return `?${JSON.stringify({ limit })}`;
  return `limit rate ${inv === true ? 'over ' : ''}${rate}/${per} burst ${burst} packets`;
}

/** Spells one rule's JSON expressions the way renderNft writes them; anything unfamiliar yields a "?" token that never matches. */
export function decompileRule(exprs: Json[]): string {
  return exprs.map((x) => {
    if (!isObject(x)) return `?${JSON.stringify(x)}`;
    if (isObject(x.match)) {
      const { op, left, right } = x.match;
      const leftText = operand(left, false);
      const quote = isObject(left) && isObject(left.meta) && /ifname$/.test(String(left.meta.key));
      const isMasked = isObject(left) && Array.isArray(left['&']);
      const opText = op === '==' ? (isMasked ? ' == ' : ' ') : op === 'in' ? ' ' : ` ${String(op)} `;
      return `${leftText}${opText}${operand(right, quote)}`;
    }
    if (isObject(x.limit)) return limitText(x.limit);
    if ('accept' in x) return 'accept';
    if ('drop' in x) return 'drop';
    if (isObject(x.snat)) return `snat to ${operand(x.snat.addr, false)}`;
    if (isObject(x.mangle) && isObject(x.mangle.key) && isObject(x.mangle.key['tcp option'])) {
      const opt = x.mangle.key['tcp option'];
      return `tcp option ${String(opt.name)} ${String(opt.field)} set ${operand(x.mangle.value, false)}`;
    }
    return `?${JSON.stringify(x)}`;
  }).join(' ');
}

/** Parses `nft -j list table ip seaway`. */
export function parseNftJson(text: string): NftObserved {
  let doc: Json;
  try { doc = JSON.parse(text) as Json; } catch (error) { throw new NftParseError(`not JSON (${(error as Error).message})`); }
  if (!isObject(doc) || !Array.isArray(doc.nftables)) throw new NftParseError('no "nftables" array');
  const observed: NftObserved = { sets: new Map(), chains: new Map() };
  const rules: { chain: string; exprs: Json[] }[] = [];
  for (const item of doc.nftables) {
    if (!isObject(item)) throw new NftParseError(`unexpected item ${JSON.stringify(item)}`);
    if (isObject(item.table)) {
      // Where nft says it (1.0.6 prints the family here instead; the driver asks netlink too).
      const flags = item.table.flags;
      if (flags === 'dormant' || (Array.isArray(flags) && flags.includes('dormant'))) observed.dormant = true;
    } else if (isObject(item.set)) {
      const s = item.set;
      observed.sets.set(String(s.name), {
        type: String(s.type),
        flags: Array.isArray(s.flags) ? s.flags.map(String) : [],
        members: new Set(Array.isArray(s.elem) ? s.elem.map(element) : []),
      });
    } else if (isObject(item.chain)) {
      const c = item.chain;
      observed.chains.set(String(c.name), {
        type: typeof c.type === 'string' ? c.type : undefined,
        hook: typeof c.hook === 'string' ? c.hook : undefined,
        prio: typeof c.prio === 'number' ? c.prio : undefined,
        policy: typeof c.policy === 'string' ? c.policy : undefined,
        rules: [],
      });
    } else if (isObject(item.rule)) {
      rules.push({ chain: String(item.rule.chain), exprs: Array.isArray(item.rule.expr) ? item.rule.expr : [] });
    }
  }
  for (const r of rules) {
    const chain = observed.chains.get(r.chain);
    if (!chain) throw new NftParseError(`rule in unknown chain ${r.chain}`);
    chain.rules.push(decompileRule(r.exprs));
  }
  return observed;
}

/**
 * The `nft -f` script that brings seaway's table to `desired` (null: delete it). Set members and chain
 * rules are repaired in place when only they drifted; anything structural (table gone, a chain's
 * hook or priority changed, foreign chains or sets in the table) rewrites the table whole. Always
 * one transaction; null when nothing differs.
 */
export function planNft(desired: NftDesired | null, observed: NftObserved | null): string | null {
  return planNftWrite(desired, observed)?.script ?? null;
}

/**
 * planNft's script and, when it only changes the members of sets that are there, the same change
 * as elements to add and delete (netlink's, without nft: nft reads a whole set of 10,000 before it
 * changes one element). null when nothing differs.
 */
export function planNftWrite(desired: NftDesired | null, observed: NftObserved | null): NftWrite | null {
  if (desired === null) return observed ? { script: `delete table ${T}\n` } : null;
  if (!observed) return { script: renderNftTable(desired), ...staged(desired) };
  const structural =
    observed.dormant === true ||
    [...observed.sets.keys()].some((name) => !desired.sets.has(name)) ||
    [...observed.chains.keys()].some((name) => !desired.chains.some((c) => c.name === name)) ||
    [...observed.sets.values()].some((s) => s.type !== 'ipv4_addr' || !s.flags.includes('interval')) ||
    desired.chains.some((c) => {
      const seen = observed.chains.get(c.name);
      return seen && (seen.type !== c.type || seen.hook !== c.hook || seen.prio !== c.prio || seen.policy !== c.policy);
    });
  if (structural) return { script: renderNftTable(desired) };
  const lines: string[] = [];
  const elements: SetMemberChange[] = [];
  /** A set or a chain to make or rewrite: only nft does those. */
  let nftOnly = false;
  for (const [name, members] of desired.sets) {
    const seen = observed.sets.get(name);
    if (!seen) { lines.push(setDecl(name, members)); nftOnly = true; continue; }
    const wanted = new Set(members);
    const del = [...seen.members].filter((m) => !wanted.has(m)).sort();
    const add = members.filter((m) => !seen.members.has(m));
    if (add.length > 0 || del.length > 0) elements.push({ set: name, add, del });
    // nft deletes from a large interval set slowly (130 ms for 10 of 10,000, against 85 ms to
    // flush and refill it whole), so a set that loses members is refilled; still one transaction.
    if (del.length > 0) lines.push(`flush set ${T} ${name}`);
    const added = del.length > 0 ? members : add;
    if (added.length) lines.push(`add element ${T} ${name} { ${added.join(', ')} }`);
  }
  for (const c of desired.chains) {
    const seen = observed.chains.get(c.name);
    if (seen && seen.rules.length === c.rules.length && seen.rules.every((r, i) => r === c.rules[i])) continue;
    nftOnly = true;
    if (seen) lines.push(`flush chain ${T} ${c.name}`);
    else lines.push(`add chain ${T} ${c.name} { ${chainHeader(c)} }`);
    for (const rule of c.rules) lines.push(`add rule ${T} ${c.name} ${rule}`);
  }
  if (lines.length === 0) return null;
  const script = `${lines.join('\n')}\n`;
  const count = elements.reduce((sum, c) => sum + c.add.length + c.del.length, 0);
  return nftOnly || count > NFT_ELEMENT_CHANGES_MAX ? { script } : { script, elements };
}

/**
 * A table to make where there is none, in two transactions: nft makes it dormant with its chains,
 * rules and empty sets (`skeleton`: about 10 ms), then netlink fills the sets and wakes the table
 * in one (kernel/nft.ts nftFillAndWake). nft spends most of a whole table's 80 ms on 10,000
 * prefixes. No packet meets the table before it is whole: dormant, its chains see none. Only
 * where nothing was there: replacing a table that is there stays one nft transaction, so what
 * it did holds until the new one does. `script` (the whole table) is the fallback when netlink
 * does not take the fill; it replaces the dormant table.
 */
export interface NftStaged { skeleton: string; fill: { set: string; add: readonly string[] }[] }

/** planNft's script, and how it may be written without nft doing all of it (see planNftWrite). */
export interface NftWrite { script: string; elements?: SetMemberChange[]; staged?: NftStaged }

/** Prefixes a staged fill takes at most: one netlink send (kernel/nfnetlink TRANSACTION_MAX_BYTES) holds about 25,000. */
export const NFT_FILL_PREFIXES_MAX = 20_000;

function staged(desired: NftDesired): { staged?: NftStaged } {
  const fill: NftStaged['fill'] = [];
  let prefixes = 0;
  desired.sets.forEach((add, set) => {
    prefixes += add.length;
    if (add.length > 0) fill.push({ set, add });
  });
  // Nothing to fill: one nft transaction is all there is to it.
  if (prefixes === 0 || prefixes > NFT_FILL_PREFIXES_MAX) return {};
  return { staged: { skeleton: renderNftTable(desired, true), fill } };
}

/**
 * More prefixes than this in one change are nft's to write (a refill in one transaction): netlink
 * writes a change as one transaction in one send, which holds about 25,000 (kernel/nft.ts
 * nftChangeElements), the bound a staged fill has too.
 */
export const NFT_ELEMENT_CHANGES_MAX = NFT_FILL_PREFIXES_MAX;

/**
 * iptables-nft creates a built-in chain (and its table) the first time a rule goes into it and never
 * removes it. After cleanup has removed seaway's jumps from `hooks`, the ones left empty with an
 * accept policy are seaway's leftovers: this deletes them, and a table left with no chains and no
 * sets. Deleting a chain someone has meanwhile added a rule to fails the whole transaction, so
 * nothing of anyone else's is ever lost. null when nothing is left over.
 */
export function planIptablesNftLeftovers(
  hooks: ReadonlyArray<{ table: string; hook: string }>,
  tables: ReadonlyMap<string, NftObserved | null>,
): string | null {
  const lines: string[] = [];
  for (const [table, observed] of tables) {
    if (!observed) continue;
    const candidates = hooks.filter((h) => h.table === table).map((h) => h.hook);
    const empty = candidates.filter((name) => {
      const chain = observed.chains.get(name);
      return chain && chain.hook !== undefined && chain.policy === 'accept' && chain.rules.length === 0;
    });
    if (empty.length === 0) continue;
    if (empty.length === observed.chains.size && observed.sets.size === 0) lines.push(`delete table ${NFT_FAMILY} ${table}`);
    else for (const name of empty) lines.push(`delete chain ${NFT_FAMILY} ${table} ${name}`);
  }
  return lines.length === 0 ? null : `${lines.join('\n')}\n`;
}

/** The nf_tables tables whose changes can touch seaway's filter, and whether their notifications cover all of it. */
export interface FilterNotifications {
  tables: string[];
  /** False while part of the filter sends no notifications (iptables-legacy rules, ipsets): it is also polled. */
  complete: boolean;
}

/**
 * Where nf_tables notifications can report drift of seaway's filter: its own nft table (a stale one
 * under the iptables backend), and iptables-nft's tables when iptables is nft-flavoured. They cover
 * everything only with the nftables backend, nft-flavoured iptables and no iptables shim (the shim
 * matches ipsets); then a foreign DROP policy that would call for the shim is itself an `ip filter`
 * change.
 */
export function filterNotifications(backend: 'iptables' | 'nftables', iptablesMode: 'legacy' | 'nft', shimInUse: boolean): FilterNotifications {
  const iptablesTables = iptablesMode === 'nft' ? (backend === 'nftables' ? ['filter'] : ['nat', 'filter', 'mangle']) : [];
  return {
    tables: [T, ...iptablesTables.map((table) => `${NFT_FAMILY} ${table}`)],
    complete: backend === 'nftables' && iptablesMode === 'nft' && !shimInUse,
  };
}
