/**
 * The broker sync's plan (src/plan/broker-sync.ts): what Submariner's syncer does (export local
 * originals with the cluster label, import other clusters' objects, delete stale ones both ways),
 * what seaway adds (drops with reasons, preconditions, the refreshed-at annotation and the
 * liveness read from it), and that one unreadable object never changes what happens to the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLUSTER_ID_LABEL, REFRESHED_AT_ANNOTATION, planBrokerSync, refreshedAtMs, remoteLiveness,
  type BrokerSyncInput, type BrokerSyncPlan, type SyncAction, type SyncKind,
} from '../../src/plan/broker-sync.ts';

const LOCAL_NS = 'submariner-operator';
const BROKER_NS = 'submariner-k8s-broker';
const NOW = 1_700_000_000_500;
const NOW_S = Math.floor(NOW / 1000);
const POLICY = { refreshIntervalMs: 30_000, staleAfterMs: 120_000 };

let serial = 0;

interface ObjectOptions {
  /** Endpoint unless said. */
  kind?: SyncKind;
  label?: string | null;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  spec?: unknown;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  refreshedAt?: number;
}

function endpointSpec(clusterId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cluster_id: clusterId, cable_name: `submariner-cable-${clusterId}`, hostname: 'gw-1', subnets: ['10.0.0.0/16'], backend: 'libreswan', nat_enabled: false, ...extra };
}

/** A Cluster spec with every field of Submariner's CRD. */
function clusterSpec(clusterId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cluster_id: clusterId, color_codes: ['blue'], service_cidr: ['10.96.0.0/12'], cluster_cidr: ['10.1.0.0/16'], global_cidr: [], ...extra };
}

