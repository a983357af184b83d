/**
 * RBAC rules against what the code asks for. Input: the RBAC objects of manifests/ and the requests the
 * agents made (from the lab API server's audit log of e2e runs: requestsFromAudit). Output: the requests
 * no rule grants (missing grants: the agent would get 403 on a real cluster) and the grants no request
 * used (unused grants: rights to take away), each down to one verb on one resource (and one name, for a
 * rule narrowed by resourceNames). Pure.
 *
 * Matching follows Kubernetes' RBAC authorizer (plugin/pkg/auth/authorizer/rbac; the lab's
 * test/lab/apiserver/rbac.ts mirrors it): a ClusterRoleBinding grants everywhere, a RoleBinding only in
 * its namespace (also when it binds a ClusterRole); `*` matches any verb, group or resource; a rule with
 * resourceNames matches only requests that carry one of those names; `resource/subresource` is matched
 * as a whole. Non-resource requests (discovery, /version) are not RBAC grants of seaway's and are left out.
 */
import { isRecord } from '../../src/model/compare.ts';
import { requestInfoFor } from '../lab/apiserver/request-info.ts';
import type { AuditEntry } from '../lab/apiserver/audit.ts';

/** One request as RBAC sees it; what the audit log's records give. */
export interface RbacRequest {
  /** The authenticated user: `system:serviceaccount:<namespace>:<name>` for a service account. */
  user: string;
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** '' for cluster-scoped requests. */
  namespace: string;
  /** '' when the request names no object (list, watch, create). */
  name: string;
}

/** One verb on one resource (and one name) that one rule grants. */
export interface Grant {
  /** `Role/<namespace>/<name>` or `ClusterRole/<name>`. */
  role: string;
  ruleIndex: number;
  verb: string;
  apiGroup: string;
  resource: string;
  /** null: any name. */
  resourceName: string | null;
}

export interface RbacComparison {
  /** Requests no rule of the user's bindings allows, deduplicated, each with why. */
  missing: Array<{ request: RbacRequest; message: string }>;
  /** Grants of roles bound to the users compared that no request of theirs used. */
  unused: Array<{ grant: Grant; message: string }>;
}

const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const str = (value: unknown): string => (typeof value === 'string' ? value : '');

interface Binding { roleKey: string; namespace: string; users: Set<string> }

function roleKeyOf(kind: string, namespace: string, name: string): string {
  return kind === 'Role' ? `Role/${namespace}/${name}` : `ClusterRole/${name}`;
}

/** Every grant of every Role and ClusterRole among the documents, keyed by role. */
function grantsOf(documents: readonly unknown[]): Map<string, Grant[]> {
  const grants = new Map<string, Grant[]>();
  for (const document of documents) {
    if (!isRecord(document) || (document.kind !== 'Role' && document.kind !== 'ClusterRole')) continue;
    const metadata = isRecord(document.metadata) ? document.metadata : {};
    const role = roleKeyOf(document.kind, str(metadata.namespace), str(metadata.name));
    const list: Grant[] = [];
    (Array.isArray(document.rules) ? document.rules : []).forEach((rule, ruleIndex) => {
      if (!isRecord(rule)) return;
      const names = strings(rule.resourceNames);
      for (const verb of strings(rule.verbs)) {
        for (const apiGroup of strings(rule.apiGroups)) {
          for (const resource of strings(rule.resources)) {
            for (const resourceName of names.length > 0 ? names : [null]) list.push({ role, ruleIndex, verb, apiGroup, resource, resourceName });
          }
        }
      }
    });
    grants.set(role, list);
  }
  return grants;
}

/** Every binding among the documents with the service-account users it applies to. */
function bindingsOf(documents: readonly unknown[]): Binding[] {
  const bindings: Binding[] = [];
  for (const document of documents) {
    if (!isRecord(document) || (document.kind !== 'RoleBinding' && document.kind !== 'ClusterRoleBinding')) continue;
    const metadata = isRecord(document.metadata) ? document.metadata : {};
    const namespace = document.kind === 'RoleBinding' ? str(metadata.namespace) : '';
    const roleRef = isRecord(document.roleRef) ? document.roleRef : {};
    const users = new Set<string>();
    for (const subject of Array.isArray(document.subjects) ? document.subjects : []) {
      if (!isRecord(subject) || subject.kind !== 'ServiceAccount') continue;
      // A ServiceAccount subject without a namespace means the RoleBinding's (none for a ClusterRoleBinding).
      const subjectNamespace = str(subject.namespace) || namespace;
      if (subjectNamespace !== '') users.add(`${SERVICE_ACCOUNT_PREFIX}${subjectNamespace}:${str(subject.name)}`);
    }
    bindings.push({ roleKey: roleKeyOf(str(roleRef.kind), namespace, str(roleRef.name)), namespace, users });
  }
  return bindings;
}

