/** What the server knows about one kind of object: names, scope and update rules. */
export interface ResourceType {
  group: string; // '' for the core group
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
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

function define(spec: ResourceSpec): ResourceType {
  const custom = spec.group.endsWith('submariner.io');
  return {
    shortNames: [], statusSubresource: false, dropStatusOnCreate: false, allowCreateOnUpdate: false,
    unconditionalUpdate: !custom, selectableFields: [], ...spec,
  };
}

const involvedObjectFields = ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']
  .map((f) => `involvedObject.${f}`);

/** The kinds seaway and its lab use. */
export function defaultResources(): ResourceType[] {
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
    define({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease',
      namespaced: true, allowCreateOnUpdate: true }),
    define({ group: 'submariner.io', version: 'v1', plural: 'endpoints', singular: 'endpoint', kind: 'Endpoint',
      namespaced: true }),
    define({ group: 'submariner.io', version: 'v1', plural: 'clusters', singular: 'cluster', kind: 'Cluster',
      namespaced: true }),
    define({ group: 'submariner.io', version: 'v1', plural: 'gateways', singular: 'gateway', kind: 'Gateway',
      namespaced: true, statusSubresource: true, dropStatusOnCreate: true }),
    define({ group: 'submariner.io', version: 'v1', plural: 'routeagents', singular: 'routeagent', kind: 'RouteAgent',
      namespaced: true, statusSubresource: true, dropStatusOnCreate: true }),
  ];
}

export interface GroupVersion {
  group: string;
  version: string;
}

/** Lookup of resource types by group, version and plural name. */
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

  all(): ResourceType[] {
    return [...this.#byKey.values()];
  }

  hasGroupVersion(group: string, version: string): boolean {
    return this.all().some((r) => r.group === group && r.version === version);
  }

  resourcesOf(group: string, version: string): ResourceType[] {
    return this.all().filter((r) => r.group === group && r.version === version);
  }

  /** Non-core groups with their versions, in registration order. */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const r of this.all()) {
      if (!r.group) continue;
      const versions = groups.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      groups.set(r.group, versions);
    }
    return groups;
  }
}