/** An Endpoint (or, with options.kind, a Cluster) as a server lists it: uid, resourceVersion, server-set metadata. */
function obj(name: string, clusterId: string, options: ObjectOptions = {}): Record<string, unknown> {
  serial++;
  const labels: Record<string, unknown> = { ...options.labels };
  if (options.label !== undefined && options.label !== null) labels[CLUSTER_ID_LABEL] = options.label;
  const annotations: Record<string, unknown> = { ...options.annotations };
  if (options.refreshedAt !== undefined) annotations[REFRESHED_AT_ANNOTATION] = String(options.refreshedAt);
  const kind = options.kind ?? 'Endpoint';
  return {
    apiVersion: 'submariner.io/v1', kind,
    metadata: {
      name, namespace: options.namespace ?? LOCAL_NS, uid: options.uid ?? `uid-${name}-${serial}`, resourceVersion: options.resourceVersion ?? String(serial),
      creationTimestamp: '2024-01-01T00:00:00Z', generation: 1, managedFields: [{ manager: 'x' }], finalizers: ['f'],
      ownerReferences: [{ kind: 'Pod', name: 'p' }],
      ...(Object.keys(labels).length > 0 ? { labels } : {}), ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: options.spec ?? (kind === 'Cluster' ? clusterSpec(clusterId) : endpointSpec(clusterId)),
  };
}

const onBroker = (name: string, clusterId: string, options: ObjectOptions = {}) => obj(name, clusterId, { namespace: BROKER_NS, ...options });

function plan(local: unknown[], broker: unknown[], overrides: Partial<BrokerSyncInput> = {}, policy = POLICY): BrokerSyncPlan {
  return planBrokerSync({ kind: 'Endpoint', clusterId: 'east', localNamespace: LOCAL_NS, brokerNamespace: BROKER_NS, local, broker, now: NOW, ...overrides }, policy);
}

/** Actions in a short form: side op name. */
const brief = (actions: SyncAction[]) => actions.map((a) => `${a.side} ${a.op} ${a.name}`);
const meta = (o: Record<string, unknown>) => o.metadata as { uid: string; resourceVersion: string };

test('a local original is created on the broker with the cluster label and only name, namespace, labels and annotations', () => {
  const original = obj('east-cable', 'east', { labels: { app: 'gw' }, annotations: { note: 'n' } });
  const result = plan([original], []);
  assert.deepEqual(brief(result.actions), ['broker create east-cable']);
  const [action] = result.actions;
  assert.equal(action!.precondition, undefined);
  assert.deepEqual(action!.object, {
    apiVersion: 'submariner.io/v1', kind: 'Endpoint',
    metadata: { name: 'east-cable', namespace: BROKER_NS, labels: { app: 'gw', [CLUSTER_ID_LABEL]: 'east' }, annotations: { note: 'n', [REFRESHED_AT_ANNOTATION]: String(NOW_S) } },
    spec: endpointSpec('east'),
  });
  assert.deepEqual(result.dropped, []);
});

test('an up-to-date broker copy needs nothing; the plan wakes when its refresh falls due', () => {
  const copy = onBroker('east-cable', 'east', { label: 'east', refreshedAt: NOW_S - 10 });
  const result = plan([obj('east-cable', 'east')], [copy]);
  assert.deepEqual(result.actions, []);
  assert.equal(result.wakeAt, (NOW_S - 10) * 1000 + POLICY.refreshIntervalMs);
});

test('a changed local original updates its broker copy, guarded by the copy\'s uid and resourceVersion, keeping a fresh stamp', () => {
  const copy = onBroker('east-cable', 'east', { label: 'east', refreshedAt: NOW_S - 10, uid: 'u-copy', resourceVersion: '77' });
  const result = plan([obj('east-cable', 'east', { spec: endpointSpec('east', { hostname: 'gw-2' }) })], [copy]);
  assert.deepEqual(brief(result.actions), ['broker update east-cable']);
  const [action] = result.actions;
  assert.deepEqual(action!.precondition, { uid: 'u-copy', resourceVersion: '77' });
  assert.equal(action!.object!.metadata.uid, 'u-copy');
  assert.equal(action!.object!.metadata.resourceVersion, '77');
  assert.equal(action!.object!.metadata.annotations[REFRESHED_AT_ANNOTATION], String(NOW_S - 10));
  assert.equal((action!.object!.spec as { hostname: string }).hostname, 'gw-2');
  assert.match(action!.why, /differs/);
});

test('a broker copy\'s labels and annotations are made the original\'s again (others\' edits are overwritten)', () => {
  const copy = onBroker('east-cable', 'east', { label: 'east', labels: { extra: 'x' }, annotations: { other: 'y' }, refreshedAt: NOW_S });
  const result = plan([obj('east-cable', 'east')], [copy]);
  assert.deepEqual(brief(result.actions), ['broker update east-cable']);
  assert.deepEqual(result.actions[0]!.object!.metadata.labels, { [CLUSTER_ID_LABEL]: 'east' });
  assert.deepEqual(result.actions[0]!.object!.metadata.annotations, { [REFRESHED_AT_ANNOTATION]: String(NOW_S) });
});

test('the refresh falls due after the interval, exactly at it, when the stamp is unreadable or far ahead of our clock', () => {
  const original = obj('east-cable', 'east');
  const due = (annotations: Record<string, unknown>) => plan([original], [onBroker('east-cable', 'east', { label: 'east', annotations })]).actions;
  const stamp = (seconds: number) => ({ [REFRESHED_AT_ANNOTATION]: String(seconds) });
  // NOW is .5 s into its second: 29.5 s since NOW_S - 29, 30.5 s since NOW_S - 30.
  assert.deepEqual(due(stamp(NOW_S - 29)), []);
  const refreshed = due(stamp(NOW_S - 30));
  assert.deepEqual(brief(refreshed), ['broker update east-cable']);
  assert.equal(refreshed[0]!.why, 'refresh due');
  assert.equal(refreshed[0]!.object!.metadata.annotations[REFRESHED_AT_ANNOTATION], String(NOW_S));
  const exactly = planBrokerSync({ kind: 'Endpoint', clusterId: 'east', localNamespace: LOCAL_NS, brokerNamespace: BROKER_NS, local: [original],
    broker: [onBroker('east-cable', 'east', { label: 'east', refreshedAt: NOW_S - 30 })], now: (NOW_S - 30) * 1000 + 30_000 }, POLICY);
  assert.deepEqual(brief(exactly.actions), ['broker update east-cable'], 'exactly one interval old is due');
  for (const bad of ['', 'soon', '-5', '1.5', '1e9', ' 17']) assert.equal(due({ [REFRESHED_AT_ANNOTATION]: bad }).length, 1, `"${bad}" is unreadable: due`);
  assert.equal(due(stamp(NOW_S + 3600)).length, 1, 'an hour ahead: due (our clock went back, or someone wrote it)');
  assert.deepEqual(due(stamp(NOW_S + 5)), [], 'a few seconds ahead: clock skew within one interval, not due');
});

test('a broker object with our label whose original is gone is deleted with its uid and resourceVersion as preconditions', () => {
  const stale = onBroker('east-old', 'east', { label: 'east', uid: 'u-old', resourceVersion: '12' });
  const result = plan([], [stale]);
  assert.deepEqual(brief(result.actions), ['broker delete east-old']);
  assert.deepEqual(result.actions[0]!.precondition, { uid: 'u-old', resourceVersion: '12' });
  assert.equal(result.actions[0]!.object, undefined);
});

test('a broker object with our label is never imported', () => {
  const ours = onBroker('east-cable', 'east', { label: 'east' });
  const result = plan([obj('east-cable', 'east')], [ours]);
  assert.ok(result.actions.every((a) => a.side === 'broker'));
});

test('another cluster\'s broker object is imported with its label and annotations, without the refreshed-at stamp', () => {
  const remote = onBroker('west-cable', 'west', { label: 'west', labels: { app: 'gw' }, annotations: { note: 'n' }, refreshedAt: NOW_S - 5 });
  const result = plan([], [remote]);
  assert.deepEqual(brief(result.actions), ['local create west-cable']);
  assert.deepEqual(result.actions[0]!.object, {
    apiVersion: 'submariner.io/v1', kind: 'Endpoint',
    metadata: { name: 'west-cable', namespace: LOCAL_NS, labels: { app: 'gw', [CLUSTER_ID_LABEL]: 'west' }, annotations: { note: 'n' } },
    spec: endpointSpec('west'),
  });
});

test('a local copy is updated when the broker object changed, and left alone when only the stamp moved', () => {
  const copy = obj('west-cable', 'west', { label: 'west', uid: 'u-copy', resourceVersion: '5' });
  const changed = onBroker('west-cable', 'west', { label: 'west', spec: endpointSpec('west', { hostname: 'gw-9' }), refreshedAt: NOW_S });
  const result = plan([copy], [changed]);
  assert.deepEqual(brief(result.actions), ['local update west-cable']);
  assert.deepEqual(result.actions[0]!.precondition, { uid: 'u-copy', resourceVersion: '5' });
  assert.equal(result.actions[0]!.object!.metadata.resourceVersion, '5');
  const restamped = onBroker('west-cable', 'west', { label: 'west', refreshedAt: NOW_S });
  assert.deepEqual(plan([copy], [restamped]).actions, [], 'a refresh elsewhere costs no write here');
});

test('broker objects without the label, or with an empty one, are neither imported nor deleted', () => {
  const unlabelled = onBroker('stray', 'west');
  const empty = onBroker('stray-2', 'west', { labels: { [CLUSTER_ID_LABEL]: '' } });
  const result = plan([], [unlabelled, empty]);
  assert.deepEqual(result.actions, []);
  assert.deepEqual(result.dropped, []);
});

test('a local copy whose object is gone from the broker is deleted, guarded; a local object with a foreign label is never pushed', () => {
  const copy = obj('gone-cable', 'gone', { label: 'gone', uid: 'u-gone', resourceVersion: '3' });
  const result = plan([copy], []);
  assert.deepEqual(brief(result.actions), ['local delete gone-cable']);
  assert.deepEqual(result.actions[0]!.precondition, { uid: 'u-gone', resourceVersion: '3' });
});

test('a local object with our own label is neither pushed nor deleted', () => {
  const odd = obj('east-odd', 'east', { label: 'east' });
  assert.deepEqual(plan([odd], []).actions, []);
});

test('a local copy stays while the broker holds any object of its name, even one that cannot be imported', () => {
  const copy = obj('west-cable', 'west', { label: 'west' });
  const mismatched = onBroker('west-cable', 'west', { label: 'west', spec: endpointSpec('south') });
  const unreadable = { metadata: { name: 'west-cable', namespace: BROKER_NS, uid: 'u', resourceVersion: '1', labels: { [CLUSTER_ID_LABEL]: 'west' } } };
  const unlabelled = onBroker('west-cable', 'west');
  for (const broker of [mismatched, unreadable, unlabelled]) {
    const result = plan([copy], [broker]);
    assert.deepEqual(result.actions, [], JSON.stringify(broker).slice(0, 80));
  }
});

test('an import whose label disagrees with spec.cluster_id is dropped with a reason and not created', () => {
  const liar = onBroker('west-cable', 'west', { label: 'west', spec: endpointSpec('south'), uid: 'u-liar', resourceVersion: '9' });
  const result = plan([], [liar]);
  assert.deepEqual(result.actions, []);
  assert.equal(result.dropped.length, 1);
  const [dropped] = result.dropped;
  assert.deepEqual({ ...dropped!, message: '' }, {
    direction: 'import', kind: 'Endpoint', namespace: BROKER_NS, name: 'west-cable', uid: 'u-liar', resourceVersion: '9', clusterId: 'west', reason: 'cluster-id-mismatch', message: '',
  });
  assert.match(dropped!.message, /labelled cluster "west" but its spec.cluster_id is "south"/);
});

test('an import without a usable spec.cluster_id is dropped', () => {
  for (const spec of [endpointSpec('west', { cluster_id: undefined }), endpointSpec('west', { cluster_id: 7 }), endpointSpec('west', { cluster_id: '' })]) {
    const result = plan([], [onBroker('west-cable', 'west', { label: 'west', spec })]);
    assert.deepEqual(result.actions, []);
    assert.deepEqual(result.dropped.map((d) => d.reason), ['missing-cluster-id']);
  }
});

test('an import never overwrites a local original of the same name (name-taken), nor an object with our label', () => {
  const original = obj('shared', 'east');
  const remote = onBroker('shared', 'west', { label: 'west' });
  const result = plan([original], [remote]);
  assert.deepEqual(brief(result.actions), [], 'nor is the original pushed over west\'s object');
  assert.deepEqual(result.dropped.map((d) => `${d.direction} ${d.reason}`), ['export name-taken', 'import name-taken']);
  const ownLabelled = obj('shared', 'east', { label: 'east' });
  assert.deepEqual(plan([ownLabelled], [remote]).dropped.map((d) => `${d.direction} ${d.reason}`), ['import name-taken']);
});

test('a local original with another cluster\'s spec.cluster_id or none is not exported; its broker object of that name stays', () => {
  const foreign = obj('west-cable', 'west');
  const result = plan([foreign], []);
  assert.deepEqual(result.actions, []);
  assert.deepEqual(result.dropped.map((d) => `${d.direction} ${d.reason}`), ['export foreign-original']);
  const withCopy = plan([foreign], [onBroker('west-cable', 'west', { label: 'east' })]);
  assert.deepEqual(withCopy.actions, [], 'a local object of the name exists: the broker object is not stale');
  const missing = plan([obj('east-cable', 'east', { spec: { hostname: 'h' } })], []);
  assert.deepEqual(missing.dropped.map((d) => d.reason), ['missing-cluster-id']);
});

test('an unlabelled broker object of a local original\'s name is taken over (Submariner\'s create-or-update)', () => {
  const stray = onBroker('east-cable', 'east', { uid: 'u-stray', resourceVersion: '4' });
  const result = plan([obj('east-cable', 'east')], [stray]);
  assert.deepEqual(brief(result.actions), ['broker update east-cable']);
  assert.deepEqual(result.actions[0]!.precondition, { uid: 'u-stray', resourceVersion: '4' });
  assert.equal(result.actions[0]!.object!.metadata.labels[CLUSTER_ID_LABEL], 'east');
});

test('a label with an empty value counts as absent: the object is a local original', () => {
  const result = plan([obj('east-cable', 'east', { labels: { [CLUSTER_ID_LABEL]: '' } })], []);
  assert.deepEqual(brief(result.actions), ['broker create east-cable']);
  assert.equal(result.actions[0]!.object!.metadata.labels[CLUSTER_ID_LABEL], 'east');
});

/** Objects no server would send, each wrong in one way; every one of them is reported, none changes the rest. */
function malformed(namespace: string, label: string): Array<{ what: string; object: unknown; name: string }> {
  const good = (name: string) => obj(name, label, { namespace, label });
  const edit = (name: string, change: (o: Record<string, unknown>) => void) => {
    const o = good(name);
    change(o);
    return o;
  };
  const m = (o: Record<string, unknown>) => o.metadata as Record<string, unknown>;
  return [
    { what: 'null', object: null, name: '' },
    { what: 'a number', object: 42, name: '' },
    { what: 'a string', object: 'endpoint', name: '' },
    { what: 'an array', object: [good('in-array')], name: '' },
    { what: 'no metadata', object: { spec: endpointSpec(label) }, name: '' },
    { what: 'metadata not an object', object: { metadata: 'x', spec: endpointSpec(label) }, name: '' },
    { what: 'a non-string name', object: edit('x', (o) => { m(o).name = 5; }), name: '' },
    { what: 'no uid', object: edit('bad-uid', (o) => { delete m(o).uid; }), name: 'bad-uid' },
    { what: 'a numeric resourceVersion', object: edit('bad-rv', (o) => { m(o).resourceVersion = 7; }), name: 'bad-rv' },
    { what: 'a non-string label value', object: edit('bad-label', (o) => { m(o).labels = { [CLUSTER_ID_LABEL]: label, other: 3 }; }), name: 'bad-label' },
    { what: 'a numeric cluster label', object: edit('num-label', (o) => { m(o).labels = { [CLUSTER_ID_LABEL]: 12 }; }), name: 'num-label' },
    { what: 'labels as an array', object: edit('array-labels', (o) => { m(o).labels = [label]; }), name: 'array-labels' },
    { what: 'a non-string annotation', object: edit('bad-annotation', (o) => { m(o).annotations = { [REFRESHED_AT_ANNOTATION]: NOW_S }; }), name: 'bad-annotation' },
    { what: 'no spec', object: edit('no-spec', (o) => { delete o.spec; }), name: 'no-spec' },
    { what: 'a string spec', object: edit('string-spec', (o) => { o.spec = 'spec'; }), name: 'string-spec' },
    { what: 'an array spec', object: edit('array-spec', (o) => { o.spec = []; }), name: 'array-spec' },
  ];
}

test('every malformed broker object is reported and neither imported nor deleted; the good ones beside it are synced', () => {
  const bad = malformed(BROKER_NS, 'west');
  const broker = [onBroker('west-good', 'west', { label: 'west' }), ...bad.map((b) => b.object), onBroker('east-stale', 'east', { label: 'east' })];
  // Local copies of the bad ones' names: kept (the broker has an object of that name).
  const local = bad.filter((b) => b.name !== '').map((b) => obj(b.name, 'west', { label: 'west' }));
  const result = plan(local, broker);
  assert.deepEqual(brief(result.actions), ['broker delete east-stale', 'local create west-good']);
  assert.equal(result.dropped.length, bad.length);
  assert.ok(result.dropped.every((d) => d.direction === 'import' && d.reason === 'malformed' && d.namespace === BROKER_NS));
  assert.deepEqual(result.dropped.map((d) => d.name).filter((n) => n !== '').sort(), bad.map((b) => b.name).filter((n) => n !== '').sort());
  assert.ok(result.dropped.find((d) => d.name === 'no-spec')!.message.includes('has no spec object'));
  assert.ok(result.dropped.find((d) => d.name === 'bad-label')!.message.includes('labels that are not a map of strings'));
});

test('every malformed local object is reported and neither exported nor deleted, nor is its broker copy', () => {
  const bad = malformed(LOCAL_NS, 'west');
  const local = [obj('east-good', 'east'), ...bad.map((b) => b.object), obj('gone-copy', 'gone', { label: 'gone' })];
  // Broker objects with our label for each bad local name: not deleted (a local object of that name exists, unreadable).
  const broker = bad.filter((b) => b.name !== '').map((b) => onBroker(b.name, 'east', { label: 'east' }));
  const result = plan(local, broker);
  assert.deepEqual(brief(result.actions), ['broker create east-good', 'local delete gone-copy']);
  assert.equal(result.dropped.length, bad.length);
  assert.ok(result.dropped.every((d) => d.direction === 'export' && d.reason === 'malformed' && d.namespace === LOCAL_NS));
});

test('a local original whose broker object is unreadable is not written over', () => {
  const unreadable = { metadata: { name: 'east-cable', namespace: BROKER_NS, uid: 'u', resourceVersion: '1', labels: { [CLUSTER_ID_LABEL]: 'east' } }, spec: 'x' };
  const result = plan([obj('east-cable', 'east')], [unreadable]);
  assert.deepEqual(result.actions, []);
  assert.deepEqual(result.dropped.map((d) => `${d.direction} ${d.reason} ${d.name}`), ['import malformed east-cable']);
});

test('two objects of one name in a list (no server sends that) make the name unreadable on that side', () => {
  const twins = [obj('twin', 'east'), obj('twin', 'east', { spec: endpointSpec('east', { hostname: 'other' }) })];
  const result = plan(twins, [onBroker('twin', 'east', { label: 'east' })]);
  assert.deepEqual(result.actions, []);
  assert.deepEqual(result.dropped.map((d) => `${d.direction} ${d.reason} ${d.name}`), ['export malformed twin']);
  assert.match(result.dropped[0]!.message, /shares its name/);
});

test('liveness: per remote cluster from its newest stamp; stale past the threshold, unknown without a stamp; ours left out', () => {
  const broker = [
    onBroker('west-a', 'west', { label: 'west', refreshedAt: NOW_S - 200 }),
    onBroker('west-b', 'west', { label: 'west', refreshedAt: NOW_S - 10 }),
    onBroker('north-a', 'north', { label: 'north', refreshedAt: NOW_S - 121 }),
    onBroker('south-a', 'south', { label: 'south' }),
    onBroker('odd-a', 'odd', { label: 'odd', annotations: { [REFRESHED_AT_ANNOTATION]: 'yesterday' } }),
    onBroker('ahead-a', 'ahead', { label: 'ahead', refreshedAt: NOW_S + 60 }),
    onBroker('east-a', 'east', { label: 'east', refreshedAt: NOW_S - 1000 }),
    onBroker('stray', 'x'),
    null,
    { metadata: { name: 'weird', labels: { [CLUSTER_ID_LABEL]: 4 } } },
  ];
  const liveness = remoteLiveness(broker, 'east', NOW, POLICY.staleAfterMs);
  assert.deepEqual(liveness.map((l) => [l.clusterId, l.state, l.objects]), [
    ['ahead', 'fresh', 1], ['north', 'stale', 1], ['odd', 'unknown', 1], ['south', 'unknown', 1], ['west', 'fresh', 2],
  ]);
  const west = liveness.find((l) => l.clusterId === 'west')!;
  assert.equal(west.refreshedAt, (NOW_S - 10) * 1000);
  assert.equal(west.ageMs, NOW - (NOW_S - 10) * 1000);
  assert.ok(liveness.find((l) => l.clusterId === 'ahead')!.ageMs! < 0);
  // A stale cluster's objects are still imported, kept and updated: nothing is removed.
  const result = plan([obj('north-a', 'north', { label: 'north' })], broker);
  assert.ok(!result.actions.some((a) => a.op === 'delete' && a.name.startsWith('north')));
});

test('liveness at the threshold: exactly staleAfterMs old is still fresh, one ms more is stale', () => {
  const at = (now: number) => remoteLiveness([onBroker('w', 'west', { label: 'west', refreshedAt: 1000 })], 'east', now, 5000)[0]!.state;
  assert.equal(at(1_000_000 + 5000), 'fresh');
  assert.equal(at(1_000_000 + 5001), 'stale');
  assert.equal(refreshedAtMs({ [REFRESHED_AT_ANNOTATION]: '1000' }), 1_000_000);
  assert.equal(refreshedAtMs(undefined), null);
  assert.equal(refreshedAtMs({ [REFRESHED_AT_ANNOTATION]: '9007199254740' }), 9_007_199_254_740_000);
  assert.equal(refreshedAtMs({ [REFRESHED_AT_ANNOTATION]: '9007199254741' }), null);
});

test('wakeAt: the earliest of our next refresh and a fresh remote turning stale; null when neither can happen', () => {
  const broker = [
    onBroker('east-cable', 'east', { label: 'east', refreshedAt: NOW_S - 5 }),
    onBroker('west-cable', 'west', { label: 'west', refreshedAt: NOW_S - 100 }),
  ];
  const result = plan([obj('east-cable', 'east'), obj('west-cable', 'west', { label: 'west' })], broker);
  assert.deepEqual(result.actions, []);
  assert.equal(result.wakeAt, Math.min((NOW_S - 5) * 1000 + 30_000, (NOW_S - 100) * 1000 + 120_001));
  assert.equal(plan([], [onBroker('south', 'south', { label: 'south' })]).wakeAt, null);
  // A copy created now: due one interval after this second.
  assert.equal(plan([obj('east-cable', 'east')], []).wakeAt, NOW_S * 1000 + 30_000);
});

test('actions come broker side first, creates before updates before deletes, by name; the inputs are not changed', () => {
  const local = [obj('east-b', 'east'), obj('east-a', 'east'), obj('east-c', 'east', { spec: endpointSpec('east', { hostname: 'new' }) }), obj('gone', 'gone', { label: 'gone' })];
  const broker = [onBroker('east-c', 'east', { label: 'east', refreshedAt: NOW_S }), onBroker('east-z', 'east', { label: 'east' }), onBroker('west-1', 'west', { label: 'west' })];
  const before = JSON.stringify([local, broker]);
  deepFreeze(local);
  deepFreeze(broker);
  const result = plan(local, broker);
  assert.deepEqual(brief(result.actions), [
    'broker create east-a', 'broker create east-b', 'broker update east-c', 'broker delete east-z', 'local create west-1', 'local delete gone',
  ]);
  assert.equal(JSON.stringify([local, broker]), before);
  // The written spec is a copy: editing it cannot reach the informer's object.
  (result.actions[0]!.object!.spec as Record<string, unknown>).hostname = 'edited';
  assert.equal(((local[1] as { spec: { hostname: string } }).spec).hostname, 'gw-1');
});

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

test('Clusters follow the same rules (the object name is the cluster id)', () => {
  const cluster = (id: string, options: ObjectOptions = {}) => obj(id, id, { kind: 'Cluster', ...options });
  const result = planBrokerSync({
    kind: 'Cluster', clusterId: 'east', localNamespace: LOCAL_NS, brokerNamespace: BROKER_NS, now: NOW,
    local: [cluster('east'), cluster('gone', { label: 'gone' })],
    broker: [cluster('west', { namespace: BROKER_NS, label: 'west' }), cluster('liar', { namespace: BROKER_NS, label: 'liar', spec: { cluster_id: 'west' } })],
  }, POLICY);
  assert.deepEqual(brief(result.actions), ['broker create east', 'local create west', 'local delete gone']);
  assert.ok(result.actions.every((a) => a.kind === 'Cluster' && (a.object === undefined || a.object.kind === 'Cluster')));
  assert.deepEqual(result.dropped.map((d) => `${d.kind} ${d.reason} ${d.name}`), ['Cluster cluster-id-mismatch liar']);
});

/** Applies a plan's actions to both sides as a server would (new uid on create, new resourceVersion on each write, preconditions checked). */
function applyAll(world: { local: Map<string, Record<string, unknown>>; broker: Map<string, Record<string, unknown>> }, actions: SyncAction[]): void {
  for (const action of actions) {
    const side = world[action.side];
    const existing = side.get(action.name);
    if (action.precondition) {
      assert.ok(existing, `${action.side} ${action.op} ${action.name}: the target exists`);
      assert.deepEqual({ uid: meta(existing).uid, resourceVersion: meta(existing).resourceVersion }, action.precondition, 'the precondition holds');
    }
    serial++;
    if (action.op === 'delete') side.delete(action.name);
    else {
      const written = structuredClone(action.object!) as unknown as Record<string, unknown>;
      const m = written.metadata as Record<string, unknown>;
      m.uid = action.op === 'create' ? `uid-new-${serial}` : meta(existing!).uid;
      m.resourceVersion = String(serial);
      side.set(action.name, written);
    }
  }
}

test('a plan applied converges: planning again asks for nothing, on both kinds of change at once', () => {
  for (const kind of ['Endpoint', 'Cluster'] as SyncKind[]) {
    const local = (name: string, clusterId: string, options: ObjectOptions = {}) => obj(name, clusterId, { kind, ...options });
    const broker = (name: string, clusterId: string, options: ObjectOptions = {}) => onBroker(name, clusterId, { kind, ...options });
    /** A spec of this kind changed in one of its own fields (`n` tells the changes apart). */
    const changed = (clusterId: string, n: number) => (kind === 'Cluster' ? clusterSpec(clusterId, { service_cidr: [`10.9${n}.0.0/16`] }) : endpointSpec(clusterId, { hostname: `gw-${n}` }));
    const world = {
      local: new Map<string, Record<string, unknown>>([
        ['east-a', local('east-a', 'east')], ['east-b', local('east-b', 'east', { spec: changed('east', 7) })],
        ['west-x', local('west-x', 'west', { label: 'west' })], ['gone-y', local('gone-y', 'gone', { label: 'gone' })],
      ]),
      broker: new Map<string, Record<string, unknown>>([
        ['east-b', broker('east-b', 'east', { label: 'east', refreshedAt: NOW_S - 100 })], ['east-old', broker('east-old', 'east', { label: 'east' })],
        ['west-x', broker('west-x', 'west', { label: 'west', spec: changed('west', 8) })],
        ['north-z', broker('north-z', 'north', { label: 'north' })], ['liar', broker('liar', 'x', { label: 'y' })],
      ]),
    };
    const first = planBrokerSync({ kind, clusterId: 'east', localNamespace: LOCAL_NS, brokerNamespace: BROKER_NS, local: [...world.local.values()], broker: [...world.broker.values()], now: NOW }, POLICY);
    assert.deepEqual(brief(first.actions), [
      'broker create east-a', 'broker update east-b', 'broker delete east-old', 'local create north-z', 'local update west-x', 'local delete gone-y',
    ]);
    applyAll(world, first.actions);
    assert.ok([...world.local.values(), ...world.broker.values()].every((o) => o.kind === kind), `only ${kind} objects on both sides`);
    const second = planBrokerSync({ kind, clusterId: 'east', localNamespace: LOCAL_NS, brokerNamespace: BROKER_NS, local: [...world.local.values()], broker: [...world.broker.values()], now: NOW + 1000 }, POLICY);
    assert.deepEqual(second.actions, []);
    assert.deepEqual([...world.local.keys()].sort(), ['east-a', 'east-b', 'north-z', 'west-x']);
    assert.deepEqual([...world.broker.keys()].sort(), ['east-a', 'east-b', 'liar', 'north-z', 'west-x']);
    assert.deepEqual(second.dropped.map((d) => d.reason), ['cluster-id-mismatch']);
  }
});

test('fencing: an ex-leader never exports its Endpoint below a newer leader\'s token, nor deletes the newer leader\'s broker copy it has not seen locally', () => {
  const token = (n: number) => ({ annotations: { 'seaway.io/lease-transitions': String(n) } });
  // Our stale view: only our old Endpoint (token 3) locally; the broker already has the new leader's (token 5).
  const stale = plan([obj('east-old', 'east', token(3))], [onBroker('east-new', 'east', { label: 'east', ...token(5), refreshedAt: NOW_S })]);
  assert.deepEqual(brief(stale.actions), [], 'nothing exported, nothing deleted');
  assert.deepEqual(stale.dropped.map((d) => [d.direction, d.name, d.reason]), [['export', 'east-old', 'fenced']]);
  assert.match(stale.dropped[0]!.message, /fencing token 3, below 5/);
  // The new leader's view: its Endpoint (token 5) locally; the broker still has the ex-leader's copy (token 3): deleted with preconditions.
  const oldCopy = onBroker('east-old', 'east', { label: 'east', ...token(3), refreshedAt: NOW_S });
  const fresh = plan([obj('east-new', 'east', token(5))], [oldCopy]);
  assert.deepEqual(brief(fresh.actions), ['broker create east-new', 'broker delete east-old']);
  assert.deepEqual(fresh.actions[1]!.precondition, { uid: meta(oldCopy).uid, resourceVersion: meta(oldCopy).resourceVersion });
  // Clusters carry no token: unaffected.
  const clusters = plan([obj('east', 'east', { kind: 'Cluster' })], [onBroker('east-x', 'east', { kind: 'Cluster', label: 'east', ...token(9) })], { kind: 'Cluster' });
  assert.deepEqual(brief(clusters.actions), ['broker create east', 'broker delete east-x']);
});
