/**
 * Strategic merge patch in the lab API server (apiserver/strategic-merge.ts, apiserver/patch-strategies.ts):
 * the merge rules and directives as apimachinery applies them server side, the types' merge keys, the errors
 * and codes a real API server gives for malformed patches, and the real kubectl 1.32's client-side apply,
 * `set env` and `patch` against a lab server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { loadBuiltinSchemas } from './apiserver/builtin-schemas.ts';
import { goSprint } from './apiserver/field-errors.ts';
import type { Json } from './apiserver/patch.ts';
import { builtinPatchSchema, PATCH_TAGS, patchMetaOf, untypedPatchSchema } from './apiserver/patch-strategies.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { ApiError } from './apiserver/status.ts';
import { sortStable, strategicMergePatch, type PatchSchema } from './apiserver/strategic-merge.ts';
import { writeKubeconfigFile } from './apiserver/test-support.ts';

type JsonMap = { [key: string]: Json };

const schemas = loadBuiltinSchemas();
const kindSchema = (kind: string) => builtinPatchSchema(schemas, `io.k8s.lab.${kind}`);
const daemonSet = kindSchema('DaemonSet');
const pod = kindSchema('Pod');

const smp = (schema: PatchSchema, original: JsonMap, patch: JsonMap) => strategicMergePatch(original, patch, schema).object;
/** A DaemonSet whose pod template has these containers (and volumes). */
const dsWith = (containers: Json[], extra: JsonMap = {}): JsonMap => ({ spec: { template: { spec: { containers, ...extra } } } });
const containersOf = (object: JsonMap) => ((object.spec as JsonMap).template as JsonMap).spec as JsonMap;
const podSpec = (object: JsonMap) => object.spec as JsonMap;
const names = (list: Json | undefined) => (list as JsonMap[]).map((item) => item.name ?? item.mountPath ?? item.type);

/** Runs the merge expecting the API server's refusal: its code, reason and message. */
function refusal(schema: PatchSchema, original: JsonMap, patch: JsonMap): { code: number; reason: string; message: string } {
  try {
    strategicMergePatch(original, patch, schema);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.code, reason: error.reason, message: error.message };
  }
  throw new Error('expected the merge to be refused, but it succeeded');
}

