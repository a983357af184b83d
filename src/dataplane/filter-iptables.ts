import type { FilterInput } from '../plan/filter-input.ts';
import {
  foreignSetsToRead, IPTABLES_TABLES, parseIptablesSave, planIptablesTables, renderIptables,
  type IptablesObserved, type IptablesTableName,
} from '../plan/filter-iptables.ts';
import type { KnownSets } from '../plan/datapath-hazards.ts';
import { parseCidrs, type Cidr } from '../model/cidr.ts';
import { OWNED_IPSETS, parseIpsetSave, planIpsetWrite, renderIpsets, type IpsetCreate, type SetMemberChange, type IpsetWrite, type IpsetsObserved } from '../plan/filter-ipset.ts';
import { iptablesRestore, iptablesSave, type IptablesMode, type ProcessRunner } from '../kernel/iptables.ts';
import { ipsetRestore, ipsetSave } from '../kernel/ipset.ts';
import { nftApply, type NftTableState } from '../kernel/nft.ts';
import type { NftWrite } from '../plan/filter-nft.ts';

export interface IptablesObservation {
  mode: IptablesMode;
  tables: IptablesObserved;
  ipsets: IpsetsObserved;
  /** Members of the foreign sets that rules ahead of seaway's jumps match on (see foreignSetsToRead). */
  foreignSets: KnownSets;
}

/** One write, planned before anything is written: an invocation of a kernel tool (set members: netlink requests). */
export type FilterWrite =
  /** See IpsetWrite: the sets to make and the members go over netlink when the plan gave them. */
  | ({ tool: 'ipset' } & IpsetWrite)
  | { tool: 'iptables'; mode: IptablesMode; script: string }
  /**
   * elements: the same change as the script, when it only changes the members of seaway's sets that
   * are there; staged: the table made dormant by nft, then filled and woken over netlink (NftStaged).
   */
  | ({ tool: 'nft' } & NftWrite);

/**
 * The filter's kernel calls that go over netlink rather than through a process: injected beside
 * the ProcessRunner so a test can fake the whole host (a faked runner alone would still read the
 * real kernel's sets and tables). createFilterDriver defaults to KERNEL_FILTER_NETLINK.
 */
export interface FilterNetlink {
  /** The iptables tables the flavour holds (kernel/iptables iptablesTableNames); null when that cannot be told (read with iptables-save). */
  iptablesTableNames(mode: IptablesMode): Promise<string[] | null>;
  /** Whether the table exists and is dormant, when netlink can tell; null when it cannot (list with nft). */
  nftTableState(family: string, table: string): Promise<NftTableState | null>;
  /** The named sets that exist; null when netlink cannot tell (read with ipset save). */
  ipsetList(names: readonly string[]): Promise<IpsetsObserved | null>;
  /** Makes sets; false when netlink could not (written with ipset restore). */
  ipsetCreate(sets: readonly IpsetCreate[]): Promise<boolean>;
  /** Adds and deletes members of a set that exists; false when netlink could not (written with ipset restore). */
  ipsetChangeMembers(set: string, add: readonly string[], del: readonly string[]): Promise<boolean>;
  /** Adds and deletes prefixes of seaway's nft sets, all in one transaction; false when netlink could not (written with nft -f). */
  nftChangeElements(changes: readonly SetMemberChange[]): Promise<boolean>;
  /**
   * Fills the empty sets of seaway's dormant table and wakes it, in one transaction, sent once
   * `tableMade` fulfils (nft making the table meanwhile); false when netlink could not (nothing changed).
   */
  nftFillAndWake(fill: NonNullable<NftWrite['staged']>['fill'], tableMade: Promise<unknown>): Promise<boolean>;
}

/** seaway's sets, over netlink; with `ipset save` where netlink cannot tell (no ipset support, an answer it does not understand). */
export async function observeOwnedIpsets(run: ProcessRunner, netlink: FilterNetlink): Promise<IpsetsObserved> {
  return (await netlink.ipsetList(OWNED_IPSETS)) ?? parseIpsetSave(await ipsetSave(run, OWNED_IPSETS));
}

