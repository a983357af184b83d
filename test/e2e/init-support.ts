import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type RunningApiServer } from '../lab/apiserver/server.ts';
import { kubeconfigFor } from '../lab/apiserver/kubeconfig.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { run } from '../../src/kernel/exec.ts';

export const NODE = 'node-a';
export const POD_CIDR = '10.1.3.0/24';

export interface InitFixture {
  api: RunningApiServer;
  admin: AdminClient;
  kubeconfigPath: string;
  agentEnv: Record<string, string>;
  createNode(ready: boolean): Promise<void>;
  /** The cluster's gateway Node `node-gw` (192.168.1.20, labelled submariner.io/gateway=true): a local Endpoint is trusted only when it names one. */
  createGatewayNode(): Promise<void>;
  setNodeReady(ready: boolean): Promise<void>;
  close(): Promise<void>;
}

async function call(url: string, method: string, body: unknown, contentType = 'application/json'): Promise<unknown> {
  const response = await fetch(url, { method, headers: { 'content-type': contentType }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const readyCondition = (ready: boolean) => ({
  type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'KubeletNotReady',
  message: ready ? 'kubelet is posting ready status' : 'container runtime network not ready',
  lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString(),
});

/**
 * A node's underlay in the current (throwaway) namespace: the agent reads the default route to
 * learn the VXLAN underlay and its MTU, and does not program anything without one.
 */
export async function addUnderlay(): Promise<void> {
  const ip = (...args: string[]) => run('ip', args);
  await ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer');
  await ip('addr', 'add', '192.168.1.11/24', 'dev', 'eth0');
  await ip('link', 'set', 'eth0', 'up');
  await ip('link', 'set', 'eth0-peer', 'up');
  await ip('route', 'add', 'default', 'via', '192.168.1.1', 'dev', 'eth0');
}

/** The lab's API server on this namespace's loopback, a kubeconfig for it and the agent's environment. */
export async function startInitFixture(options: { port?: number } = {}): Promise<InitFixture> {
  const api = await startApiServer({ port: options.port ?? 0 });
  const dir = await mkdtemp(join(tmpdir(), 'seaway-init-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfigFor(api.url));
  const nodeUrl = `${api.url}/api/v1/nodes`;
  const setNodeReady = async (ready: boolean) => {
    await call(`${nodeUrl}/${NODE}/status`, 'PATCH', { status: { conditions: [readyCondition(ready)] } }, 'application/merge-patch+json');
  };
  return {
    api,
    admin: new AdminClient(api.url),
    kubeconfigPath,
    agentEnv: {
      NODE_NAME: NODE, SUBMARINER_CLUSTERID: 'c1', SUBMARINER_NAMESPACE: 'submariner-operator',
      SUBMARINER_CLUSTERCIDR: '10.1.0.0/16', SUBMARINER_SERVICECIDR: '10.101.0.0/16', KUBECONFIG: kubeconfigPath,
      SEAWAY_CNI_WAIT_LOG_SECONDS: '2',
    },
    async createNode(ready) {
      await call(nodeUrl, 'POST', {
        apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } },
        spec: { podCIDR: POD_CIDR }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.11' }] },
      });
      await setNodeReady(ready);
    },
    async createGatewayNode() {
      await call(nodeUrl, 'POST', {
        apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-gw', labels: { 'kubernetes.io/hostname': 'node-gw', 'submariner.io/gateway': 'true' } },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.1.20' }] },
      });
    },
    setNodeReady,
    async close() {
      await api.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
