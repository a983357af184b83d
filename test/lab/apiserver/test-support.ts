import { waitFor as waitUntil } from '../../helpers/wait.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { kubeconfigFor } from './kubeconfig.ts';
import { connectionFromSpec, type ApiConnection } from '../../../src/k8s/api-connection.ts';
import { readFileSync } from 'node:fs';

/** The route agent's own connection (src/k8s/api-connection.ts) to a plain-HTTP lab API server, with a bearer token or anonymous. */
export function connectionFor(url: string, token: string | null = null): ApiConnection {
  return connectionFromSpec({ server: url, insecureSkipTlsVerify: true, ...(token === null ? {} : { token }) }, (path) => readFileSync(path));
}

/** A KubeConfig of the real client for a lab API server URL. */
export function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigFor(url));
  return kc;
}

/** A client of a plain-HTTP lab server with a bearer token (or none: anonymous); client-node needs skip-TLS-verify for http://. */
export function kubeConfigWithToken(url: string, token: string | null): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'lab', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', ...(token === null ? {} : { token }) }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'u' }], currentContext: 'lab',
  });
  return kc;
}

/** Polls `condition` until it holds or the deadline passes (then throws, naming what was awaited). */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  await waitUntil(what, async () => (await condition()) || undefined, { timeoutMs, intervalMs: 10 });
}

export interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  reason: string;
  code: number;
  message: string;
  details?: { name?: string; kind?: string; group?: string; causes?: Array<{ field: string; reason: string }> };
}

/** Runs `call`, expects the client to throw an ApiException, and returns its parsed Status body. */
export async function expectStatus(call: () => Promise<unknown>): Promise<StatusBody & { httpCode: number }> {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = JSON.parse(String(error.body)) as StatusBody;
    return { ...body, httpCode: error.code };
  }
  throw new Error('expected the request to fail with a Status, but it succeeded');
}

/** A spec valid under Submariner's Endpoint CRD (every required field present). */
export function endpointSpec(clusterId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cluster_id: clusterId, cable_name: `submariner-cable-${clusterId}`, hostname: 'gw-1', subnets: ['10.0.0.0/16'],
    backend: 'libreswan', nat_enabled: false, ...extra,
  };
}

/** A kubeconfig file in `dir` for kubectl against a lab server without authentication; its path. */
export async function writeKubeconfigFile(dir: string, url: string): Promise<string> {
  const file = join(dir, 'kubeconfig');
  await writeFile(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'lab', cluster: { server: url } }], users: [{ name: 'lab', user: {} }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }], 'current-context': 'lab',
  }));
  return file;
}
