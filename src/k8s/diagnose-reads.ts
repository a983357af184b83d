/**
 * What `seaway diagnose` reads from the API, through @kubernetes/client-node with the node's own
 * credentials (or the broker's): the Endpoints of a namespace, the Nodes, and the holder of the
 * election Lease. Each read has a deadline and never throws: a failure comes back as the problem
 * (forbidden when the credentials lack the permission), which diagnose reports as a finding.
 */
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import type { ApiRead } from '../plan/diagnose-endpoints.ts';
import { classifyApiError } from './api-problem.ts';
import { callOptions, withDeadline } from './request-options.ts';

export interface DiagnoseReadSettings {
  requestTimeoutMs: number;
  userAgent: string;
  signal?: AbortSignal;
}

/** A Node as diagnose uses it: where its agent listens, whether it is a gateway candidate. */
export interface NodeSummary {
  name: string;
  /** The first IPv4 InternalIP, or ''. */
  internalIp: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Pages are bounded; a namespace with more objects than this is itself worth a look, and the rest is not read. */
const PAGE = 500;
const MAX_PAGES = 20;

async function read<T>(settings: DiagnoseReadSettings, what: string, call: (options: ReturnType<typeof callOptions>) => Promise<T>): Promise<ApiRead<T>> {
  try {
    const value = await withDeadline(settings.requestTimeoutMs, settings.signal ?? new AbortController().signal,
      (signal) => call(callOptions({ userAgent: settings.userAgent, signal })), what);
    return { ok: true, value };
  } catch (error) {
    const problem = classifyApiError(error, Date.now());
    return { ok: false, problem: `${problem.cause}: ${problem.detail}`.slice(0, 500), forbidden: problem.statusCode === 401 || problem.statusCode === 403 };
  }
}

type Page = { items?: unknown[]; metadata?: { continue?: string; _continue?: string } };

async function allPages(settings: DiagnoseReadSettings, what: string, page: (continueToken: string | undefined, options: ReturnType<typeof callOptions>) => Promise<Page>): Promise<ApiRead<unknown[]>> {
  const items: unknown[] = [];
  let token: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const result = await read(settings, what, (options) => page(token, options));
    if (!result.ok) return result;
    items.push(...(result.value.items ?? []));
    token = result.value.metadata?.continue ?? result.value.metadata?._continue;
    if (!token) break;
  }
  return { ok: true, value: items };
}

export function listEndpoints(kubeConfig: KubeConfig, namespace: string, settings: DiagnoseReadSettings): Promise<ApiRead<unknown[]>> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  return allPages(settings, `listing Endpoints in ${namespace}`, async (token, options) => (await api.listNamespacedCustomObject(
    { group: SUBMARINER_GROUP, version: SUBMARINER_VERSION, namespace, plural: 'endpoints', limit: PAGE, ...(token ? { _continue: token } : {}) }, options,
  )) as Page);
}

/** One Node by name (a list with a field selector: the route agent may list Nodes, not get them); null when there is none. */
export async function readNode(kubeConfig: KubeConfig, name: string, settings: DiagnoseReadSettings): Promise<ApiRead<NodeSummary | null>> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const listed = await read(settings, `reading Node ${name}`, (options) => api.listNode({ fieldSelector: `metadata.name=${name}`, limit: 2 }, options));
  if (!listed.ok) return listed;
  return { ok: true, value: (listed.value.items ?? []).map(nodeSummary).find((n) => n?.name === name) ?? null };
}

export async function listNodes(kubeConfig: KubeConfig, settings: DiagnoseReadSettings): Promise<ApiRead<NodeSummary[]>> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const listed = await allPages(settings, 'listing Nodes', async (token, options) => (await api.listNode({ limit: PAGE, ...(token ? { _continue: token } : {}) }, options)) as Page);
  if (!listed.ok) return listed;
  return { ok: true, value: listed.value.map(nodeSummary).filter((n): n is NodeSummary => n !== null) };
}

function nodeSummary(raw: unknown): NodeSummary | null {
  const node = raw as { metadata?: { name?: unknown; labels?: unknown; annotations?: unknown }; status?: { addresses?: unknown } };
  if (typeof node?.metadata?.name !== 'string') return null;
  const strings = (map: unknown): Record<string, string> => (typeof map === 'object' && map !== null
    ? Object.fromEntries(Object.entries(map as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string>
    : {});
  const addresses = Array.isArray(node.status?.addresses) ? node.status.addresses as Array<{ type?: unknown; address?: unknown }> : [];
  const internal = addresses.find((a) => a?.type === 'InternalIP' && typeof a.address === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address));
  return { name: node.metadata.name, internalIp: (internal?.address as string | undefined) ?? '', labels: strings(node.metadata.labels), annotations: strings(node.metadata.annotations) };
}

/** The Lease's holderIdentity ('' when nobody holds it, or the Lease does not exist). */
export async function leaseHolder(kubeConfig: KubeConfig, namespace: string, name: string, settings: DiagnoseReadSettings): Promise<ApiRead<string>> {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const result = await read(settings, `reading Lease ${namespace}/${name}`, (options) => api.readNamespacedLease({ name, namespace }, options));
  if (!result.ok) return /HTTP 404/.test(result.problem) ? { ok: true, value: '' } : result;
  return { ok: true, value: result.value.spec?.holderIdentity ?? '' };
}
