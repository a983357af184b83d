/**
 * Lab faults that really cut the API: unlike the API server's `pause` (which holds new requests
 * while open watches keep streaming), these act on the network inside the API server's own
 * control-plane namespace, so every connection to it is affected, open watches included.
 *
 *   blackhole  DROP both ways on the API port: connections hang, open streams go silent.
 *   reset      REJECT with a TCP reset both ways: new connections are refused at once, open ones are reset
 *              at their next packet.
 *
 * The rules live in one chain of the namespace's filter table; `liftApiFault` empties it. Only a
 * namespace of this lab (its name checked) is ever touched: never the root namespace.
 *
 *   await cutApi('swx1', 'cluster1', 'reset');  ...  await liftApiFault('swx1', 'cluster1');
 *   npm run lab -- fault reset --target cluster1 [--seconds 30] [--prefix P]
 */
import { run } from '../../src/kernel/exec.ts';
import { API_PORT, isLabNamespace } from './addressing.ts';
import { labStatus, type LabLocation } from './lab.ts';

export const API_CUTS = ['blackhole', 'reset'] as const;
export type ApiCut = (typeof API_CUTS)[number];

/** The chain holding the fault's rules, jumped to from INPUT and OUTPUT. */
export const FAULT_CHAIN = 'SEAWAY-LAB-FAULT';
/** iptables waits for the xtables lock at most this long (other labs run iptables in their own namespaces). */
const LOCK_WAIT_SECONDS = '5';
const IPTABLES_TIMEOUT_MS = 15_000;

/**
 * The rules of one fault (pure): one for packets to the API port, one for packets from it. A reset
 * lets resets themselves through: the RST that REJECT sends passes OUTPUT (and, sent to the local
 * server, INPUT) too, and rejecting it would turn the reset into a blackhole.
 */
export function faultRules(mode: ApiCut, port: number): string[][] {
  const target = mode === 'blackhole' ? ['-j', 'DROP'] : ['!', '--tcp-flags', 'RST', 'RST', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
  return [
    ['-A', FAULT_CHAIN, '-p', 'tcp', '--dport', String(port), ...target],
    ['-A', FAULT_CHAIN, '-p', 'tcp', '--sport', String(port), ...target],
  ];
}

/** The namespace holding `target`'s API server (a cluster id, or "broker"), checked to be one of this lab's. */
export async function apiNamespace(prefix: string, target: string, location: LabLocation = {}): Promise<string> {
  const status = await labStatus(prefix, location);
  const namespace = target === 'broker' ? status.broker.namespace : status.clusters.find((c) => c.id === target)?.apiserver.namespace;
  if (namespace === undefined) {
    throw new Error(`lab ${prefix} has no API server ${JSON.stringify(target)} (clusters: ${status.clusters.map((c) => c.id).join(', ')}, or broker)`);
  }
  if (!isLabNamespace(prefix, namespace)) throw new Error(`refusing to touch ${namespace}: not a namespace of lab ${prefix}`);
  return namespace;
}

function iptables(namespace: string, args: readonly string[], allowFailure = false) {
  return run('ip', ['netns', 'exec', namespace, 'iptables', '-w', LOCK_WAIT_SECONDS, ...args], { allowFailure, timeoutMs: IPTABLES_TIMEOUT_MS });
}

/** Puts the fault in place (replacing any other fault on that API server); it stays until lifted. */
export async function cutApi(prefix: string, target: string, mode: ApiCut, location: LabLocation = {}): Promise<void> {
  const namespace = await apiNamespace(prefix, target, location);
  await iptables(namespace, ['-N', FAULT_CHAIN], true);
  for (const hook of ['INPUT', 'OUTPUT']) {
    const present = await iptables(namespace, ['-C', hook, '-j', FAULT_CHAIN], true);
    if (present.code !== 0) await iptables(namespace, ['-I', hook, '1', '-j', FAULT_CHAIN]);
  }
  await iptables(namespace, ['-F', FAULT_CHAIN]);
  for (const rule of faultRules(mode, API_PORT)) await iptables(namespace, rule);
}

/** Lifts whatever fault is in place (nothing to do when there is none). */
export async function liftApiFault(prefix: string, target: string, location: LabLocation = {}): Promise<void> {
  const namespace = await apiNamespace(prefix, target, location);
  await iptables(namespace, ['-F', FAULT_CHAIN], true);
}

/** The fault in place, read back from the namespace's rules: what `status` and tests can check. */
export async function currentApiFault(prefix: string, target: string, location: LabLocation = {}): Promise<ApiCut | null> {
  const namespace = await apiNamespace(prefix, target, location);
  const { code, stdout } = await iptables(namespace, ['-S', FAULT_CHAIN], true);
  if (code !== 0) return null;
  if (/-j DROP/.test(stdout)) return 'blackhole';
  if (/-j REJECT/.test(stdout)) return 'reset';
  return null;
}
