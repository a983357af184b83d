/**
 * Reads Role, ClusterRole, RoleBinding and ClusterRoleBinding objects as the store holds them (plain JSON,
 * `rbac.authorization.k8s.io/v1`) into the indexes the authorizer walks. Pure; never throws.
 *
 * A real API server validates RBAC objects before storing them, so its authorizer never meets a malformed one.
 * The lab's store may hold anything, so this reader is defensive, and in the direction that grants nothing:
 * - A field that is absent (or null) is an empty list, as Go's JSON decoding leaves it: a rule without
 *   `apiGroups` matches no resource request, a rule without `verbs` matches nothing, a binding without
 *   `subjects` applies to no one. That is exactly what Kubernetes would do with such a (decoded) object.
 * - A field of the wrong type (`verbs: "get"`, a number among the resources, a rule that is not an object)
 *   makes the whole rule, subject or object unusable: it is left out and named in `problems`. A real server
 *   would have refused to store it; granting a guess would make the lab more permissive than a cluster.
 * - A binding whose roleRef is missing keeps an empty kind, which the authorizer reports as Kubernetes'
 *   resolver does: `unsupported role reference kind: ""`.
 */
import { isRecord } from '../../../src/model/compare.ts';

export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface Subject {
  kind: string;
  name: string;
  /** '' when absent (a ServiceAccount subject in a RoleBinding then means the binding's namespace). */
  namespace: string;
}

export interface RoleRef {
  apiGroup: string;
  kind: string;
  name: string;
}

export interface PolicyRole {
  kind: 'Role' | 'ClusterRole';
  name: string;
  /** '' for a ClusterRole. */
  namespace: string;
  /** The usable rules with their index in the stored `rules` list (so a decision can point at one). */
  rules: Array<{ index: number; rule: PolicyRule }>;
}

export interface PolicyBinding {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  /** '' for a ClusterRoleBinding. */
  namespace: string;
  roleRef: RoleRef;
  /** The usable subjects with their index in the stored `subjects` list. */
  subjects: Array<{ index: number; subject: Subject }>;
}

/** The RBAC objects of one cluster, as stored (each list holds whatever the store holds). */
export interface RbacObjects {
  roles?: readonly unknown[];
  clusterRoles?: readonly unknown[];
  roleBindings?: readonly unknown[];
  clusterRoleBindings?: readonly unknown[];
}

export interface RbacPolicy {
  /** Keyed `<namespace>/<name>`. */
  roles: ReadonlyMap<string, PolicyRole>;
  clusterRoles: ReadonlyMap<string, PolicyRole>;
  roleBindingsByNamespace: ReadonlyMap<string, readonly PolicyBinding[]>;
  clusterRoleBindings: readonly PolicyBinding[];
  /** What was left out and why, one line each (for the lab's log; a real server has no such thing). */
  problems: string[];
}


/** A list of strings; absent or null is empty; anything else is undefined (unusable). */
function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
  return [...value] as string[];
}

/** A string field; absent or null is ''; anything else is undefined (unusable). */
function stringField(value: unknown): string | undefined {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : undefined;
}

function metadataOf(object: Record<string, unknown>): { name: string; namespace: string } | undefined {
  const metadata = object['metadata'];
  if (metadata !== undefined && metadata !== null && !isRecord(metadata)) return undefined;
  const name = stringField(metadata?.['name']);
  const namespace = stringField(metadata?.['namespace']);
  // No stored object lacks a name; one without could only be matched by a roleRef without one.
  if (!name || namespace === undefined) return undefined;
  return { name, namespace };
}

const ruleFields = ['verbs', 'apiGroups', 'resources', 'resourceNames', 'nonResourceURLs'] as const;

function readRule(value: unknown): PolicyRule | string {
  if (!isRecord(value)) return 'is not an object';
  const rule: Partial<PolicyRule> = {};
  for (const field of ruleFields) {
    const list = stringList(value[field]);
    if (list === undefined) return `${field} is not a list of strings`;
    rule[field] = list;
  }
  return rule as PolicyRule;
}

function readSubject(value: unknown): Subject | string {
  if (!isRecord(value)) return 'is not an object';
  const kind = stringField(value['kind']);
  const name = stringField(value['name']);
  const namespace = stringField(value['namespace']);
  if (kind === undefined || name === undefined || namespace === undefined) return 'kind, name or namespace is not a string';
  return { kind, name, namespace };
}

function readRoleRef(value: unknown): RoleRef | string {
  if (value === undefined || value === null) return { apiGroup: '', kind: '', name: '' };
  if (!isRecord(value)) return 'roleRef is not an object';
  const apiGroup = stringField(value['apiGroup']);
  const kind = stringField(value['kind']);
  const name = stringField(value['name']);
  if (apiGroup === undefined || kind === undefined || name === undefined) return 'roleRef apiGroup, kind or name is not a string';
  return { apiGroup, kind, name };
}

