/**
 * The strategic-merge metadata of the built-in kinds the lab serves: which list fields merge element by
 * element (and on which key), as Kubernetes' API types declare it in their `patchStrategy` and
 * `patchMergeKey` struct tags (what kube-apiserver's strategic merge patch reads, and what its OpenAPI
 * publishes as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`); and a PatchSchema over
 * the built-in schemas (builtin-schemas.ts), so strategic-merge.ts knows which type every path of an
 * object is (spec.template.spec of a DaemonSet and spec of a Pod are both a PodSpec).
 *
 * Verified against the real types: every struct tag with a patch strategy linked into the kubectl 1.32
 * on this machine (k8s.io/api v0.32; `strings /usr/bin/kubectl | grep patchStrategy`), each matched to
 * its struct by field name and protobuf number, and spot-checked in kubernetes/api's core/v1 and apps/v1
 * types.go and apiextensions' types.go (search tool). Only types the lab's kinds reach are listed. No
 * field of Lease, Event, ConfigMap, Secret, the RBAC kinds or CustomResourceDefinition has a strategy;
 * NodeSpec.taints, PodSpec.tolerations, Container.envFrom and ServiceAccount.imagePullSecrets are atomic
 * (replaced whole) for a strategic merge patch, whatever listType they declare for server-side apply.
 */
import type { BuiltinSchemas, Schema } from './builtin-schemas.ts';
import { goQuote } from './field-errors.ts';
import { isObject } from './patch.ts';
import { mergeError, type PatchMeta, type PatchSchema } from './strategic-merge.ts';

/** A field's struct tags as Go writes them: `patchStrategy:"merge,retainKeys" patchMergeKey:"name"`. */
export interface PatchTag {
  patchStrategy: 'merge' | 'merge,retainKeys' | 'retainKeys' | 'replace';
  patchMergeKey?: string;
}

/**
 * `<Go type>.<json field>` → its tags. EphemeralContainer's four come from EphemeralContainerCommon, which
 * Go inlines into it; client-node's model (and so the lab's schema) is flat.
 */