/** Does this grant allow this request (group, resource with subresource, verb, name)? */
export function grantAllows(grant: Grant, request: RbacRequest): boolean {
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  const resourceMatches = grant.resource === '*' || grant.resource === resource
    || (request.subresource !== undefined && request.subresource !== '' && grant.resource === `*/${request.subresource}`);
  return (grant.verb === '*' || grant.verb === request.verb)
    && (grant.apiGroup === '*' || grant.apiGroup === request.apiGroup)
    && resourceMatches
    && (grant.resourceName === null || grant.resourceName === request.name);
}

function describeRequest(request: RbacRequest): string {
  const group = request.apiGroup === '' ? '' : `.${request.apiGroup}`;
  const sub = request.subresource ? `/${request.subresource}` : '';
  const named = request.name === '' ? '' : ` "${request.name}"`;
  const where = request.namespace === '' ? 'cluster-wide' : `in namespace ${request.namespace}`;
  return `${request.user} ${request.verb} ${request.resource}${group}${sub}${named} ${where}`;
}

function describeGrant(grant: Grant): string {
  const group = grant.apiGroup === '' ? '' : `.${grant.apiGroup}`;
  const named = grant.resourceName === null ? '' : ` "${grant.resourceName}"`;
  return `${grant.role} rule ${grant.ruleIndex} grants ${grant.verb} on ${grant.resource}${group}${named}`;
}

/**
 * Compares the RBAC of `documents` with `requests`. Only `users` are compared (default: every
 * ServiceAccount the documents define); requests of other users and roles bound to none of them are
 * ignored. A role that a binding refers to but the documents lack grants nothing.
 */
export function compareRbac(documents: readonly unknown[], requests: readonly RbacRequest[], options: { users?: readonly string[] } = {}): RbacComparison {
  const users = new Set(options.users ?? documents.flatMap((d) => {
    if (!isRecord(d) || d.kind !== 'ServiceAccount' || !isRecord(d.metadata)) return [];
    return [`${SERVICE_ACCOUNT_PREFIX}${str(d.metadata.namespace)}:${str(d.metadata.name)}`];
  }));
  const grants = grantsOf(documents);
  const bindings = bindingsOf(documents).filter((b) => [...b.users].some((u) => users.has(u)));
  const used = new Set<Grant>();
  const missing: RbacComparison['missing'] = [];
  const seenMissing = new Set<string>();
  for (const request of requests) {
    if (!users.has(request.user)) continue;
    let allowed = false;
    for (const binding of bindings) {
      if (!binding.users.has(request.user)) continue;
      if (binding.namespace !== '' && binding.namespace !== request.namespace) continue;
      for (const grant of grants.get(binding.roleKey) ?? []) {
        if (grantAllows(grant, request)) { allowed = true; used.add(grant); }
      }
    }
    const description = describeRequest(request);
    if (!allowed && !seenMissing.has(description)) {
      seenMissing.add(description);
      missing.push({ request, message: `missing grant: ${description}: no rule bound to it allows this` });
    }
  }
  const unused: RbacComparison['unused'] = [];
  const boundRoles = new Set(bindings.map((b) => b.roleKey));
  for (const role of [...boundRoles].sort()) {
    for (const grant of grants.get(role) ?? []) {
      if (!used.has(grant)) unused.push({ grant, message: `unused grant: ${describeGrant(grant)}, which no request used` });
    }
  }
  return { missing, unused };
}

/**
 * The resource requests of audit records (test/lab/apiserver/audit.ts), as the API server's RequestInfo
 * derives them from method and path; records without a user (the lab's administrator on its unix
 * socket) and non-resource requests are left out.
 */
export function requestsFromAudit(entries: readonly Pick<AuditEntry, 'method' | 'path' | 'user'>[]): RbacRequest[] {
  const requests: RbacRequest[] = [];
  for (const entry of entries) {
    if (entry.user === undefined) continue;
    const { info, error } = requestInfoFor(entry.method, entry.path);
    if (error !== undefined || !info.isResourceRequest || info.verb === '') continue;
    requests.push({
      user: entry.user, verb: info.verb, apiGroup: info.apiGroup, resource: info.resource,
      ...(info.subresource !== '' ? { subresource: info.subresource } : {}), namespace: info.namespace, name: info.name,
    });
  }
  return requests;
}
