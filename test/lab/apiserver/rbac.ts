/**
 * Kubernetes RBAC authorization of request attributes, and the 403 Forbidden Status a refused request gets.
 * Pure. Mirrors, and was checked line by line against:
 * - plugin/pkg/auth/authorizer/rbac/rbac.go (RBACAuthorizer.Authorize, RuleAllows; the "allowed by" reason and
 *   the denial reason "RBAC: " + the aggregated rule-resolution errors);
 * - pkg/registry/rbac/validation/rule.go (DefaultRuleResolver.VisitRulesFor: every ClusterRoleBinding first,
 *   then the RoleBindings of the request's namespace only, so a RoleBinding to a ClusterRole grants only
 *   inside the binding's namespace and non-resource requests, which have no namespace, can only be allowed
 *   through ClusterRoleBindings; appliesToUser for User, Group and ServiceAccount subjects, a ServiceAccount
 *   subject without a namespace taking the RoleBinding's; GetRoleReferenceRules and its errors);
 * - pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches, APIGroupMatches, ResourceMatches with `*`,
 *   `resource/subresource`, and `*` followed by `/subresource` for that subresource of every resource;
 *   ResourceNameMatches; NonResourceURLMatches with a trailing `*`);
 * - k8s.io/apiserver authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup), which kube-apiserver puts
 *   before every other authorizer: members of `system:masters` may do anything, whatever RBAC says;
 * - responsewriters.Forbidden / forbiddenMessage and apierrors.NewForbidden for the Status (see `forbidden`).
 *
 * resourceNames: a rule that lists names matches only requests that carry a name. `create` never does (the
 * name is not known when authorizing), nor `deletecollection`; `list` and `watch` do only when their
 * fieldSelector is `metadata.name=<n>` (request-info.ts sets the name then). So such a rule cannot allow an
 * unfiltered list, a create or a deletecollection. (A rule with `resourceNames: [""]` would match unnamed
 * requests, as in Kubernetes; validation does not forbid it.)
 *
 * ClusterRole aggregationRule: the authorizer reads a ClusterRole's `rules` as stored, like Kubernetes, whose
 * authorizer does not aggregate either: a controller writes the aggregated rules into the ClusterRole. The lab
 * has no such controller; rbac-aggregation.ts computes what it would write.
 */
import { ApiError } from './status.ts';
import type { StatusDetails } from './status.ts';
import { aggregateStrings, goQuote } from './field-errors.ts';
import type { ResourceRequestInfo } from './request-info.ts';
import type { PolicyBinding, PolicyRole, PolicyRule, RbacPolicy, RoleRef, Subject } from './rbac-policy.ts';

/** kube-apiserver's superuser group (user.SystemPrivilegedGroup). */
export const privilegedGroup = 'system:masters';
const serviceAccountUsernamePrefix = 'system:serviceaccount:';

export interface UserInfo {
  name: string;
  groups: readonly string[];
}

/** A resource request's fields the authorizer reads; its verb may also be one RBAC alone knows (bind, escalate). */
export type ResourceAttributes =
  Pick<ResourceRequestInfo, 'isResourceRequest' | 'apiGroup' | 'apiVersion' | 'namespace' | 'resource' | 'subresource' | 'name'>
  & { verb: string };

export interface NonResourceAttributes {
  isResourceRequest: false;
  verb: string;
  path: string;
}

/** What is asked and by whom; a RequestInfo from request-info.ts plus the user fits. */
export type RequestAttributes = (ResourceAttributes | NonResourceAttributes) & { user: UserInfo };

/** Which binding, role and rule allowed a request. */
export interface Grant {
  binding: { kind: PolicyBinding['kind']; name: string; namespace: string };
  role: { kind: PolicyRole['kind']; name: string; namespace: string };
  subject: Subject;
  /** The rule's index in the role's stored `rules` list. */
  ruleIndex: number;
  rule: PolicyRule;
}

export type Decision =
  | {
    allowed: true;
    /** Kubernetes' own words: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to ...`. */
    reason: string;
    /** Absent when the user is in `system:masters`. */
    grant?: Grant;
  }
  | {
    allowed: false;
    /** For an audit log: Kubernetes' verbose-level denial line, plus resolution errors. */
    reason: string;
    /** Rule-resolution errors (a bound role that does not exist, an unknown roleRef kind), as Kubernetes words them. */
    errors: string[];
  };

/** Go's %q for a []string: `["a" "b"]`. */
const goQuoteList = (list: readonly string[]) => `[${list.map(goQuote).join(' ')}]`;

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === '*' || v === verb);
}

function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return rule.apiGroups.some((g) => g === '*' || g === group);
}

function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  return rule.resources.some((r) => r === '*' || r === combined ||
    (subresource !== '' && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)));
}

function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  return rule.resourceNames.length === 0 || rule.resourceNames.includes(name);
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return rule.nonResourceURLs.some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))));
}

