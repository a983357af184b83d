import { apiVersionOf, resourceVerbs, subresourceVerbs, type ResourceRegistry } from './resources.ts';

/** The discovery documents and plain endpoints: `/api`, `/apis`, group and group/version lists, `/version`. */
export function discoveryDocument(pathname: string, registry: ResourceRegistry, serverAddress: string): unknown {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/version') {
    return {
      major: '1', minor: '31', gitVersion: 'v1.31.0-seaway-lab', gitCommit: '', gitTreeState: 'clean',
      buildDate: '2025-01-01T00:00:00Z', goVersion: 'none', compiler: 'none', platform: `${process.platform}/${process.arch}`,
    };
  }
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }
  const groupDocument = (name: string, versions: string[]) => {
    const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions: list, preferredVersion: list[0] };
  };
  if (path === '/apis') {
    const groups = [...registry.groups()].map(([name, versions]) => groupDocument(name, versions));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  const segments = path.split('/').slice(1);
  if (segments[0] === 'apis' && segments.length === 2) {
    const versions = registry.groups().get(segments[1] ?? '');
    return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(segments[1] ?? '', versions) } : undefined;
  }
  const [group, version] = segments[0] === 'api' && segments.length === 2 ? ['', segments[1] ?? '']
    : segments[0] === 'apis' && segments.length === 3 ? [segments[1] ?? '', segments[2] ?? ''] : [undefined, undefined];
  if (group === undefined || !registry.hasGroupVersion(group, version)) return undefined;
  const resources = registry.resourcesOf(group, version).flatMap((r) => {
    const main = {
      name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: resourceVerbs,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    };
    const status = { name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: subresourceVerbs };
    // Scale is autoscaling/v1's kind whatever the resource's group (as the CRD handler's discovery says).
    const scale = { name: `${r.plural}/scale`, singularName: '', namespaced: r.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: subresourceVerbs };
    return [main, ...(r.statusSubresource ? [status] : []), ...(r.scale ? [scale] : [])];
  });
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}
