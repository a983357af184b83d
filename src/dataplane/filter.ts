import type { DesiredFilter } from '../model/desired-state.ts';
import { onlySetMembersDiffer, validateFilter, type FilterInput } from '../plan/filter-input.ts';
import {
  chooseIptablesMode, hooksWithOwnedJumps, parseIptablesSave, planIptablesTables, iptablesFilterCanDrop, type IptablesModeDetection,
} from '../plan/filter-iptables.ts';
import { planIpsetChange, planIpsetRestore, renderIpsets } from '../plan/filter-ipset.ts';
import { NFT_FAMILY, NFT_TABLE, filterNotifications, nftAsWritten, parseNftJson, planIptablesNftLeftovers, planNft, planNftWrite, renderNft, type FilterNotifications, type NftObserved } from '../plan/filter-nft.ts';
import { iptablesRestore, iptablesSave, iptablesSaveIfUsable, iptablesTableNames, type IptablesMode, type ProcessRunner } from '../kernel/iptables.ts';
import { ipsetChangeMembers, ipsetCreate, ipsetList, ipsetRestore } from '../kernel/ipset.ts';
import { nftApply, nftChangeElements, nftFillAndWake, nftListTable, nftListTables, nftTableState } from '../kernel/nft.ts';
import {
  applyIptablesPipelined, describeWrite, observeIptables, observeOwnedIpsets, planIptablesRepair, runFilterWrites, settleAll,
  type FilterNetlink, type FilterPlan, type FilterWrite, type IptablesObservation,
} from './filter-iptables.ts';

export type FilterBackend = 'iptables' | 'nftables';

export type FilterObservation =
  | { backend: 'iptables'; iptables: IptablesObservation; nftTable: NftObserved | null }
  | { backend: 'nftables'; nftTable: NftObserved | null; iptables: IptablesObservation; shimNeeded: boolean };

export interface FilterDriver {
  readonly backend: FilterBackend;
  /** The iptables flavour written to (iptables backend) or shimmed into (nftables backend). */
  readonly iptablesMode: IptablesMode;
  /** Reads what seaway owns in the kernel now. */
  observe(): Promise<FilterObservation>;
  /**
   * Makes the kernel match `desired` (null: remove everything), writing only what is not intact.
   * Invalid input throws FilterInputError before anything is written. rivals (present when there
   * are any): the foreign rules whose place ahead of seaway's jumps made a write necessary;
   * changes (present when something was written): one line per write, as drift() says it.
   * `vouched`: the caller vouches that the kernel holds what the last apply wrote, untouched since
   * (its drift watch said nothing): when only set members changed, their difference from the last
   * input is written without reading the kernel.
   */
  apply(desired: DesiredFilter | null, vouched?: boolean): Promise<FilterApplied>;
  /**
   * What is not intact compared with the last desired state given to apply, one line per write a
   * pass would make; nothing is written. Empty when intact or before the first apply.
   */
  drift(): Promise<string[]>;
  /** Removes every chain, jump, set and table seaway owns, in both iptables flavours and nft; idempotent. */
  cleanup(): Promise<{ writes: number }>;
  /** Which nf_tables notifications can report drift of the filter as it is now (as of its last observation). */
  notifications(): FilterNotifications;
  /** Writes since the driver was made: process invocations (restore, ipset restore, nft -f) and set-member changes over netlink. */
  readonly writes: number;
}

export interface FilterApplied { writes: number; rivals?: string[]; changes?: string[] }

export interface FilterDriverDeps {
  run: ProcessRunner;
  /** Skip detection and use this iptables flavour. */
  iptablesMode?: IptablesMode;
  /** The netlink calls (nft table presence, ipset list, set members); the kernel's own unless a test fakes the host. */
  netlink?: FilterNetlink;
}