describe('merge rules', () => {
  test('maps merge recursively; null deletes a key; a null for an absent key, and nulls inside a new value, are dropped', () => {
    const original = { metadata: { labels: { a: '1', b: '2' } }, spec: { minReadySeconds: 5 } };
    const patched = smp(daemonSet, original, {
      metadata: { labels: { b: null, c: '3', never: null }, annotations: { x: null, y: 'v' } },
      spec: { minReadySeconds: null, updateStrategy: { type: 'OnDelete', rollingUpdate: null } },
    });
    assert.deepEqual(patched, { metadata: { labels: { a: '1', c: '3' }, annotations: { y: 'v' } }, spec: { updateStrategy: { type: 'OnDelete' } } });
  });

  test('a merge-key list merges element by element: a matching element is merged into, a new one is added; order: the patch\'s, then the original\'s others', () => {
    const original = dsWith([
      { name: 'c', image: 'old', env: [{ name: 'A', value: '1' }] },
      { name: 'side', image: 'pause' },
    ]);
    const patched = smp(daemonSet, original, dsWith([{ name: 'new', image: 'n' }, { name: 'c', image: 'y' }]));
    assert.deepEqual(containersOf(patched).containers, [
      { name: 'new', image: 'n' },
      { name: 'c', image: 'y', env: [{ name: 'A', value: '1' }] },
      { name: 'side', image: 'pause' },
    ]);
  });

  test('nested merge lists use their own keys: env by name, ports by containerPort, volumeMounts by mountPath, volumeDevices by devicePath', () => {
    const original = dsWith([{
      name: 'c', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80, name: 'http' }],
      volumeMounts: [{ name: 'v', mountPath: '/a' }], volumeDevices: [{ name: 'd', devicePath: '/dev/x' }],
    }]);
    const patched = smp(daemonSet, original, dsWith([{
      name: 'c', env: [{ name: 'B', value: '3' }], ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443 }],
      volumeMounts: [{ mountPath: '/a', readOnly: true }], volumeDevices: [{ devicePath: '/dev/x', name: 'd2' }],
    }]));
    const [container] = containersOf(patched).containers as JsonMap[];
    assert.deepEqual(container, {
      name: 'c',
      env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }],
      ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }, { containerPort: 443 }],
      volumeMounts: [{ name: 'v', mountPath: '/a', readOnly: true }],
      volumeDevices: [{ name: 'd2', devicePath: '/dev/x' }],
    });
  });

  test('a merge list of scalars is a union without duplicates (finalizers, a Node\'s podCIDRs)', () => {
    assert.deepEqual(smp(daemonSet, { metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['b', 'c'] } }), { metadata: { finalizers: ['a', 'b', 'c'] } });
    assert.deepEqual(smp(kindSchema('Node'), { spec: { podCIDRs: ['10.0.0.0/24'] } }, { spec: { podCIDRs: ['fd00::/64', '10.0.0.0/24'] } }),
      { spec: { podCIDRs: ['fd00::/64', '10.0.0.0/24'] } });
  });

  test('every other list is replaced whole: tolerations, args, a Node\'s taints, a ClusterRole\'s rules, a CRD\'s conditions', () => {
    const original = dsWith([{ name: 'c', args: ['a', 'b'] }], { tolerations: [{ key: 'x' }, { key: 'y' }] });
    const patched = smp(daemonSet, original, dsWith([{ name: 'c', args: ['z'] }], { tolerations: [{ key: 'z' }] }));
    assert.deepEqual(containersOf(patched), { containers: [{ name: 'c', args: ['z'] }], tolerations: [{ key: 'z' }] });
    assert.deepEqual(smp(kindSchema('Node'), { spec: { taints: [{ key: 'a', effect: 'NoSchedule' }] } }, { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } }),
      { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } });
    assert.deepEqual(smp(kindSchema('ClusterRole'), { rules: [{ verbs: ['get'] }, { verbs: ['list'] }] }, { rules: [{ verbs: ['watch'] }] }), { rules: [{ verbs: ['watch'] }] });
    assert.deepEqual(smp(kindSchema('CustomResourceDefinition'), { status: { conditions: [{ type: 'A', status: 'True' }, { type: 'B', status: 'True' }] } },
      { status: { conditions: [{ type: 'A', status: 'False' }] } }), { status: { conditions: [{ type: 'A', status: 'False' }] } });
  });

  test('a list in the patch whose original is something else, or absent, is taken as it is', () => {
    assert.deepEqual(smp(daemonSet, { spec: { template: { spec: { containers: 'oops' } } } }, dsWith([{ name: 'c' }])), dsWith([{ name: 'c' }]));
    assert.deepEqual(smp(daemonSet, {}, dsWith([{ name: 'c' }, { name: 'd' }])), dsWith([{ name: 'c' }, { name: 'd' }]));
  });
});

