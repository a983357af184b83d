import { loadBuiltinSchemas, type BuiltinSchemas } from './builtin-schemas.ts';
import type { ScaleSubresource } from './crd-manifest.ts';
import type { JsonSchemaProps } from './structural-schema.ts';

/** What the server knows about one kind of object: names, scope and update rules. */
export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Discovery categories (`kubectl get all` uses `all`). */
  categories: string[];
  /** Has a `status` subresource: the main resource ignores status changes, `/status` changes only status. */
  statusSubresource: boolean;
  /** Status in a create body is dropped (custom resources with a status subresource do this). */
  dropStatusOnCreate: boolean;
  /** PUT to a missing object creates it (events, leases). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is allowed (built-in kinds; custom resources require it). */
  unconditionalUpdate: boolean;
  /** Field selector labels beyond metadata.name and metadata.namespace. */
  selectableFields: string[];
  /** A `scale` subresource (custom resources whose CRD declares one). */
  scale?: ScaleSubresource;
  /** Custom resources: the CRD version's openAPIV3Schema every write is pruned and validated against. */
  schema?: JsonSchemaProps;
  /** Built-in kinds: their schemas (builtin-schemas.ts), for unknown fields and OpenAPI, and the definition of this kind. */
  builtin?: { schemas: BuiltinSchemas; definition: string };
  /** Custom resources: the name of the CustomResourceDefinition that serves this kind. */
  crd?: string;
  /** Custom resources whose CRD is being deleted: creates are refused (405) until the kind goes away. */
  terminating?: boolean;
}

export const resourceVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const subresourceVerbs = ['get', 'patch', 'update'];

export function apiVersionOf(resource: Pick<ResourceType, 'group' | 'version'>): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

export function resourceKey(resource: Pick<ResourceType, 'group' | 'version' | 'plural'>): string {
  return `${resource.group}/${resource.version}/${resource.plural}`;
}

type ResourceSpec = Pick<ResourceType, 'group' | 'version' | 'plural' | 'singular' | 'kind' | 'namespaced'> & Partial<ResourceType>;

/** A built-in kind: unconditional updates allowed, no schema (beyond the generic metadata checks). */
export function define(spec: ResourceSpec): ResourceType {
  return {
    shortNames: [], categories: [], statusSubresource: false, dropStatusOnCreate: false, allowCreateOnUpdate: false,
    unconditionalUpdate: true, selectableFields: [], ...spec,
  };
}

const involvedObjectFields = ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']
  .map((f) => `involvedObject.${f}`);

export const CRD_GROUP = 'apiextensions.k8s.io';

/**
 * The built-in kinds the lab serves (what seaway, Submariner's manifests and kubectl use). Custom resources,
 * Submariner's included, come from CustomResourceDefinitions registered at run time (crd-controller.ts).
 */
export function defaultResources(): ResourceType[] {
  const schemas = loadBuiltinSchemas();
  return builtinKinds().map((resource) => {
    const definition = schemas.kinds[`${apiVersionOf(resource)}/${resource.kind}`];
    return definition === undefined ? resource : { ...resource, builtin: { schemas, definition } };
  });
}

