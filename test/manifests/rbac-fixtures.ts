/**
 * Audit records shaped as the lab API server writes them (test/lab/apiserver/audit.ts), of what the
 * agents ask for:
 * - the route agent: its Nodes, Endpoints and Clusters informers (list and watch), Events, and its
 *   RouteAgent (get, create, update), as 02-rbac-route-agent.yaml documents it;
 * - the uninstall workload: the sequence src/uninstall-command.ts makes and manifests/uninstall/uninstall.yaml
 *   documents.
 * Plus records the comparison must leave alone: the lab's administrator (no user) and discovery.
 */
import type { AuditEntry } from '../lab/apiserver/audit.ts';

export const ROUTE_AGENT_USER = 'system:serviceaccount:submariner-operator:seaway-route-agent';
export const UNINSTALL_USER = 'system:serviceaccount:submariner-operator:seaway-uninstall';

const NS = '/namespaces/submariner-operator';
const SUBMARINER = `/apis/submariner.io/v1${NS}`;

let seq = 0;
function entry(user: string | undefined, method: string, path: string, verb: string): AuditEntry {
  seq++;
  return {
    seq, time: new Date(Date.UTC(2026, 10, 30, 8, 0, seq)).toISOString(), remote: user === undefined ? 'unix' : '10.0.0.5',
    userAgent: 'seaway/0.1.0', method, verb, path, code: 200, ...(user === undefined ? {} : { user, decision: 'allow' as const }),
  };
}

export const ROUTE_AGENT_AUDIT: readonly AuditEntry[] = [
  entry(ROUTE_AGENT_USER, 'GET', '/api', 'get'),
  entry(ROUTE_AGENT_USER, 'GET', '/api/v1/nodes?limit=500', 'list'),
  entry(ROUTE_AGENT_USER, 'GET', '/api/v1/nodes?watch=true&resourceVersion=120&allowWatchBookmarks=true&timeoutSeconds=341', 'watch'),
  entry(ROUTE_AGENT_USER, 'GET', `${SUBMARINER}/endpoints?limit=500`, 'list'),
  entry(ROUTE_AGENT_USER, 'GET', `${SUBMARINER}/endpoints?watch=true&resourceVersion=121&allowWatchBookmarks=true`, 'watch'),
  entry(ROUTE_AGENT_USER, 'GET', `${SUBMARINER}/clusters?limit=500`, 'list'),
  entry(ROUTE_AGENT_USER, 'GET', `${SUBMARINER}/clusters?watch=true&resourceVersion=122&allowWatchBookmarks=true`, 'watch'),
  entry(ROUTE_AGENT_USER, 'POST', `/api/v1${NS}/events`, 'create'),
  entry(ROUTE_AGENT_USER, 'GET', `${SUBMARINER}/routeagents/node-1`, 'get'),
  entry(ROUTE_AGENT_USER, 'POST', `${SUBMARINER}/routeagents`, 'create'),
  entry(ROUTE_AGENT_USER, 'PUT', `${SUBMARINER}/routeagents/node-1`, 'update'),
  entry(undefined, 'POST', `${SUBMARINER}/endpoints`, 'create'),
];

const APPS = `/apis/apps/v1${NS}/daemonsets`;
export const UNINSTALL_AUDIT: readonly AuditEntry[] = [
  // 1. The agents' DaemonSets, deleted in the foreground and read until they are gone.
  entry(UNINSTALL_USER, 'DELETE', `${APPS}/seaway-route-agent`, 'delete'),
  entry(UNINSTALL_USER, 'GET', `${APPS}/seaway-route-agent`, 'get'),
  entry(UNINSTALL_USER, 'DELETE', `${APPS}/seaway-gateway`, 'delete'),
  entry(UNINSTALL_USER, 'GET', `${APPS}/seaway-gateway`, 'get'),
  // 3. Its node's RouteAgent and Gateway, by name.
  entry(UNINSTALL_USER, 'DELETE', `${SUBMARINER}/routeagents/node-1`, 'delete'),
  entry(UNINSTALL_USER, 'DELETE', `${SUBMARINER}/gateways/node-1`, 'delete'),
  // 4. Every node clean: what is left in the namespace, found by listing, and the election Lease.
  entry(UNINSTALL_USER, 'GET', `${APPS}/seaway-uninstall`, 'get'),
  entry(UNINSTALL_USER, 'GET', `${SUBMARINER}/routeagents`, 'list'),
  entry(UNINSTALL_USER, 'DELETE', `${SUBMARINER}/routeagents/node-2`, 'delete'),
  entry(UNINSTALL_USER, 'GET', `${SUBMARINER}/gateways`, 'list'),
  entry(UNINSTALL_USER, 'GET', `${SUBMARINER}/endpoints`, 'list'),
  entry(UNINSTALL_USER, 'DELETE', `${SUBMARINER}/endpoints/cluster-a-submariner-cable-cluster-a-192-168-1-10`, 'delete'),
  entry(UNINSTALL_USER, 'GET', `${SUBMARINER}/clusters`, 'list'),
  entry(UNINSTALL_USER, 'DELETE', `${SUBMARINER}/clusters/cluster-a`, 'delete'),
  entry(UNINSTALL_USER, 'DELETE', `/apis/coordination.k8s.io/v1${NS}/leases/seaway-gateway-lock`, 'delete'),
  // 5. Its own objects handed to the garbage collector, then its DaemonSet.
  entry(UNINSTALL_USER, 'PATCH', `/api/v1${NS}/serviceaccounts/seaway-uninstall`, 'patch'),
  entry(UNINSTALL_USER, 'PATCH', `/apis/rbac.authorization.k8s.io/v1${NS}/roles/seaway-uninstall`, 'patch'),
  entry(UNINSTALL_USER, 'PATCH', `/apis/rbac.authorization.k8s.io/v1${NS}/rolebindings/seaway-uninstall`, 'patch'),
  entry(UNINSTALL_USER, 'DELETE', `${APPS}/seaway-uninstall`, 'delete'),
];