describe('the types behind each path', () => {
  test('a Pod\'s spec is a PodSpec: containers merge by name, initContainers too, imagePullSecrets by name, hostAliases by ip', () => {
    const patched = smp(pod, {
      spec: { containers: [{ name: 'a', image: '1' }], initContainers: [{ name: 'i', image: '1' }], imagePullSecrets: [{ name: 's' }], hostAliases: [{ ip: '10.0.0.1', hostnames: ['a'] }] },
    }, {
      spec: { containers: [{ name: 'a', image: '2' }], initContainers: [{ name: 'j' }], imagePullSecrets: [{ name: 't' }], hostAliases: [{ ip: '10.0.0.1', hostnames: ['b'] }] },
    });
    assert.deepEqual(podSpec(patched), {
      containers: [{ name: 'a', image: '2' }], initContainers: [{ name: 'j' }, { name: 'i', image: '1' }],
      imagePullSecrets: [{ name: 't' }, { name: 's' }], hostAliases: [{ ip: '10.0.0.1', hostnames: ['b'] }],
    });
  });

  test('a Pod\'s status conditions and podIPs merge by type and ip; a Node\'s conditions and addresses by type', () => {
    const podStatus = smp(pod, { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Initialized', status: 'True' }], podIPs: [{ ip: '10.0.0.5' }] } },
      { status: { conditions: [{ type: 'Ready', status: 'True' }], podIPs: [{ ip: 'fd00::5' }] } });
    assert.deepEqual(podStatus.status, { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Initialized', status: 'True' }], podIPs: [{ ip: 'fd00::5' }, { ip: '10.0.0.5' }] });
    const node = smp(kindSchema('Node'), { status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'False' }], addresses: [{ type: 'InternalIP', address: '192.168.1.1' }] } },
      { status: { conditions: [{ type: 'DiskPressure', status: 'True' }], addresses: [{ type: 'Hostname', address: 'n1' }] } });
    assert.deepEqual(node.status, {
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'True' }],
      addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: '192.168.1.1' }],
    });
  });

  test('ObjectMeta is the same type in every kind: ownerReferences merge by uid (here a ConfigMap\'s); a ServiceAccount\'s secrets by name; ConfigMap data merges as a map', () => {
    const configMap = smp(kindSchema('ConfigMap'), { metadata: { ownerReferences: [{ uid: 'u1', name: 'a' }] }, data: { a: '1', b: '2' } },
      { metadata: { ownerReferences: [{ uid: 'u2', name: 'b' }, { uid: 'u1', name: 'a2' }] }, data: { b: null, c: '3' } });
    assert.deepEqual(configMap, { metadata: { ownerReferences: [{ uid: 'u2', name: 'b' }, { uid: 'u1', name: 'a2' }] }, data: { a: '1', c: '3' } });
    assert.deepEqual(smp(kindSchema('ServiceAccount'), { secrets: [{ name: 'a' }] }, { secrets: [{ name: 'b' }] }), { secrets: [{ name: 'b' }, { name: 'a' }] });
  });

  test('every table entry names a list field of a type the served kinds reach, with a merge key only where elements are objects', () => {
    for (const [path, tag] of Object.entries(PATCH_TAGS)) {
      const [type, field] = path.split('.') as [string, string];
      const property = (schemas.definitions[`io.k8s.lab.${type}`]?.properties as Record<string, JsonMap> | undefined)?.[field];
      assert.equal(property?.type, 'array', `${path} is a list field`);
      const objects = typeof (property?.items as JsonMap).$ref === 'string';
      assert.equal(tag.patchMergeKey !== undefined, objects, `${path}: merge key iff elements are objects`);
    }
    assert.deepEqual(patchMetaOf(PATCH_TAGS['PodSpec.volumes']), { strategy: 'merge', retainKeys: true, mergeKey: 'name' });
    assert.deepEqual(patchMetaOf(PATCH_TAGS['ObjectMeta.finalizers']), { strategy: 'merge', retainKeys: false, mergeKey: '' });
    assert.deepEqual(patchMetaOf(undefined), { strategy: '', retainKeys: false, mergeKey: '' });
  });

  test('without a schema every map merges and every list is replaced', () => {
    assert.deepEqual(strategicMergePatch({ a: { b: 1 }, l: [{ name: 'x' }] }, { a: { c: 2 }, l: [{ name: 'y' }] }, untypedPatchSchema).object,
      { a: { b: 1, c: 2 }, l: [{ name: 'y' }] });
  });
});

