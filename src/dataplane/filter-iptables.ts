import type { FilterInput } from '../plan/filter-input.ts';
import {
  IPTABLES_TABLES, parseIptablesSave, planIptablesTable, renderIptables,
  type IptablesObserved, type IptablesTableName,
} from '../plan/filter-iptables.ts';
import { OWNED_IPSETS, parseIpsetSave, planIpsetRestore, renderIpsets, type IpsetsObserved } from '../plan/filter-ipset.ts';
import { iptablesRestore, iptablesSave, type IptablesMode, type ProcessRunner } from '../kernel/iptables.ts';
import { ipsetRestore, ipsetSave } from '../kernel/ipset.ts';

export interface IptablesObservation {
  mode: IptablesMode;
  tables: IptablesObserved;
  ipsets: IpsetsObserved;
}

export async function observeIptables(run: ProcessRunner, mode: IptablesMode): Promise<IptablesObservation> {
  const [save, sets] = await Promise.all([iptablesSave(run, mode), ipsetSave(run, OWNED_IPSETS)]);
  return { mode, tables: parseIptablesSave(save), ipsets: parseIpsetSave(sets) };
}

/**
 * Writes what is not intact: sets first (rules refer to them), then one iptables-restore per table
 * that drifted. `wanted` are the tables seaway should have rules in; owned chains in the others are
 * removed. A null input removes everything, sets last. Returns the number of writing invocations.
 */
export async function repairIptables(
  run: ProcessRunner,
  input: FilterInput | null,
  observed: IptablesObservation,
  wanted: readonly IptablesTableName[] = IPTABLES_TABLES,
): Promise<number> {
  let writes = 0;
  const desired = input ? renderIptables(input) : null;
  const ipsetScript = planIpsetRestore(input ? renderIpsets(input) : null, observed.ipsets);
  if (input && ipsetScript) { await ipsetRestore(run, ipsetScript); writes++; }
  for (const table of IPTABLES_TABLES) {
    const plan = desired && wanted.includes(table) ? desired[table] : null;
    const script = planIptablesTable(table, plan, observed.tables.get(table));
    if (script) { await iptablesRestore(run, observed.mode, script); writes++; }
  }
  if (!input && ipsetScript) { await ipsetRestore(run, ipsetScript); writes++; }
  return writes;
}