/** RuleAllows: does this one rule allow the request? */
export function ruleAllows(attributes: RequestAttributes, rule: PolicyRule): boolean {
  if (!attributes.isResourceRequest) return verbMatches(rule, attributes.verb) && nonResourceURLMatches(rule, attributes.path);
  const combined = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  return verbMatches(rule, attributes.verb) && apiGroupMatches(rule, attributes.apiGroup) &&
    resourceMatches(rule, combined, attributes.subresource) && resourceNameMatches(rule, attributes.name);
}

/** appliesToUser: does this subject name the user? */
function appliesToUser(user: UserInfo, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.name === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace;
      if (!namespace) return false;
      return user.name === `${serviceAccountUsernamePrefix}${namespace}:${subject.name}`;
    }
    default:
      return false;
  }
}

/** GetRoleReferenceRules: the role a binding refers to, or Kubernetes' error for it. */
function resolveRoleRef(policy: RbacPolicy, roleRef: RoleRef, bindingNamespace: string): PolicyRole | string {
  switch (roleRef.kind) {
    case 'Role':
      return policy.roles.get(`${bindingNamespace}/${roleRef.name}`) ??
        `role.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`;
    case 'ClusterRole':
      return policy.clusterRoles.get(roleRef.name) ??
        `clusterrole.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`;
    default:
      return `unsupported role reference kind: ${goQuote(roleRef.kind)}`;
  }
}

/** describeSubject: note a ServiceAccount is written name/namespace, as Kubernetes writes it. */
function describeSubject(subject: Subject, bindingNamespace: string): string {
  if (subject.kind === 'ServiceAccount') {
    return `${subject.kind} ${goQuote(`${subject.name}/${subject.namespace || bindingNamespace}`)}`;
  }
  return `${subject.kind} ${goQuote(subject.name)}`;
}

function describeBinding(binding: PolicyBinding, subject: Subject): string {
  const name = binding.kind === 'RoleBinding' ? `${binding.name}/${binding.namespace}` : binding.name;
  return `${binding.kind} ${goQuote(name)} of ${binding.roleRef.kind} ${goQuote(binding.roleRef.name)} to ${describeSubject(subject, binding.namespace)}`;
}

/** The verbose-level denial line kube-apiserver logs (rbac.go), used here as the audit log's "why not". */
function denialLine(attributes: RequestAttributes): string {
  let operation: string;
  if (attributes.isResourceRequest) {
    let resource = attributes.resource;
    if (attributes.apiGroup) resource += `.${attributes.apiGroup}`;
    if (attributes.subresource) resource += `/${attributes.subresource}`;
    operation = `${goQuote(attributes.verb)} resource ${goQuote(resource)}`;
    if (attributes.name) operation += ` named ${goQuote(attributes.name)}`;
  } else {
    operation = `${goQuote(attributes.verb)} nonResourceURL ${goQuote(attributes.path)}`;
  }
  const namespace = attributes.isResourceRequest ? attributes.namespace : '';
  const scope = namespace ? `in namespace ${goQuote(namespace)}` : 'cluster-wide';
  return `RBAC: no rules authorize user ${goQuote(attributes.user.name)} with groups ${goQuoteList(attributes.user.groups)} to ${operation} ${scope}`;
}

/**
 * Decides a request as kube-apiserver with `--authorization-mode=RBAC` does: `system:masters` first, then the
 * rules of every binding that names the user. Default deny.
 */
export function authorize(policy: RbacPolicy, attributes: RequestAttributes): Decision {
  const { user } = attributes;
  if (user.groups.includes(privilegedGroup)) {
    // The real privileged-groups authorizer gives no reason; this one is the lab's, for its audit log.
    return { allowed: true, reason: `allowed: user is in group ${goQuote(privilegedGroup)}` };
  }
  const errors: string[] = [];
  const visit = (bindings: readonly PolicyBinding[], namespace: string): Decision | undefined => {
    for (const binding of bindings) {
      const applying = binding.subjects.find(({ subject }) => appliesToUser(user, subject, namespace));
      if (!applying) continue;
      const role = resolveRoleRef(policy, binding.roleRef, namespace);
      if (typeof role === 'string') {
        errors.push(role);
        continue;
      }
      const match = role.rules.find(({ rule }) => ruleAllows(attributes, rule));
      if (!match) continue;
      return {
        allowed: true,
        reason: `RBAC: allowed by ${describeBinding(binding, applying.subject)}`,
        grant: {
          binding: { kind: binding.kind, name: binding.name, namespace: binding.namespace },
          role: { kind: role.kind, name: role.name, namespace: role.namespace },
          subject: applying.subject,
          ruleIndex: match.index,
          rule: match.rule,
        },
      };
    }
    return undefined;
  };
  const cluster = visit(policy.clusterRoleBindings, '');
  if (cluster) return cluster;
  const namespace = attributes.isResourceRequest ? attributes.namespace : '';
  if (namespace) {
    const local = visit(policy.roleBindingsByNamespace.get(namespace) ?? [], namespace);
    if (local) return local;
  }
  const line = denialLine(attributes);
  return { allowed: false, reason: errors.length ? `${line}; RBAC: ${aggregateStrings(errors)}` : line, errors };
}