export const PATCH_TAGS: Readonly<Record<string, PatchTag>> = {
  'ObjectMeta.finalizers': { patchStrategy: 'merge' },
  'ObjectMeta.ownerReferences': { patchStrategy: 'merge', patchMergeKey: 'uid' },
  'PodSpec.volumes': { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' },
  'PodSpec.initContainers': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'PodSpec.containers': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'PodSpec.ephemeralContainers': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'PodSpec.imagePullSecrets': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'PodSpec.hostAliases': { patchStrategy: 'merge', patchMergeKey: 'ip' },
  'PodSpec.topologySpreadConstraints': { patchStrategy: 'merge', patchMergeKey: 'topologyKey' },
  'PodSpec.schedulingGates': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'PodSpec.resourceClaims': { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' },
  'Container.ports': { patchStrategy: 'merge', patchMergeKey: 'containerPort' },
  'Container.env': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'Container.volumeMounts': { patchStrategy: 'merge', patchMergeKey: 'mountPath' },
  'Container.volumeDevices': { patchStrategy: 'merge', patchMergeKey: 'devicePath' },
  'EphemeralContainer.ports': { patchStrategy: 'merge', patchMergeKey: 'containerPort' },
  'EphemeralContainer.env': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'EphemeralContainer.volumeMounts': { patchStrategy: 'merge', patchMergeKey: 'mountPath' },
  'EphemeralContainer.volumeDevices': { patchStrategy: 'merge', patchMergeKey: 'devicePath' },
  'PodStatus.conditions': { patchStrategy: 'merge', patchMergeKey: 'type' },
  'PodStatus.podIPs': { patchStrategy: 'merge', patchMergeKey: 'ip' },
  'PodStatus.hostIPs': { patchStrategy: 'merge', patchMergeKey: 'ip' },
  'PodStatus.resourceClaimStatuses': { patchStrategy: 'merge,retainKeys', patchMergeKey: 'name' },
  'ContainerStatus.volumeMounts': { patchStrategy: 'merge', patchMergeKey: 'mountPath' },
  'ContainerStatus.allocatedResourcesStatus': { patchStrategy: 'merge', patchMergeKey: 'name' },
  'NodeSpec.podCIDRs': { patchStrategy: 'merge' },
  'NodeStatus.conditions': { patchStrategy: 'merge', patchMergeKey: 'type' },
  'NodeStatus.addresses': { patchStrategy: 'merge', patchMergeKey: 'type' },
  'NamespaceStatus.conditions': { patchStrategy: 'merge', patchMergeKey: 'type' },
  'DaemonSetStatus.conditions': { patchStrategy: 'merge', patchMergeKey: 'type' },
  'ServiceAccount.secrets': { patchStrategy: 'merge', patchMergeKey: 'name' },
};

const NO_META: PatchMeta = { strategy: '', retainKeys: false, mergeKey: '' };

/** A tag as extractRetainKeysPatchStrategy reads it: retainKeys apart, the other strategy (if any) as the strategy. */
export function patchMetaOf(tag: PatchTag | undefined): PatchMeta {
  if (!tag) return NO_META;
  const parts = tag.patchStrategy.split(',');
  const strategy = parts.find((p) => p !== 'retainKeys') ?? '';
  return { strategy: strategy as PatchMeta['strategy'], retainKeys: parts.includes('retainKeys'), mergeKey: tag.patchMergeKey ?? '' };
}

const REF_PREFIX = '#/components/schemas/';
const DEFINITION_PREFIX = 'io.k8s.lab.';

/** Values whose type says nothing (free-form JSON): maps merge, lists are replaced, nothing is refused. */
const opaque: PatchSchema = {
  kind: 'interface',
  forMap: () => ({ schema: opaque, meta: NO_META }),
  forList: () => ({ schema: opaque, meta: NO_META }),
};

/** Go's reflect kind of what a schema node describes (for the errors that name it). */
function kindOf(node: Schema): string {
  if (typeof node.$ref === 'string' || node['x-kubernetes-int-or-string'] === true) return 'struct';
  switch (node.type) {
    case 'object': return 'map';
    case 'array': return 'slice';
    case 'integer': return node.format === 'int32' ? 'int32' : 'int64';
    case 'number': return 'float64';
    case 'boolean': return 'bool';
    case 'string': return node.format === 'byte' ? 'slice' : 'string';
    default: return 'interface';
  }
}

/**
 * The PatchSchema of a built-in kind (its definition in builtin-schemas.json), resolving `$ref`s lazily
 * as the merge walks down. Errors are the ones apimachinery's PatchMetaFromStruct gives.
 */
export function builtinPatchSchema(schemas: BuiltinSchemas, definition: string): PatchSchema {
  const cache = new Map<string, PatchSchema>();
  const fromNode = (node: Schema): PatchSchema => {
    if (node['x-kubernetes-preserve-unknown-fields'] === true) return opaque;
    const ref = node.$ref;
    if (typeof ref === 'string') return struct(ref.slice(REF_PREFIX.length));
    if (node.type === 'object' && isObject(node.additionalProperties)) return map(node.additionalProperties as Schema);
    if (node.type === 'object') return opaque;
    return scalar(kindOf(node));
  };
  /** A list field's element type, or Go's error for a field that is not a list (naming the parent's kind). */
  const elements = (node: Schema | undefined, parentKind: string): PatchSchema => {
    if (!node || node.type !== 'array' || !isObject(node.items)) throw mergeError(`expected slice or array type, but got: ${parentKind}`);
    if ((node.items as Schema).type === 'array') throw mergeError('unexpected slice of slice');
    return fromNode(node.items as Schema);
  };
  const struct = (name: string): PatchSchema => {
    const cached = cache.get(name);
    if (cached) return cached;
    const typeName = name.startsWith(DEFINITION_PREFIX) ? name.slice(DEFINITION_PREFIX.length) : name;
    const properties = (schemas.definitions[name]?.properties ?? {}) as Record<string, Schema>;
    const field = (key: string): Schema => {
      const node = Object.hasOwn(properties, key) ? properties[key] : undefined;
      if (!node) throw mergeError(`unable to find api field in struct ${typeName} for the json field ${goQuote(key)}`);
      return node;
    };
    const schema: PatchSchema = {
      kind: 'struct',
      forMap: (key) => ({ schema: fromNode(field(key)), meta: patchMetaOf(PATCH_TAGS[`${typeName}.${key}`]) }),
      forList: (key) => ({ schema: elements(field(key), 'struct'), meta: patchMetaOf(PATCH_TAGS[`${typeName}.${key}`]) }),
    };
    cache.set(name, schema);
    return schema;
  };
  const map = (values: Schema): PatchSchema => ({
    kind: 'map',
    forMap: () => ({ schema: fromNode(values), meta: NO_META }),
    forList: () => ({ schema: elements(values, 'map'), meta: NO_META }),
  });
  const scalar = (kind: string): PatchSchema => {
    const refuse = (): never => { throw mergeError(`merging an object in json but data type is not struct, instead is: ${kind}`); };
    return { kind, forMap: refuse, forList: refuse };
  };
  return definition in schemas.definitions ? struct(definition) : opaque;
}

/** For kinds without a schema: every map merges, every list is replaced. */
export const untypedPatchSchema: PatchSchema = opaque;
