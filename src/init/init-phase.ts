import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import type { OwnNodeWatch } from '../k8s/node-ready.ts';
import type { CniInterface } from './cni-tracker.ts';
import { watchCniInterface, type CniWatchOptions } from './cni-watch.ts';

export const WAIT_NODE = 'node-ready';
export const WAIT_CNI = 'cni-interface';

export interface InitPhaseDeps {
  nodeName: string;
  /** This Node's readiness, from the agent's one Nodes informer. */
  nodeInformer: OwnNodeWatch;
  cni: Omit<CniWatchOptions, 'onChange' | 'logger'>;
  readiness: Readiness;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

export interface InitPhase {
  cniInterface(): CniInterface | null;
  nodeReady(): boolean;
  /** Called on every change of either wait (the reconcile loop re-plans). */
  onChange(listener: () => void): void;
  stop(): Promise<void>;
}

/**
 * Waits, concurrently and for as long as it takes, for this Node to be Ready and for the CNI
 * interface; keeps watching both afterwards, so readiness drops when either is lost and
 * returns when it comes back.
 */
export async function startInitPhase(deps: InitPhaseDeps): Promise<InitPhase> {
  const now = deps.now ?? Date.now;
  const { metrics, readiness, logger } = deps;
  const listeners: Array<() => void> = [];
  const changed = () => { for (const listener of listeners) listener(); };
  const pendingSince = new Map<string, number>([[WAIT_NODE, now()], [WAIT_CNI, now()]]);

  const completed = (wait: string) => {
    const since = pendingSince.get(wait);
    if (since === undefined) return;
    pendingSince.delete(wait);
    const seconds = (now() - since) / 1000;
    metrics.initWaitSeconds.set({ wait }, seconds);
    metrics.initWaitCompletedTimestamp.set({ wait }, now() / 1000);
    metrics.initWaitPending.set({ wait }, 0);
    readiness.met(wait);
    logger.info({ wait, waitedSeconds: seconds }, 'init wait completed');
  };
  const pending = (wait: string, reason: string) => {
    if (!pendingSince.has(wait)) {
      pendingSince.set(wait, now());
      logger.warn({ wait, reason }, 'init condition lost; waiting again');
    }
    metrics.initWaitPending.set({ wait }, 1);
    readiness.unmet(wait, reason);
  };
  for (const wait of pendingSince.keys()) metrics.initWaitPending.set({ wait }, 1);
  const refreshPendingDurations = setInterval(() => {
    for (const [wait, since] of pendingSince) metrics.initWaitSeconds.set({ wait }, (now() - since) / 1000);
  }, 1000);
  refreshPendingDurations.unref();

  let nodeIsReady = false;
  readiness.unmet(WAIT_NODE, `waiting for Node ${deps.nodeName} to report Ready=True`);
  const evaluateNode = () => {
    const state = deps.nodeInformer.readiness();
    if (state.ready === nodeIsReady) {
      // Still waiting: keep the reason current (not found -> Ready=False with the kubelet's message).
      if (!state.ready) readiness.unmet(WAIT_NODE, state.reason);
      return;
    }
    nodeIsReady = state.ready;
    metrics.nodeReady.set(state.ready ? 1 : 0);
    if (state.ready) completed(WAIT_NODE);
    else pending(WAIT_NODE, state.reason);
    changed();
  };
  deps.nodeInformer.onChange(evaluateNode);
  deps.nodeInformer.start();

  readiness.unmet(WAIT_CNI, `waiting for the CNI interface (${deps.cni.lookingFor})`);
  const cniWatch = await watchCniInterface({
    ...deps.cni,
    logger,
    onChange: (cni) => {
      metrics.cniInterfaceInfo.reset();
      if (cni) {
        metrics.cniInterfaceInfo.set({ interface: cni.name, address: cni.address }, 1);
        logger.info({ interface: cni.name, index: cni.index, address: `${cni.address}/${cni.prefixLength}` }, 'CNI interface found');
        completed(WAIT_CNI);
      } else {
        pending(WAIT_CNI, `waiting for the CNI interface (${deps.cni.lookingFor}); the previous one disappeared or lost its address`);
      }
      changed();
    },
  }).catch(async (error: unknown) => {
    // A caller may retry the whole phase: leave nothing running that would report on this attempt's behalf.
    clearInterval(refreshPendingDurations);
    await deps.nodeInformer.stop();
    throw error;
  });

  return {
    cniInterface: () => cniWatch.current(),
    nodeReady: () => nodeIsReady,
    onChange: (listener) => { listeners.push(listener); },
    async stop() {
      clearInterval(refreshPendingDurations);
      cniWatch.stop();
      await deps.nodeInformer.stop();
    },
  };
}