function builtinKinds(): ResourceType[] {
  const rbac = 'rbac.authorization.k8s.io';
  return [
    define({ group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false,
      shortNames: ['ns'], statusSubresource: true, selectableFields: ['status.phase'] }),
    define({ group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false,
      shortNames: ['no'], statusSubresource: true, selectableFields: ['spec.unschedulable'] }),
    define({ group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true,
      shortNames: ['ev'], allowCreateOnUpdate: true,
      selectableFields: [...involvedObjectFields, 'reason', 'reportingComponent', 'source', 'type'] }),
    define({ group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true,
      selectableFields: ['type'] }),
    define({ group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true,
      shortNames: ['cm'] }),
    define({ group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount',
      namespaced: true, shortNames: ['sa'] }),
    // A Pod's status is the kubelet's: a create starts it Pending (PodStrategy.PrepareForCreate).
    define({ group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'],
      categories: ['all'], statusSubresource: true, dropStatusOnCreate: true,
      selectableFields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'] }),
    define({ group: 'apps', version: 'v1', plural: 'daemonsets', singular: 'daemonset', kind: 'DaemonSet', namespaced: true,
      shortNames: ['ds'], categories: ['all'], statusSubresource: true, dropStatusOnCreate: true }),
    // The Lease strategy allows create-on-update but not unconditional updates (a resourceVersion is required).
    define({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease',
      namespaced: true, allowCreateOnUpdate: true, unconditionalUpdate: false }),
    define({ group: rbac, version: 'v1', plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false }),
    define({ group: rbac, version: 'v1', plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false }),
    define({ group: rbac, version: 'v1', plural: 'roles', singular: 'role', kind: 'Role', namespaced: true }),
    define({ group: rbac, version: 'v1', plural: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true }),
    // CRDs: status (conditions, acceptedNames) is the server's; updates need a resourceVersion (AllowUnconditionalUpdate false).
    define({ group: CRD_GROUP, version: 'v1', plural: 'customresourcedefinitions', singular: 'customresourcedefinition',
      kind: 'CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'],
      statusSubresource: true, dropStatusOnCreate: true, unconditionalUpdate: false }),
  ];
}

export interface GroupVersion {
  group: string;
  version: string;
}

/**
 * Kubernetes' version priority (kube-aware ordering): GA before beta before alpha, higher major first, then
 * higher minor; versions not of the form v<N>[(alpha|beta)<M>] after those, alphabetically.
 */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    return { major: Number(m[1]), level: m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2, minor: Number(m[3] ?? 0) };
  };
  const pa = parse(a);
  const pb = parse(b);
  if (pa && pb) {
    if (pa.level !== pb.level) return pb.level - pa.level;
    if (pa.major !== pb.major) return pb.major - pa.major;
    return pb.minor - pa.minor;
  }
  if (pa) return -1;
  if (pb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lookup of resource types by group, version and plural name. Built-in kinds are given at construction;
 * custom resources are registered and unregistered at run time as their CRDs come and go.
 */
export class ResourceRegistry {
  readonly #byKey = new Map<string, ResourceType>();

  constructor(resources: ResourceType[]) {
    for (const resource of resources) {
      const key = resourceKey(resource);
      if (this.#byKey.has(key)) throw new Error(`duplicate resource ${key}`);
      this.#byKey.set(key, resource);
    }
  }

  lookup(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#byKey.get(resourceKey({ group, version, plural }));
  }

  /** By resourceKey() (the key the store files its objects under). */
  lookupKey(key: string): ResourceType | undefined {
    return this.#byKey.get(key);
  }

  all(): ResourceType[] {
    return [...this.#byKey.values()];
  }

  /** The kinds one CRD serves (one per served version). */
  ofCrd(crd: string): ResourceType[] {
    return this.all().filter((r) => r.crd === crd);
  }

  /** Serves `resources` for `crd` in place of what it served before; a key some other kind holds is refused. */
  setCrdResources(crd: string, resources: ResourceType[]): void {
    for (const resource of resources) {
      const holder = this.#byKey.get(resourceKey(resource));
      if (holder && holder.crd !== crd) throw new Error(`${resourceKey(resource)} is already served`);
    }
    for (const old of this.ofCrd(crd)) this.#byKey.delete(resourceKey(old));
    for (const resource of resources) this.#byKey.set(resourceKey(resource), { ...resource, crd });
  }

  hasGroupVersion(group: string, version: string): boolean {
    return this.all().some((r) => r.group === group && r.version === version);
  }

  resourcesOf(group: string, version: string): ResourceType[] {
    return this.all().filter((r) => r.group === group && r.version === version);
  }

  /**
   * Non-core groups with their versions, preferred version first: built-in groups in registration order,
   * then the groups of custom resources by name (as the aggregator orders CRD groups, priority 1000), their
   * versions in Kubernetes' version priority.
   */
  groups(): Map<string, string[]> {
    const builtIn = new Map<string, string[]>();
    const custom = new Map<string, string[]>();
    for (const r of this.all()) {
      if (!r.group) continue;
      const target = r.crd === undefined || builtIn.has(r.group) ? builtIn : custom;
      const versions = target.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      target.set(r.group, versions);
    }
    const groups = new Map(builtIn);
    for (const name of [...custom.keys()].sort()) groups.set(name, (custom.get(name) as string[]).sort(compareKubeVersions));
    return groups;
  }
}