describe('directives', () => {
  test('$patch: replace on a map replaces it with the rest of the patch map', () => {
    const patched = smp(pod, { metadata: { labels: { a: '1', b: '2' } }, spec: { securityContext: { runAsUser: 1, fsGroup: 2 } } },
      { metadata: { labels: { $patch: 'replace', c: '3' } }, spec: { securityContext: { $patch: 'replace', runAsUser: 3 } } });
    assert.deepEqual(patched, { metadata: { labels: { c: '3' } }, spec: { securityContext: { runAsUser: 3 } } });
  });

  test('$patch: replace as a list element makes the patch\'s other elements the whole list', () => {
    const original = dsWith([{ name: 'a', image: '1' }, { name: 'b', image: '2' }]);
    assert.deepEqual(containersOf(smp(daemonSet, original, dsWith([{ name: 'only', image: 'x' }, { $patch: 'replace' }]))).containers, [{ name: 'only', image: 'x' }]);
  });

  test('$patch: delete on a map empties it (Go gives {}); on a map the original lacks, nothing is added', () => {
    const patched = smp(pod, { spec: { securityContext: { runAsUser: 1 } } }, { spec: { securityContext: { $patch: 'delete' }, dnsConfig: { $patch: 'delete' } } });
    assert.deepEqual(patched, { spec: { securityContext: {} } });
  });

  test('{<key>: x, $patch: delete} as a list element deletes x (an absent x is no error)', () => {
    const original = dsWith([{ name: 'c', volumeMounts: [{ name: 'v1', mountPath: '/a' }, { name: 'v2', mountPath: '/b' }] }],
      { volumes: [{ name: 'v1', emptyDir: {} }, { name: 'v2', emptyDir: {} }] });
    const patched = smp(daemonSet, original, dsWith([{ name: 'c', volumeMounts: [{ mountPath: '/b', $patch: 'delete' }] }],
      { volumes: [{ name: 'v2', $patch: 'delete' }, { name: 'absent', $patch: 'delete' }] }));
    assert.deepEqual(containersOf(patched), {
      containers: [{ name: 'c', volumeMounts: [{ name: 'v1', mountPath: '/a' }] }],
      volumes: [{ name: 'v1', emptyDir: {} }],
    });
  });

  test('$retainKeys clears the keys it does not list (a volume changing from hostPath to emptyDir)', () => {
    const original = dsWith([], { volumes: [{ name: 'v', hostPath: { path: '/a', type: 'Directory' } }] });
    const patched = smp(daemonSet, original, { spec: { template: { spec: { volumes: [{ name: 'v', emptyDir: {}, $retainKeys: ['emptyDir', 'name'] }] } } } });
    assert.deepEqual(containersOf(patched).volumes, [{ name: 'v', emptyDir: {} }]);
  });

  test('$setElementOrder orders the merged list: the listed elements in its order, the original\'s others interleaved by their original position', () => {
    const original = dsWith([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const reordered = smp(daemonSet, original, { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }] } } } });
    assert.deepEqual(names(containersOf(reordered).containers), ['c', 'a', 'b']);
    // `b` is not listed: it goes before `c`, which followed it in the original (mergeSortedSlice), not at the end.
    const partial = smp(daemonSet, original, { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }], containers: [{ name: 'a', image: 'x' }] } } } });
    assert.deepEqual(containersOf(partial).containers, [{ name: 'b' }, { name: 'c' }, { name: 'a', image: 'x' }]);
    const scalars = smp(daemonSet, { metadata: { finalizers: ['x', 'y'] } }, { metadata: { '$setElementOrder/finalizers': ['z', 'y', 'x'], finalizers: ['z'] } });
    assert.deepEqual(scalars, { metadata: { finalizers: ['z', 'y', 'x'] } });
  });

  test('a deletion and an addition in one list show through in the order, as Go\'s shared slices make them', () => {
    // Live [a b x] (x added by someone else), last applied [a b], new manifest [a d]: kubectl's patch.
    const original = dsWith([{ name: 'a' }, { name: 'b' }, { name: 'x' }]);
    const patched = smp(daemonSet, original, { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'a' }, { name: 'd' }],
      containers: [{ name: 'd', image: 'd' }, { name: 'b', $patch: 'delete' }],
    } } } });
    assert.deepEqual(names(containersOf(patched).containers), ['a', 'x', 'd']);
  });

  test('$deleteFromPrimitiveList/<list> removes those scalars, whatever the list\'s strategy', () => {
    assert.deepEqual(smp(daemonSet, { metadata: { finalizers: ['a', 'b', 'c', 'b'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } }),
      { metadata: { finalizers: ['a', 'c'] } });
    const args = smp(daemonSet, dsWith([{ name: 'c', args: ['-v', '--x'] }]), dsWith([{ name: 'c', '$deleteFromPrimitiveList/args': ['--x'] }]));
    assert.deepEqual(containersOf(args).containers, [{ name: 'c', args: ['-v'] }]);
    assert.deepEqual(smp(daemonSet, { metadata: {} }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } }), { metadata: {} });
  });

  test('kubectl\'s three-way patch (as captured from kubectl apply) leaves no directive in the object', () => {
    const original = dsWith([
      { name: 'c', image: 'busybox', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }], volumeMounts: [{ name: 'v1', mountPath: '/a' }, { name: 'v2', mountPath: '/b' }] },
      { name: 'side', image: 'pause' },
    ], { volumes: [{ name: 'v1', hostPath: { path: '/a' } }, { name: 'v2', emptyDir: {} }] });
    const patch = { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'c' }, { name: 'side' }], '$setElementOrder/volumes': [{ name: 'v1' }],
      containers: [{
        '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }], '$setElementOrder/ports': [{ containerPort: 80 }, { containerPort: 443 }],
        '$setElementOrder/volumeMounts': [{ mountPath: '/a' }], env: [{ name: 'B', value: '3' }], name: 'c', ports: [{ containerPort: 443 }],
        volumeMounts: [{ $patch: 'delete', mountPath: '/b' }],
      }],
      volumes: [{ $patch: 'delete', name: 'v2' }],
    } } } };
    const patched = smp(daemonSet, original, patch);
    assert.deepEqual(patched, dsWith([
      { name: 'c', image: 'busybox', env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }], ports: [{ containerPort: 80 }, { containerPort: 443 }], volumeMounts: [{ name: 'v1', mountPath: '/a' }] },
      { name: 'side', image: 'pause' },
    ], { volumes: [{ name: 'v1', hostPath: { path: '/a' } }] }));
    assert.doesNotMatch(JSON.stringify(patched), /\$/);
  });

  test('a value the original lacks is taken without the maps in it that carry $patch', () => {
    const patched = smp(pod, { spec: {} }, { spec: { affinity: { nodeAffinity: { $patch: 'delete' }, podAffinity: { x: 1 } }, tolerations: [{ key: 'a' }, { $patch: 'delete' }] } });
    assert.deepEqual(patched, { spec: { affinity: { podAffinity: { x: 1 } }, tolerations: [{ key: 'a' }] } });
  });

  test('neither the original nor the patch is modified; the patch comes back as the merge leaves it (directives consumed)', () => {
    const original = dsWith([{ name: 'a', image: '1' }]);
    const patch = { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'a' }], containers: [{ name: 'a', image: '2' }] } } }, metadata: { labels: { x: 'y' } } };
    const [originalCopy, patchCopy] = [structuredClone(original), structuredClone(patch)];
    const result = strategicMergePatch(original, patch, daemonSet);
    assert.deepEqual(original, originalCopy);
    assert.deepEqual(patch, patchCopy);
    assert.equal(goSprint(result.patch), 'map[metadata:map[labels:map[x:y]] spec:map[template:map[spec:map[]]]]');
  });
});

