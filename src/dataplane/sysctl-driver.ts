import type { DesiredSysctl } from '../model/desired-state.ts';
import type { Sysctls } from '../kernel/sysctl.ts';
import type { Logger } from '../telemetry/logger.ts';
import { diffSysctls } from '../plan/diff-kernel.ts';
import { ALWAYS_ATTEMPT, countWrite, emptyReport, type ApplyReport, type AttemptGate } from './report.ts';
import { sysctlStateFile, type SysctlState } from './sysctl-state-file.ts';

export interface SysctlDriverOptions {
  sysctls: Sysctls;
  /** Where the values found before seaway's first change are kept, so a later cleanup (even after a restart) restores them. */
  statePath: string;
  /** Says when an unreadable state file is moved aside. */
  logger: Logger;
}

export interface SysctlDriver {
  /**
   * Writes each desired value the gate allows; a key that does not exist yet (its link is missing) is
   * reported blocked. The values seaway changed that are no longer desired are restored, unless `some`
   * says the list is only part of what is desired (a new link's own, set early).
   */
  apply(desired: readonly DesiredSysctl[], gate?: AttemptGate, scope?: 'all' | 'some'): Promise<ApplyReport>;
  /** Restores every value seaway changed and forgets them. */
  cleanup(): Promise<ApplyReport>;
}

const NEVER_RESTORED = 'net/ipv4/ip_forward';

export function createSysctlDriver(options: SysctlDriverOptions): SysctlDriver {
  const { sysctls } = options;
  const file = sysctlStateFile({ path: options.statePath, logger: options.logger });

  async function restore(state: SysctlState, keys: string[], report: ApplyReport): Promise<void> {
    for (const key of keys) {
      const original = state.originals[key]!;
      // Forwarding is never turned back off: by the time seaway stops wanting it, the node's pods
      // (the CNI, kube-proxy) may depend on it, and a node that stops forwarding drops all their traffic.
      const current = key === NEVER_RESTORED ? undefined : await sysctls.read(key).catch(() => undefined);
      if (current !== undefined && current !== original) {
        try {
          await sysctls.write(key, original);
          countWrite(report, { kind: 'sysctl', key }, true);
        } catch (error) {
          countWrite(report, { kind: 'sysctl', key }, false);
          report.failures.push({ kind: 'sysctl', key, object: `restoring sysctl ${key}=${original}`, reason: (error as Error).message });
          continue;
        }
      }
      // A key that no longer exists (its interface is gone) has nothing left to restore.
      delete state.originals[key];
    }
    await file.save(state);
  }

  return {
    async apply(desired, gate = ALWAYS_ATTEMPT, scope = 'all') {
      const report = emptyReport();
      const state = await file.load();
      const current = new Map<string, string | undefined>();
      for (const { key } of desired) current.set(key, await sysctls.read(key));
      const { write, missing } = diffSysctls(desired, current);
      for (const m of missing) report.failures.push({ kind: 'sysctl', key: m.key, object: `sysctl ${m.key}=${m.value}`, reason: 'no such sysctl (yet): waiting for its interface', code: 'ENOENT', blocked: true });
      const allowed = write.filter((w) => gate('sysctl', w.key));
      for (const w of write) if (!allowed.includes(w)) report.deferred.push({ kind: 'sysctl', key: w.key });
      // Every original is on disk (durably, atomically: one save for the pass) before any value
      // changes, so a crash between the two never loses what a cleanup must restore.
      const unrecorded = allowed.filter((w) => !(w.key in state.originals));
      for (const w of unrecorded) state.originals[w.key] = w.previous;
      if (unrecorded.length > 0) await file.save(state);
      for (const w of allowed) {
        try {
          await sysctls.write(w.key, w.value);
          countWrite(report, { kind: 'sysctl', key: w.key }, true);
        } catch (error) {
          countWrite(report, { kind: 'sysctl', key: w.key }, false);
          report.failures.push({ kind: 'sysctl', key: w.key, object: `sysctl ${w.key}=${w.value}`, reason: (error as Error).message });
        }
      }
      if (scope === 'some') return report;
      const wanted = new Set(desired.map((d) => d.key));
      const noLongerWanted = Object.keys(state.originals).filter((key) => !wanted.has(key));
      if (noLongerWanted.length > 0) await restore(state, noLongerWanted, report);
      return report;
    },
    async cleanup() {
      const report = emptyReport();
      const state = await file.load();
      await restore(state, Object.keys(state.originals), report);
      return report;
    },
  };
}
