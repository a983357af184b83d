/**
 * The `scale` subresource of a custom resource whose CRD declares one: an autoscaling/v1 Scale read from and
 * written to the CRD's replica paths, as apiextensions-apiserver's scaleFromCustomResource and
 * scaleUpdatedObjectInfo do (recalled from registry/customresource/etcd.go, not re-read: inferred). A missing
 * replica count reads as 0; only spec.replicas is written; a resourceVersion in the Scale is a precondition.
 */
import type { ScaleSubresource } from './crd-manifest.ts';
import { fieldErrors, invalidStatusParts } from './field-errors.ts';
import { isObject } from './patch.ts';
import type { ResourceType } from './resources.ts';
import { errors } from './status.ts';
import type { KubeObject } from './store.ts';

function pathOf(jsonPath: string): string[] {
  return jsonPath.replace(/^\./, '').split('.');
}

function readPath(object: unknown, path: string[]): unknown {
  let current = object;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** The Scale of a custom resource. */
export function scaleOf(object: KubeObject, scale: ScaleSubresource): KubeObject {
  const number = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) ? value : 0);
  const specReplicas = number(readPath(object, pathOf(scale.specReplicasPath)));
  const status: Record<string, unknown> = { replicas: number(readPath(object, pathOf(scale.statusReplicasPath))) };
  if (scale.labelSelectorPath) {
    const selector = readPath(object, pathOf(scale.labelSelectorPath));
    if (typeof selector === 'string' && selector !== '') status.selector = selector;
  }
  const { name, namespace, uid, resourceVersion, creationTimestamp } = object.metadata;
  const metadata: KubeObject['metadata'] = { name };
  if (namespace !== undefined) metadata.namespace = namespace;
  Object.assign(metadata, { uid, resourceVersion, creationTimestamp });
  return { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata, spec: specReplicas === 0 ? {} : { replicas: specReplicas }, status };
}

/** The custom resource with a written Scale's spec.replicas at its spec replica path (checked first). */
export function withScale(existing: KubeObject, body: unknown, scale: ScaleSubresource, resource: ResourceType): KubeObject {
  if (!isObject(body)) throw errors.badRequest('the request body must be a JSON object');
  if (body.kind !== undefined && body.kind !== 'Scale') {
    throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (Scale)`);
  }
  const metadata = isObject(body.metadata) ? body.metadata : {};
  const name = existing.metadata.name;
  if (metadata.name !== undefined && metadata.name !== name) {
    throw errors.badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`);
  }
  const version = metadata.resourceVersion;
  if (typeof version === 'string' && version !== '' && version !== existing.metadata.resourceVersion) throw errors.conflict(resource, name);
  const spec = isObject(body.spec) ? body.spec : {};
  const replicas = spec.replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw errors.invalidParts(invalidStatusParts('Scale', 'autoscaling', name, [fieldErrors.invalid('spec.replicas', replicas, 'must be greater than or equal to 0')]));
  }
  const next = structuredClone(existing);
  const path = pathOf(scale.specReplicasPath);
  let target: Record<string, unknown> = next;
  for (const key of path.slice(0, -1)) {
    if (!isObject(target[key])) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[path[path.length - 1] as string] = replicas;
  return next;
}