/**
 * The flavour's rules as iptables-save prints them (`saved`), resolved once its process is started
 * so the caller may work while it runs; no process when the kernel says the flavour holds no table
 * (the save would print nothing): a host that speaks nft natively, or a first start in a namespace
 * no iptables has touched.
 */
async function startReadingIptables(run: ProcessRunner, mode: IptablesMode, netlink: FilterNetlink): Promise<{ saved: Promise<string> }> {
  const names = await netlink.iptablesTableNames(mode).catch(() => null);
  const saved = names !== null && names.length === 0 ? Promise.resolve('') : iptablesSave(run, mode);
  saved.catch(() => { /* the caller awaits it */ });
  return { saved };
}

export async function observeIptables(run: ProcessRunner, mode: IptablesMode, netlink: FilterNetlink): Promise<IptablesObservation> {
  const [save, ipsets] = await Promise.all([startReadingIptables(run, mode, netlink).then((reading) => reading.saved), observeOwnedIpsets(run, netlink)]);
  const tables = parseIptablesSave(save);
  return { mode, tables, ipsets, foreignSets: await readForeignSets(tables, netlink) };
}

/**
 * The members of the foreign sets rules ahead of seaway's jumps match on, over netlink (only
 * hash:net and hash:ip sets, whose members are CIDRs). Sets it cannot read stay unknown: rules
 * matching on them may take any traffic.
 */
async function readForeignSets(tables: IptablesObserved, netlink: FilterNetlink): Promise<KnownSets> {
  const names = foreignSetsToRead(tables);
  if (names.length === 0) return new Map();
  const sets = await netlink.ipsetList(names);
  const known = new Map<string, Cidr[]>();
  for (const [name, set] of sets ?? []) {
    if (set.type !== 'hash:net' && set.type !== 'hash:ip') continue;
    known.set(name, parseCidrs(set.members));
  }
  return known;
}

/** The writes a pass would make, and the foreign rules (if any) that made some of them necessary. */
export interface FilterPlan { writes: FilterWrite[]; rivals: string[] }

/**
 * Plans what is not intact: sets first (rules refer to them), then one iptables-restore holding a
 * section per table that drifted (each section commits as its own transaction). `wanted` are the
 * tables seaway should have rules in; owned chains in the others are removed. A null input removes
 * everything, sets last (a set cannot be destroyed while a rule refers to it).
 */
export function planIptablesRepair(
  input: FilterInput | null,
  observed: IptablesObservation,
  wanted: readonly IptablesTableName[] = IPTABLES_TABLES,
): FilterPlan {
  const writes: FilterWrite[] = [];
  const ipsets = planIpsetWrite(input ? renderIpsets(input) : null, observed.ipsets);
  if (input && ipsets) writes.push({ tool: 'ipset', ...ipsets });
  const { sections, rivals } = planIptablesTables(input ? renderIptables(input) : null, observed.tables, observed.foreignSets, wanted);
  if (sections.length > 0) writes.push({ tool: 'iptables', mode: observed.mode, script: sections.join('') });
  if (!input && ipsets) writes.push({ tool: 'ipset', ...ipsets });
  return { writes, rivals };
}

/**
 * Runs planned writes in order, each as one invocation; returns them as made. Ipsets to make,
 * their members and nft set elements the plan gave go over netlink (no process); the whole script
 * goes through `ipset restore` or `nft -f` when the plan gave none (a set to rebuild or destroy, a
 * chain to write) or netlink refuses, and is then returned without them, so the pass's account of
 * its changes names the tool.
 */
export async function runFilterWrites(run: ProcessRunner, writes: readonly FilterWrite[], netlink: FilterNetlink): Promise<FilterWrite[]> {
  const made: FilterWrite[] = [];
  for (const write of writes) {
    if (write.tool === 'ipset') made.push(await writeIpsets(run, write, netlink));
    else if (write.tool === 'iptables') { await iptablesRestore(run, write.mode, write.script); made.push(write); }
    else if (write.elements !== undefined && (await settled(netlink.nftChangeElements(write.elements)))) made.push(write);
    else if (write.staged !== undefined && (await writeNftStaged(run, write.staged, netlink))) made.push(write);
    else { await nftApply(run, write.script); made.push({ tool: 'nft', script: write.script }); }
  }
  return made;
}