/** The real netlink calls, the default wherever a driver is built. */
export const KERNEL_FILTER_NETLINK: FilterNetlink = {
  iptablesTableNames, nftTableState, ipsetList, ipsetCreate, ipsetChangeMembers,
  nftChangeElements: (changes) => nftChangeElements(NFT_FAMILY, NFT_TABLE, changes),
  nftFillAndWake: (fill, tableMade) => nftFillAndWake(NFT_FAMILY, NFT_TABLE, fill, { sendAfter: tableMade }),
};

/** Reads both iptables flavours (kernel) and lets the planner choose the host's (plan/filter-iptables chooseIptablesMode). */
export async function detectIptablesMode(run: ProcessRunner): Promise<IptablesModeDetection> {
  const [legacy, nft] = await Promise.all([iptablesSaveIfUsable(run, 'legacy'), iptablesSaveIfUsable(run, 'nft')]);
  return chooseIptablesMode({ legacy, nft });
}

/** iptables-nft keeps its tables in nft under these names; other tables mean the host speaks nft natively. */
const IPTABLES_NFT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * Builds the driver. 'auto' picks iptables when the host has iptables rules in either flavour, nftables
 * when it has only native nft tables, and iptables (nft flavour) on an empty host.
 */
export async function createFilterDriver(backend: 'auto' | FilterBackend, deps: FilterDriverDeps): Promise<FilterDriver> {
  const detection = deps.iptablesMode ? null : await detectIptablesMode(deps.run);
  const mode = deps.iptablesMode ?? detection!.mode;
  let chosen: FilterBackend;
  if (backend !== 'auto') chosen = backend;
  else if (detection && detection.foreignRules.legacy + detection.foreignRules.nft > 0) chosen = 'iptables';
  else {
    const native = (await nftListTables(deps.run)).filter((t) => {
      const [family, name] = t.split(' ');
      return !(name === NFT_TABLE && family === NFT_FAMILY) && !((family === 'ip' || family === 'ip6') && IPTABLES_NFT_TABLES.has(name ?? ''));
    });
    chosen = native.length > 0 ? 'nftables' : 'iptables';
  }
  const netlink = deps.netlink ?? KERNEL_FILTER_NETLINK;
  return chosen === 'iptables' ? iptablesDriver(deps.run, mode, netlink) : nftablesDriver(deps.run, mode, netlink);
}