/** Avoids emitting errors that look like HTML (responsewriters' sanitizer); quotes are fine. */
const sanitize = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** responsewriters.forbiddenMessage. */
function forbiddenMessage(attributes: RequestAttributes): string {
  const user = goQuote(attributes.user.name);
  if (!attributes.isResourceRequest) return `User ${user} cannot ${attributes.verb} path ${goQuote(attributes.path)}`;
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource;
  const where = attributes.namespace ? `in the namespace ${goQuote(attributes.namespace)}` : 'at the cluster scope';
  return `User ${user} cannot ${attributes.verb} resource ${goQuote(resource)} in API group ${goQuote(attributes.apiGroup)} ${where}`;
}

/**
 * The 403 a refused request gets, worded as kube-apiserver words it (responsewriters.Forbidden with
 * apierrors.NewForbidden). Verified against the source and against real messages quoted in public issues:
 * - `endpoints.submariner.io is forbidden: User "system:serviceaccount:ns:sa" cannot list resource "endpoints"
 *   in API group "submariner.io" in the namespace "ns"` (the qualified resource is resource.group, without the
 *   subresource; the `resource "..."` part carries the subresource: `cannot patch resource "nodes/status"`);
 * - a named object: `configmaps "x" is forbidden: ... in API group "" in the namespace "ns"`;
 * - cluster scope: `... at the cluster scope`;
 * - a non-resource path: `forbidden: User "system:anonymous" cannot get path "/"` with `details: {}`;
 * - resolution errors appended: `...: RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`.
 * details carries group (omitted for the core group), kind (the resource, not the Kind) and name.
 */
export function forbidden(attributes: RequestAttributes, decision?: Decision): ApiError {
  const errors = decision && !decision.allowed ? decision.errors : [];
  const reason = errors.length ? `RBAC: ${aggregateStrings(errors)}` : '';
  const message = sanitize(forbiddenMessage(attributes)) + (reason ? `: ${reason}` : '');
  const group = attributes.isResourceRequest ? attributes.apiGroup : '';
  const resource = attributes.isResourceRequest ? attributes.resource : '';
  const name = attributes.isResourceRequest ? attributes.name : '';
  const qualified = group ? `${resource}.${group}` : resource;
  let full: string;
  if (!group && !resource) full = `forbidden: ${message}`;
  else if (!name) full = `${qualified} is forbidden: ${message}`;
  else full = `${qualified} ${goQuote(name)} is forbidden: ${message}`;
  const details: StatusDetails = {};
  if (name) details.name = name;
  if (group) details.group = group;
  if (resource) details.kind = resource;
  return new ApiError(403, full, 'Forbidden', details);
}

/** One audit-log record of an authorization: who, what, the decision, and what allowed it. */
export interface AuthorizationAudit {
  user: string;
  groups: string[];
  verb: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** Non-resource requests only. */
  path?: string;
  decision: 'allow' | 'forbid';
  reason: string;
  /** `ClusterRoleBinding/<name>` or `RoleBinding/<namespace>/<name>`, when a binding allowed. */
  binding?: string;
  /** `ClusterRole/<name>#<rule index>` or `Role/<namespace>/<name>#<rule index>`: which rule was used. */
  rule?: string;
}

/** The audit record of a decision, so a test can check every request was allowed and every rule was used. */
export function auditRecord(attributes: RequestAttributes, decision: Decision): AuthorizationAudit {
  const resource = attributes.isResourceRequest
    ? { apiGroup: attributes.apiGroup, resource: attributes.resource, subresource: attributes.subresource, namespace: attributes.namespace, name: attributes.name }
    : { apiGroup: '', resource: '', subresource: '', namespace: '', name: '' };
  const record: AuthorizationAudit = {
    user: attributes.user.name, groups: [...attributes.user.groups], verb: attributes.verb, ...resource,
    decision: decision.allowed ? 'allow' : 'forbid', reason: decision.reason,
  };
  if (!attributes.isResourceRequest) record.path = attributes.path;
  const grant = decision.allowed ? decision.grant : undefined;
  if (grant) {
    const scoped = (kind: string, namespace: string, name: string) => (namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`);
    record.binding = scoped(grant.binding.kind, grant.binding.namespace, grant.binding.name);
    record.rule = `${scoped(grant.role.kind, grant.role.namespace, grant.role.name)}#${grant.ruleIndex}`;
  }
  return record;
}