describe('malformed patches get the API server\'s answers', () => {
  const original = { metadata: { labels: { a: '1' }, finalizers: ['f'] }, ...dsWith([{ name: 'c', image: 'x', env: [{ name: 'A', value: '1' }] }], { securityContext: { runAsUser: 1 } }) };

  test('a $patch directive with an unknown value: 500 with apimachinery\'s words, in a map and in a list', () => {
    assert.deepEqual(refusal(daemonSet, original, { spec: { template: { spec: { securityContext: { $patch: 'foo', runAsUser: 2 } } } } }),
      { code: 500, reason: '', message: 'unknown patch type: foo in map: map[$patch:foo runAsUser:2]' });
    assert.equal(refusal(daemonSet, original, { metadata: { labels: { $patch: 5 } } }).message, 'unknown patch type: %!s(int64=5) in map: map[$patch:5]');
    assert.deepEqual(refusal(daemonSet, original, dsWith([{ name: 'c', $patch: 'bogus' }])),
      { code: 500, reason: '', message: 'unknown patch type: bogus in map: map[$patch:bogus name:c]' });
    assert.equal(refusal(daemonSet, original, dsWith([{ name: 'c', $patch: 'merge' }])).message, 'merging lists cannot yet be specified in the patch');
  });

  test('a merge-list element without its merge key: 500 "does not contain declared merge key", also for a deletion', () => {
    assert.deepEqual(refusal(daemonSet, original, dsWith([{ image: 'y' }])),
      { code: 500, reason: '', message: 'map: map[image:y] does not contain declared merge key: name' });
    assert.equal(refusal(daemonSet, original, dsWith([{ $patch: 'delete' }])).message, 'map: map[$patch:delete] does not contain declared merge key: name');
    assert.equal(refusal(daemonSet, original, dsWith([{ name: 'c', env: [{ value: '2' }] }])).message, 'map: map[value:2] does not contain declared merge key: name');
  });

  test('$retainKeys that is not a list, or that leaves out a key the patch sets: 400 "invalid patch format of retainKeys"', () => {
    for (const patch of [
      { spec: { template: { spec: { securityContext: { $retainKeys: 'runAsUser' } } } } },
      { spec: { template: { spec: { securityContext: { $retainKeys: ['fsGroup'], runAsUser: 2 } } } } },
    ] as JsonMap[]) assert.deepEqual(refusal(daemonSet, original, patch), { code: 400, reason: 'BadRequest', message: 'invalid patch format of retainKeys' });
  });

  test('directive keys without their "/<list>": 400 naming the directive\'s format', () => {
    assert.deepEqual(refusal(daemonSet, original, { metadata: { $setElementOrder: [] } }), { code: 400, reason: 'BadRequest', message: 'invalid patch format of setElementOrder list' });
    assert.deepEqual(refusal(daemonSet, original, { metadata: { '$deleteFromPrimitiveListfinalizers': ['a'] } }), { code: 400, reason: 'BadRequest', message: 'invalid patch format of primitive list' });
  });

  test('$setElementOrder that is not a list, or that contradicts the patch\'s order: 500 with Go\'s words', () => {
    assert.equal(refusal(daemonSet, original, { spec: { template: { spec: { '$setElementOrder/containers': 'c' } } } }).message, 'expected a []interface {}, but received a string');
    const contradiction = refusal(daemonSet, dsWith([{ name: 'a' }, { name: 'b' }]), { spec: { template: { spec: {
      '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }], containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }],
    } } } });
    assert.deepEqual(contradiction, {
      code: 500, reason: '',
      message: 'The order in patch list:\n[map[image:x name:a] map[image:y name:b]]\n doesn\'t match $setElementOrder list:\n[map[name:b] map[name:a]]\n',
    });
  });

  test('a list of lists in a merge list is 422; elements of mixed types are 500', () => {
    assert.deepEqual(refusal(daemonSet, { metadata: { finalizers: [] } }, { metadata: { finalizers: [['a']] } }),
      { code: 422, reason: 'Invalid', message: 'the server rejected our request due to an error in our request' });
    assert.deepEqual(refusal(daemonSet, { metadata: { finalizers: ['a'] } }, { metadata: { finalizers: [{ x: 1 }] } }),
      { code: 500, reason: '', message: 'list element types are not identical: [[a] [map[x:1]]]' });
  });

  test('a field the type lacks, met in both the original and the patch: 500 as PatchMetaFromStruct says it', () => {
    assert.equal(refusal(pod, { spec: { bogus: { a: 1 } } }, { spec: { bogus: { b: 2 } } }).message, 'unable to find api field in struct PodSpec for the json field "bogus"');
    assert.equal(refusal(pod, { spec: { bogus: [1] } }, { spec: { '$setElementOrder/bogus': [1] } }).message, 'unable to find api field in struct PodSpec for the json field "bogus"');
    assert.equal(refusal(pod, { spec: { hostname: 'h' } }, { spec: { '$setElementOrder/nodeName': [] } }).message, 'expected slice or array type, but got: struct');
    assert.equal(refusal(pod, { spec: { nodeName: 'n' } }, { spec: { '$setElementOrder/nodeName': ['n'] } }).message, 'expected a []interface {}, but received a string');
  });
});