async function observeNftTable(run: ProcessRunner, netlink: FilterNetlink): Promise<NftObserved | null> {
  const state = await netlink.nftTableState(NFT_FAMILY, NFT_TABLE);
  if (state === 'absent') return null; // no nft process for a table that is not there
  let text: string | null;
  try {
    text = await nftListTable(run, NFT_FAMILY, NFT_TABLE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (text === null) return null;
  const observed = parseNftJson(text);
  if (state === 'dormant') observed.dormant = true;
  return observed;
}

type Planner = (input: FilterInput | null, seen: FilterObservation) => FilterPlan;

/** The writes that take the sets from `previous` (as written) to `next`, the rules being the same; null when this backend cannot tell without reading. */
type SetsPlanner = (previous: FilterInput, next: FilterInput, shimInUse: boolean) => FilterPlan | null;

/**
 * The part both backends share: a vouched change of set members written as its difference
 * (`setsOnly`), any other pass by the backend's pipelined `write` (it reads while this process
 * validates 10,000 CIDRs, plans and writes); drift checks read and `plan`; the last valid desired
 * state is kept for both.
 */
function driverFrom(
  backend: FilterBackend, mode: IptablesMode, run: ProcessRunner, netlink: FilterNetlink, observe: () => Promise<FilterObservation>, plan: Planner,
  setsOnly: SetsPlanner, write: (validate: () => FilterInput | null, note: (seen: FilterObservation) => void) => Promise<FilterPlan>,
): FilterDriver {
  let writes = 0;
  /** What an apply validated, and from what (a list the same array as its list is not validated again). */
  type Validated = { input: FilterInput | null; desired?: DesiredFilter };
  let last: Validated | null = null;
  let shimInUse = false;
  const note = (seen: FilterObservation) => { shimInUse = seen.backend === 'nftables' && seen.shimNeeded; };
  const observeAndNote = async (): Promise<FilterObservation> => {
    const seen = await observe();
    note(seen);
    return seen;
  };
  return {
    backend,
    iptablesMode: mode,
    get writes() { return writes; },
    observe: observeAndNote,
    notifications: () => filterNotifications(backend, mode, shimInUse),
    async apply(desired, vouched = false) {
      const previous = last?.input ?? null;
      let validated: Validated | null = null;
      const validate = () => {
        const known = previous !== null && last?.desired !== undefined ? { filter: last.desired, input: previous } : undefined;
        validated ??= desired ? { input: validateFilter(desired, known), desired } : { input: null };
        last = validated;
        return validated.input;
      };
      let done: FilterPlan | null = null;
      if (vouched && previous !== null && desired !== null) {
        const input = validate();
        if (input !== null && onlySetMembersDiffer(previous, input)) done = setsOnly(previous, input, shimInUse);
      }
      if (done !== null) done = { ...done, writes: await runFilterWrites(run, done.writes, netlink) };
      else done = await write(validate, note);
      writes += done.writes.length;
      if (done.writes.length === 0) return { writes: 0 };
      return { writes: done.writes.length, changes: done.writes.map(describeWrite), ...(done.rivals.length > 0 ? { rivals: done.rivals } : {}) };
    },
    async drift() {
      if (last === null) return [];
      const { input } = last;
      return plan(input, await observeAndNote()).writes.map(describeWrite);
    },
    async cleanup() {
      const count = await cleanupEverything(run, netlink);
      writes += count;
      return { writes: count };
    },
  };
}

function iptablesDriver(run: ProcessRunner, mode: IptablesMode, netlink: FilterNetlink): FilterDriver {
  const observe = async (): Promise<FilterObservation> => {
    const [iptables, nftTable] = await Promise.all([observeIptables(run, mode, netlink), observeNftTable(run, netlink)]);
    return { backend: 'iptables', iptables, nftTable };
  };
  return driverFrom('iptables', mode, run, netlink, observe, (input, seen) => {
    const planned = planIptablesRepair(input, seen.iptables);
    // A table left by an earlier run with the nftables backend is stale.
    const nftScript = planNft(null, seen.nftTable);
    if (nftScript) planned.writes.push({ tool: 'nft', script: nftScript });
    return planned;
  }, (previous, next) => {
    const change = planIpsetChange(renderIpsets(previous), renderIpsets(next));
    return { writes: change ? [{ tool: 'ipset', ...change }] : [], rivals: [] };
  }, (validate) => applyIptablesPipelined(run, mode, validate, async () => planNft(null, await observeNftTable(run, netlink)), netlink));
}

function nftablesDriver(run: ProcessRunner, mode: IptablesMode, netlink: FilterNetlink): FilterDriver {
  const observeIptablesSide = async () => {
    const iptables = await observeIptables(run, mode, netlink);
    return { iptables, shimNeeded: iptablesFilterCanDrop(iptables.tables) };
  };
  const observe = async (): Promise<FilterObservation> => {
    const [nftTable, side] = await Promise.all([observeNftTable(run, netlink), observeIptablesSide()]);
    return { backend: 'nftables', nftTable, ...side };
  };
  const tableWrites = (input: FilterInput | null, nftTable: NftObserved | null): FilterWrite[] => {
    const write = planNftWrite(input ? renderNft(input) : null, nftTable);
    return write ? [{ tool: 'nft', ...write }] : [];
  };
  return driverFrom('nftables', mode, run, netlink, observe, (input, seen) => {
    const shim = planShim(input, seen);
    return { writes: [...tableWrites(input, seen.nftTable), ...shim.writes], rivals: shim.rivals };
  }, (previous, next, shimInUse) => {
    // The shim's ipsets would need their members too: only without it is the nft table all there is.
    if (shimInUse) return null;
    const write = planNftWrite(renderNft(next), nftAsWritten(renderNft(previous)));
    return { writes: write ? [{ tool: 'nft', ...write }] : [], rivals: [] };
  }, async (validate, note) => {
    // Pipelined: the nft table is read (its presence over netlink, its contents with nft when it is
    // there) and its write started (nft on the other core, the sets' elements encoded here) before
    // iptables is read for the shim: that read starts a process where iptables holds tables, and a
    // spawn costs this thread 5-10 ms, which used to delay nft's. The writes are the planner's, in
    // its order: the table, then the shim. If the iptables read fails, the table is written and the
    // pass fails.
    const seeingTable = observeNftTable(run, netlink);
    seeingTable.catch(() => { /* awaited below unless validation throws first */ });
    const input = validate();
    const nftTable = await seeingTable;
    const writingTable = runFilterWrites(run, tableWrites(input, nftTable), netlink);
    const [side, tableWritten] = await settleAll<[Awaited<ReturnType<typeof observeIptablesSide>>, FilterWrite[]]>([observeIptablesSide(), writingTable]);
    const seen: FilterObservation = { backend: 'nftables', nftTable, ...side };
    note(seen);
    const shim = planShim(input, seen);
    return { writes: [...tableWritten, ...(await runFilterWrites(run, shim.writes, netlink))], rivals: shim.rivals };
  });
}

/**
 * The iptables shim of the nftables backend: only the filter table's accepts (and the sets they
 * match), only where an iptables INPUT/FORWARD could drop; every other seaway iptables chain is
 * stale here. Not the echo limit: it drops rather than accepts, and nft's drop is final whatever
 * iptables says, so a second bucket there would add rules and nothing else. Its iptables chain, if
 * an earlier run with the iptables backend left it, is stale and removed.
 */
function planShim(input: FilterInput | null, seen: FilterObservation): FilterPlan {
  const shimNeeded = seen.backend === 'nftables' && seen.shimNeeded;
  return planIptablesRepair(shimNeeded && input ? withoutEchoLimit(input) : null, seen.iptables, ['filter']);
}

function withoutEchoLimit(input: FilterInput): FilterInput {
  const { echoLimit: _, ...rest } = input;
  return rest;
}

/** The built-in chains (and tables) iptables-nft created for seaway's jumps alone; see planIptablesNftLeftovers. */
async function removeIptablesNftLeftovers(run: ProcessRunner, hooks: ReturnType<typeof hooksWithOwnedJumps>): Promise<number> {
  const names = [...new Set(hooks.map((h) => h.table))];
  let listed: Array<[string, NftObserved | null]>;
  try {
    listed = await Promise.all(names.map(async (table) => {
      const text = await nftListTable(run, NFT_FAMILY, table);
      return [table, text === null ? null : parseNftJson(text)] as [string, NftObserved | null];
    }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0; // no nft tool: nothing it could show or remove
    throw error;
  }
  const script = planIptablesNftLeftovers(hooks, new Map(listed));
  if (!script) return 0;
  await nftApply(run, script);
  return 1;
}

/** Removes seaway's chains and jumps in both iptables flavours, then its ipsets, then its nft table. */
export async function cleanupEverything(run: ProcessRunner, netlink: FilterNetlink): Promise<number> {
  let count = 0;
  for (const mode of ['legacy', 'nft'] as const) {
    let text: string;
    try { text = await iptablesSave(run, mode); } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const tables = parseIptablesSave(text);
    const { sections } = planIptablesTables(null, tables);
    if (sections.length > 0) { await iptablesRestore(run, mode, sections.join('')); count++; }
    if (mode === 'nft' && sections.length > 0) count += await removeIptablesNftLeftovers(run, hooksWithOwnedJumps(tables));
  }
  const ipsetScript = planIpsetRestore(null, await observeOwnedIpsets(run, netlink));
  if (ipsetScript) { await ipsetRestore(run, ipsetScript); count++; }
  const nftScript = planNft(null, await observeNftTable(run, netlink));
  if (nftScript) { await nftApply(run, nftScript); count++; }
  return count;
}