/**
 * The table made dormant by nft, then filled and woken over netlink; false when either did not
 * happen: the whole script (the caller's next) then replaces whatever is there, and its failure,
 * if it fails too, is the one reported (an nft that cannot make a dormant table still gets one).
 */
async function writeNftStaged(run: ProcessRunner, staged: NonNullable<NftWrite['staged']>, netlink: FilterNetlink): Promise<boolean> {
  // nft starts at once; the fill is encoded while it runs (another core) and sent once it is done.
  const made = started((onInputClosed) => nftApply(run, staged.skeleton, onInputClosed));
  await made.inputClosed;
  const filled = settled(netlink.nftFillAndWake(staged.fill, made.done));
  return (await settled(made.done.then(() => true))) && filled;
}

/**
 * A process that reads its input to the end before it acts, started; `inputClosed` resolves once
 * that input is closed (or the process is done, for a runner that does not say): until then the
 * process waits on this thread's event loop, so a caller about to keep the thread busy awaits it.
 */
function started(start: (onInputClosed: () => void) => Promise<void>): { done: Promise<void>; inputClosed: Promise<void> } {
  const closed = Promise.withResolvers<void>();
  const done = start(closed.resolve);
  done.then(() => closed.resolve(), () => closed.resolve());
  return { done, inputClosed: closed.promise };
}

/**
 * One write of the sets, as runFilterWrites makes it; the write as made. `rulesMayGo` is called
 * once the rules that match the sets may be written: the sets made and filled, but for those the
 * plan lets fill beside the rules (fillBesideRules), whose members go in once it resolves (the
 * rules' process started: it runs on the other core while this thread encodes them). When netlink
 * refuses, the restore writes the whole script first.
 */
async function writeIpsets(
  run: ProcessRunner, write: FilterWrite & { tool: 'ipset' }, netlink: FilterNetlink, rulesMayGo: () => Promise<void> = async () => {},
): Promise<FilterWrite> {
  if (write.members !== undefined) {
    const beside = new Set(write.fillBesideRules);
    const made = write.creates === undefined || (await settled(netlink.ipsetCreate(write.creates)));
    if (made && (await changeMembersOverNetlink(write.members.filter((c) => !beside.has(c.set)), netlink))) {
      await rulesMayGo();
      if (await changeMembersOverNetlink(write.members.filter((c) => beside.has(c.set)), netlink)) return write;
    }
  }
  // -exist: members netlink wrote already are taken again without complaint.
  await ipsetRestore(run, write.script);
  return { tool: 'ipset', script: write.script };
}

/** True when netlink took every set's change; a refusal or an error (all settled first) means the restore writes it. */
async function changeMembersOverNetlink(changes: readonly SetMemberChange[], netlink: FilterNetlink): Promise<boolean> {
  const done = await Promise.all(changes.map((c) => settled(netlink.ipsetChangeMembers(c.set, c.add, c.del))));
  return done.every(Boolean);
}

/** A netlink write's answer, an error being a refusal: the restore writes it then. */
const settled = (answer: Promise<boolean>): Promise<boolean> => answer.catch(() => false);

/** A one-line account of a planned write, for logs: which tool and the first lines of its script. */
export function describeWrite(write: FilterWrite): string {
  // Named for what wrote it: netlink (sets, members, elements) or the tool it fell back to.
  const tool = write.tool === 'iptables' ? `iptables-${write.mode}-restore`
    : write.tool === 'nft' ? (write.elements ? 'nft set elements' : write.staged ? 'nft -f dormant, sets filled and woken' : 'nft -f')
    : !write.members ? 'ipset restore' : write.creates ? 'ipset sets and members' : 'ipset members';
  const { head, count } = scriptHead(write.script, 3);
  return `${tool}: ${head.join('; ')}${count > head.length ? `; ... (${count} lines)` : ''}`;
}

/**
 * A script's first `wanted` lines and how many lines it has, blank lines and COMMIT left out.
 * Scanned, not split: a fresh set's script is 10,000 lines, and the pass that wrote it describes it
 * (splitting them took about 7 ms of a first apply).
 */