function listOf(value: unknown, what: string, problems: string[]): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  problems.push(`${what}: not a list; ignored`);
  return [];
}

/** How a problem names the object it is about. */
function label(kind: string, meta: { name: string; namespace: string } | undefined, position: number): string {
  if (!meta) return `${kind} #${position}`;
  return meta.namespace ? `${kind} "${meta.namespace}/${meta.name}"` : `${kind} "${meta.name}"`;
}

/** A stored object and its name, or undefined (with the problem said) when it is not one a role or binding can be read from. */
function storedObject(kind: string, value: unknown, position: number, problems: string[]): { value: Record<string, unknown>; meta: { name: string; namespace: string } } | undefined {
  if (!isRecord(value)) {
    problems.push(`${kind} #${position}: not an object; ignored`);
    return undefined;
  }
  const meta = metadataOf(value);
  if (!meta) {
    problems.push(`${label(kind, meta, position)}: metadata.name is missing, or metadata.name or metadata.namespace is not a string; ignored`);
    return undefined;
  }
  return { value, meta };
}

function readRole(kind: 'Role' | 'ClusterRole', input: unknown, position: number, problems: string[]): PolicyRole | undefined {
  const object = storedObject(kind, input, position, problems);
  if (!object) return undefined;
  const { value, meta } = object;
  const rules: PolicyRole['rules'] = [];
  const stored = value['rules'];
  if (stored !== undefined && stored !== null && !Array.isArray(stored)) {
    problems.push(`${label(kind, meta, position)}: rules is not a list; it grants nothing`);
  } else {
    (stored ?? []).forEach((raw: unknown, index: number) => {
      const rule = readRule(raw);
      if (typeof rule === 'string') problems.push(`${label(kind, meta, position)} rule ${index}: ${rule}; it grants nothing`);
      else rules.push({ index, rule });
    });
  }
  return { kind, name: meta.name, namespace: kind === 'Role' ? meta.namespace : '', rules };
}

function readBinding(
  kind: 'RoleBinding' | 'ClusterRoleBinding', input: unknown, position: number, problems: string[],
): PolicyBinding | undefined {
  const object = storedObject(kind, input, position, problems);
  if (!object) return undefined;
  const { value, meta } = object;
  const roleRef = readRoleRef(value['roleRef']);
  if (typeof roleRef === 'string') {
    problems.push(`${label(kind, meta, position)}: ${roleRef}; it grants nothing`);
    return undefined;
  }
  const subjects: PolicyBinding['subjects'] = [];
  const stored = value['subjects'];
  if (stored !== undefined && stored !== null && !Array.isArray(stored)) {
    problems.push(`${label(kind, meta, position)}: subjects is not a list; it applies to no one`);
  } else {
    (stored ?? []).forEach((raw: unknown, index: number) => {
      const subject = readSubject(raw);
      if (typeof subject === 'string') problems.push(`${label(kind, meta, position)} subject ${index}: ${subject}; ignored`);
      else subjects.push({ index, subject });
    });
  }
  return { kind, name: meta.name, namespace: kind === 'RoleBinding' ? meta.namespace : '', roleRef, subjects };
}

/** Indexes the RBAC objects for `authorize`. Build it again whenever the objects change. */
export function compilePolicy(objects: RbacObjects): RbacPolicy {
  const problems: string[] = [];
  const roles = new Map<string, PolicyRole>();
  const clusterRoles = new Map<string, PolicyRole>();
  const roleBindingsByNamespace = new Map<string, PolicyBinding[]>();
  const clusterRoleBindings: PolicyBinding[] = [];

  listOf(objects.roles, 'roles', problems).forEach((value, i) => {
    const role = readRole('Role', value, i, problems);
    // A store keys objects by namespace and name, so duplicates cannot happen there; the first one wins here.
    if (role && !roles.has(`${role.namespace}/${role.name}`)) roles.set(`${role.namespace}/${role.name}`, role);
  });
  listOf(objects.clusterRoles, 'clusterRoles', problems).forEach((value, i) => {
    const role = readRole('ClusterRole', value, i, problems);
    if (role && !clusterRoles.has(role.name)) clusterRoles.set(role.name, role);
  });
  listOf(objects.roleBindings, 'roleBindings', problems).forEach((value, i) => {
    const binding = readBinding('RoleBinding', value, i, problems);
    if (!binding) return;
    const list = roleBindingsByNamespace.get(binding.namespace) ?? [];
    list.push(binding);
    roleBindingsByNamespace.set(binding.namespace, list);
  });
  listOf(objects.clusterRoleBindings, 'clusterRoleBindings', problems).forEach((value, i) => {
    const binding = readBinding('ClusterRoleBinding', value, i, problems);
    if (binding) clusterRoleBindings.push(binding);
  });
  return { roles, clusterRoles, roleBindingsByNamespace, clusterRoleBindings, problems };
}