test('sortStable is a stable sort (Go\'s insertion blocks of 20 and SymMerge), for lists longer than a block', () => {
  const items = Array.from({ length: 97 }, (_, i) => ({ key: (i * 37) % 11, at: i }));
  sortStable(items, (a, b) => a.key < b.key);
  for (let i = 1; i < items.length; i++) {
    const [previous, current] = [items[i - 1]!, items[i]!];
    assert.ok(previous.key < current.key || (previous.key === current.key && previous.at < current.at), `position ${i}`);
  }
});

test('goSprint prints values as Go\'s fmt does', () => {
  assert.equal(goSprint({ b: [1, 'x', null], a: { c: true }, d: 1.5, e: 0.00001, f: 2500000.5 }), 'map[a:map[c:true] b:[1 x <nil>] d:1.5 e:1e-05 f:2.5000005e+06]');
  assert.equal(goSprint({ a: 1, b: 'x' }, 's'), 'map[a:%!s(int64=1) b:x]');
});

describe('through the real server and kubectl 1.32', () => {
  let dir: string;
  let server: RunningApiServer;
  let kubeconfig: string;
  let admin: AdminClient;

  before(async () => {
    requireTools('kubectl');
    dir = await mkdtemp(join(tmpdir(), 'seaway-smp-'));
    server = await startApiServer({ host: '127.0.0.1' });
    admin = new AdminClient(server.url);
    kubeconfig = await writeKubeconfigFile(dir, server.url);
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kubectl = (args: string[], allowFailure = false) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 30_000, allowFailure });
  const getDs = async (name: string) => JSON.parse((await kubectl(['get', 'ds', name, '-n', 'default', '-o', 'json'])).stdout) as JsonMap & { metadata: JsonMap; spec: JsonMap };
  /** What every write changes by itself (version, generation, managedFields, apply's annotation): left out to compare objects. */
  const content = (object: JsonMap & { metadata: JsonMap }) => {
    const { resourceVersion: _rv, generation: _g, managedFields: _m, annotations: _a, ...metadata } = object.metadata;
    return { ...object, metadata };
  };
  const manifest = (name: string, c: JsonMap, volumes: Json[], labels: Record<string, string>) => ({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace: 'default', labels },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox', ...c }, { name: 'side', image: 'pause' }], tolerations: [{ operator: 'Exists' }], volumes } },
    },
  });
  const first = manifest('agent', {
    env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80, name: 'http' }],
    volumeMounts: [{ name: 'v1', mountPath: '/a' }, { name: 'v2', mountPath: '/b' }],
  }, [{ name: 'v1', hostPath: { path: '/a' } }, { name: 'v2', emptyDir: {} }], { app: 'agent', tier: 'one' });
  const changed = manifest('agent', {
    env: [{ name: 'A', value: '1' }, { name: 'B', value: '3' }], ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443, name: 'https' }],
    volumeMounts: [{ name: 'v1', mountPath: '/a' }],
  }, [{ name: 'v1', hostPath: { path: '/a' } }], { app: 'agent', tier: 'two' });

  test('kubectl apply of a DaemonSet, then of a changed copy (env var changed, port added, volume removed): exactly the changed manifest', async () => {
    const file = join(dir, 'ds.json');
    await writeFile(file, JSON.stringify(first));
    assert.match((await kubectl(['apply', '-f', file])).stdout, /daemonset\.apps\/agent created/);
    const since = (await admin.requests()).next;
    await writeFile(file, JSON.stringify(changed));
    assert.match((await kubectl(['apply', '-f', file])).stdout, /daemonset\.apps\/agent configured/);
    const patches = (await admin.requests(since)).entries.filter((e) => e.verb === 'patch');
    assert.deepEqual(patches.map((e) => e.code), [200], 'one strategic merge patch, accepted');
    const stored = await getDs('agent');
    // The lab adds no defaults to a DaemonSet's spec, so the applied manifest is the whole spec; nothing else is lost.
    assert.deepEqual(stored.spec, changed.spec);
    assert.deepEqual(stored.metadata.labels, changed.metadata.labels);
    assert.equal(stored.metadata.generation, 2);
    assert.doesNotMatch(JSON.stringify(stored.spec), /\$/);
    assert.match((await kubectl(['apply', '-f', file])).stdout, /daemonset\.apps\/agent unchanged/);
  });

  test('kubectl set env ds/agent FOO=bar adds the variable to each container and changes nothing else', async () => {
    const before = await getDs('agent');
    assert.match((await kubectl(['set', 'env', 'ds/agent', '-n', 'default', 'FOO=bar'])).stdout, /daemonset\.apps\/agent env updated/);
    const after = await getDs('agent');
    const expected = structuredClone(content(before)) as JsonMap;
    for (const container of containersOf(expected).containers as JsonMap[]) container.env = [...((container.env ?? []) as Json[]), { name: 'FOO', value: 'bar' }];
    assert.deepEqual(content(after), expected);
  });

  test('kubectl patch (strategic by default) of one container\'s image changes only that image', async () => {
    const before = await getDs('agent');
    await kubectl(['patch', 'ds', 'agent', '-n', 'default', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"y"}]}}}}']);
    const after = await getDs('agent');
    const expected = structuredClone(content(before)) as JsonMap;
    ((containersOf(expected).containers as JsonMap[])[0] as JsonMap).image = 'y';
    assert.deepEqual(content(after), expected);
  });

  test('kubectl patch with a container lacking its name: refused with the API server\'s 500 and words, nothing changed', async () => {
    const before = await getDs('agent');
    const since = (await admin.requests()).next;
    const refused = await kubectl(['patch', 'ds', 'agent', '-n', 'default', '-p', '{"spec":{"template":{"spec":{"containers":[{"image":"y"}]}}}}'], true);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Error from server: map: map\[image:y\] does not contain declared merge key: name/);
    assert.deepEqual((await admin.requests(since)).entries.filter((e) => e.verb === 'patch').map((e) => e.code), [500]);
    assert.deepEqual(await getDs('agent'), before);
  });

  const patchRaw = (path: string, body: string, type = 'application/strategic-merge-patch+json', query = '') =>
    fetch(`${server.url}${path}${query}`, { method: 'PATCH', headers: { 'Content-Type': type }, body });

  test('over HTTP: a Node\'s status conditions merge by type on /status; a Pod\'s containers by name', async () => {
    const create = (path: string, object: JsonMap) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(object) });
    assert.equal((await create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }] } })).status, 201);
    const node = await patchRaw('/api/v1/nodes/n1/status', JSON.stringify({ status: { conditions: [{ type: 'MemoryPressure', status: 'True' }] } }));
    assert.equal(node.status, 200);
    assert.deepEqual(((await node.json()) as { status: JsonMap }).status.conditions, [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'True' }]);

    assert.equal((await create('/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: '1' }, { name: 'b', image: '1' }] } })).status, 201);
    const patched = await patchRaw('/api/v1/namespaces/default/pods/p', JSON.stringify({ spec: { containers: [{ name: 'b', image: '2' }] } }));
    assert.equal(patched.status, 200);
    assert.deepEqual(((await patched.json()) as { spec: JsonMap }).spec.containers, [{ name: 'a', image: '1' }, { name: 'b', image: '2' }]);
  });

  test('over HTTP: the answers for bodies and directives the server refuses, an empty (null) patch, and custom resources (415)', async () => {
    const ds = '/apis/apps/v1/namespaces/default/daemonsets/agent';
    const statusOf = async (response: Response) => ({ code: response.status, ...(await response.json() as { reason?: string; message: string }) });
    const array = await statusOf(await patchRaw(ds, '[]'));
    assert.deepEqual([array.code, array.reason, array.message], [400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}']);
    const retain = await statusOf(await patchRaw(ds, JSON.stringify({ spec: { $retainKeys: 'x' } })));
    assert.deepEqual([retain.code, retain.message], [400, 'invalid patch format of retainKeys']);
    // A list of lists merged into a merge list (here an empty finalizers list the lab keeps): ErrNoListOfLists.
    const configMap = await fetch(`${server.url}/api/v1/namespaces/default/configmaps`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lists', finalizers: [] } }) });
    assert.equal(configMap.status, 201);
    const lists = await statusOf(await patchRaw('/api/v1/namespaces/default/configmaps/lists', JSON.stringify({ metadata: { finalizers: [['a']] } })));
    assert.deepEqual([lists.code, lists.reason, lists.message], [422, 'Invalid', 'the server rejected our request due to an error in our request']);
    const before = await getDs('agent');
    const empty = await patchRaw(ds, 'null');
    assert.equal(empty.status, 200);
    assert.equal(((await empty.json()) as { metadata: JsonMap }).metadata.resourceVersion, before.metadata.resourceVersion, 'nothing to change, no new version');
    const strict = await statusOf(await patchRaw(ds, JSON.stringify({ spec: { bogus: 1 } }), undefined, '?fieldValidation=Strict'));
    assert.equal(strict.code, 422);
    assert.match(strict.message, /patch: Invalid value: "map\[spec:map\[bogus:1\]\]": strict decoding error: unknown field "spec\.bogus"/);
    const custom = await patchRaw('/apis/submariner.io/v1/namespaces/default/endpoints/any', '{}');
    assert.equal(custom.status, 415);
  });
});