function scriptHead(script: string, wanted: number): { head: string[]; count: number } {
  const head: string[] = [];
  let count = 0;
  for (let start = 0; start < script.length;) {
    const newline = script.indexOf('\n', start);
    const end = newline < 0 ? script.length : newline;
    // Only the lines shown are cut out; the others are told from their first characters.
    const blank = end === start;
    const commit = end - start === 6 && script.startsWith('COMMIT', start);
    if (!blank && !commit) {
      if (head.length < wanted) head.push(script.slice(start, end));
      count++;
    }
    start = end + 1;
  }
  return { head, count };
}

/** Waits for every promise to settle, then throws the first failure: no write is left running unobserved. */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * The iptables backend's pass, pipelined: the sets (over netlink) and the iptables rules (with
 * iptables-save) are read while this process validates; the sets' write starts first (the slow one
 * at scale), and the rules and the nft state are planned while it runs; the iptables-restore
 * follows once the sets exist, beside the filling of the sets the plan lets fill alongside
 * (IpsetWrite.fillBesideRules). Writes the same as planIptablesRepair plus the stale nft table's
 * removal, in an order that is always safe: sets made before the rules that match them, rules
 * before the sets they no longer need are destroyed. Returns the writes
 * made (in no particular order) and the foreign rules that made the iptables write necessary.
 */
export async function applyIptablesPipelined(
  run: ProcessRunner,
  mode: IptablesMode,
  validate: () => FilterInput | null,
  observeStaleNft: () => Promise<string | null>,
  netlink: FilterNetlink,
): Promise<{ writes: FilterWrite[]; rivals: string[] }> {
  // Both reads start before validation, the rules' (a process, unless the flavour holds no table)
  // to run beside it and the sets' writes.
  const seeingSets = observeOwnedIpsets(run, netlink);
  seeingSets.catch(() => { /* awaited below unless validation throws first */ });
  const saving = (await startReadingIptables(run, mode, netlink)).saved;
  const input = validate();
  const ipsets = planIpsetWrite(input ? renderIpsets(input) : null, await seeingSets);
  // The rules wait for the sets to exist, not for all their members (fillBesideRules): the restore
  // runs on the other core while the 10,000 remote CIDRs go in over netlink.
  const setsReady = Promise.withResolvers<void>();
  const rulesStarted = Promise.withResolvers<void>();
  const settingSets = input && ipsets
    ? writeIpsets(run, { tool: 'ipset', ...ipsets }, netlink, () => { setsReady.resolve(); return rulesStarted.promise; })
    : Promise.resolve(null);
  settingSets.then(() => setsReady.resolve(), setsReady.reject);
  const planningRules = saving.then(async (save) => {
    const tables = parseIptablesSave(save);
    return planIptablesTables(input ? renderIptables(input) : null, tables, await readForeignSets(tables, netlink));
  });
  const removingStaleNft = observeStaleNft().then(async (script) => {
    if (script) await nftApply(run, script);
    return script;
  });
  let planned: [{ sections: string[]; rivals: string[] }, string | null, void];
  try {
    planned = await settleAll<typeof planned>([planningRules, removingStaleNft, setsReady.promise]);
  } catch (error) {
    rulesStarted.resolve(); // no rules to wait for: the sets' write ends
    await settingSets.catch(() => { /* the first failure is the one reported */ });
    throw error;
  }
  const [{ sections, rivals }, staleNft] = planned;
  const rules = sections.join('');
  const restoring = rules !== '' ? started((onInputClosed) => iptablesRestore(run, mode, rules, onInputClosed)) : null;
  // The sets' members are encoded once the restore has its input: it works on the other core meanwhile.
  if (restoring) await restoring.inputClosed;
  rulesStarted.resolve();
  const [setsWritten] = await settleAll<[FilterWrite | null, void]>([settingSets, restoring?.done ?? Promise.resolve()]);
  // Destroyed after the rules that matched them are gone.
  if (!input && ipsets) await ipsetRestore(run, ipsets.script);
  const written: FilterWrite[] = [];
  if (setsWritten) written.push(setsWritten);
  else if (ipsets) written.push({ tool: 'ipset', script: ipsets.script });
  if (rules !== '') written.push({ tool: 'iptables', mode, script: rules });
  if (staleNft) written.push({ tool: 'nft', script: staleNft });
  return { writes: written, rivals };
}
