/**
 * What `seaway diagnose` reads from the API, through an ApiConnection with the node's own
 * credentials (or the broker's): the Endpoints of a namespace, the Nodes, and the holder of the
 * election Lease. Each read has a deadline and never throws: a failure comes back as the problem
 * (forbidden when the credentials lack the permission), which diagnose reports as a finding. The
 * route agent answers /diagnose with its own connection, so a diagnosis does not load the client.
 */
import type { ApiRead } from '../plan/diagnose-endpoints.ts';
import type { ApiConnection } from './api-connection.ts';
import { classifyApiError } from './api-problem.ts';
import { apiRequest, type ApiCall } from './api-request.ts';
import { submarinerPath } from './client-list-watch.ts';

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

async function read<T>(connection: ApiConnection, settings: DiagnoseReadSettings, what: string, call: ApiCall): Promise<ApiRead<T>> {
  try {
    const value = await apiRequest(connection, call, { userAgent: settings.userAgent, timeoutMs: settings.requestTimeoutMs, what, ...(settings.signal ? { signal: settings.signal } : {}) }) as T;
    return { ok: true, value };
  } catch (error) {
    const problem = classifyApiError(error, Date.now());
    return { ok: false, problem: `${problem.cause}: ${problem.detail}`.slice(0, 500), forbidden: problem.statusCode === 401 || problem.statusCode === 403 };
  }
}

type Page = { items?: unknown[] | null; metadata?: { continue?: string } } | undefined;

async function allPages(connection: ApiConnection, settings: DiagnoseReadSettings, what: string, path: string): Promise<ApiRead<unknown[]>> {
  const items: unknown[] = [];
  let token: string | undefined;
  for (let i = 0; i < MAX_PAGES; i++) {
    const result = await read<Page>(connection, settings, what, { method: 'GET', path, query: { limit: String(PAGE), continue: token } });
    if (!result.ok) return result;
    items.push(...(result.value?.items ?? []));
    token = result.value?.metadata?.continue;
    if (!token) break;
  }
  return { ok: true, value: items };
}

export function listEndpoints(connection: ApiConnection, namespace: string, settings: DiagnoseReadSettings): Promise<ApiRead<unknown[]>> {
  return allPages(connection, settings, `listing Endpoints in ${namespace}`, submarinerPath(namespace, 'endpoints'));
}

/** One Node by name (a list with a field selector: the route agent may list Nodes, not get them); null when there is none. */
export async function readNode(connection: ApiConnection, name: string, settings: DiagnoseReadSettings): Promise<ApiRead<NodeSummary | null>> {
  const listed = await read<Page>(connection, settings, `reading Node ${name}`, { method: 'GET', path: '/api/v1/nodes', query: { fieldSelector: `metadata.name=${name}`, limit: '2' } });
  if (!listed.ok) return listed;
  return { ok: true, value: (listed.value?.items ?? []).map(nodeSummary).find((n) => n?.name === name) ?? null };
}

export async function listNodes(connection: ApiConnection, settings: DiagnoseReadSettings): Promise<ApiRead<NodeSummary[]>> {
  const listed = await allPages(connection, settings, 'listing Nodes', '/api/v1/nodes');
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
export async function leaseHolder(connection: ApiConnection, namespace: string, name: string, settings: DiagnoseReadSettings): Promise<ApiRead<string>> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`;
  const result = await read<{ spec?: { holderIdentity?: unknown } } | undefined>(connection, settings, `reading Lease ${namespace}/${name}`, { method: 'GET', path });
  if (!result.ok) return /HTTP 404/.test(result.problem) ? { ok: true, value: '' } : result;
  const holder = result.value?.spec?.holderIdentity;
  return { ok: true, value: typeof holder === 'string' ? holder : '' };
}
