/** The lab's DaemonSet controller's planning (pure): placement, one Pod per node, rolling updates, status. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admits, maxUnavailable, planDaemonSet, podFor, REVISION_LABEL, templateHash, type DaemonSetObject, type NodeObject, type PodObjectSummary } from './daemonset-controller.ts';

function daemonSet(overrides: Partial<DaemonSetObject['spec']> = {}, env = 'v1'): DaemonSetObject {
  return {
    metadata: { name: 'seaway-gateway', namespace: 'ns', uid: 'ds1', generation: 2 },
    spec: {
      selector: { matchLabels: { app: 'gw' } },
      template: { metadata: { labels: { app: 'gw' } }, spec: { containers: [{ name: 'gw', env: [{ name: 'V', value: env }] }], nodeSelector: { gw: 'true' } } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      ...overrides,
    },
  };
}

const NOW = Date.parse('2026-11-30T10:00:00Z');

const node = (name: string, labels: Record<string, string> = { gw: 'true' }, taints?: NonNullable<NodeObject['spec']>['taints']): NodeObject =>
  ({ metadata: { name, uid: name, labels }, spec: taints ? { taints } : {} });

function pod(name: string, nodeName: string, hash: string, ready: boolean, owner = 'ds1', readySeconds = 60): PodObjectSummary {
  return {
    metadata: { name, uid: name, labels: { [REVISION_LABEL]: hash }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'seaway-gateway', uid: owner }] },
    spec: { nodeName },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date(NOW - readySeconds * 1000).toISOString() }] },
  };
}

describe('placement', () => {
  it('admits a node by nodeSelector, and only with every NoSchedule/NoExecute taint tolerated', () => {
    const ds = daemonSet();
    assert.equal(admits(ds, node('a')), true);
    assert.equal(admits(ds, node('b', { gw: 'false' })), false);
    assert.equal(admits(ds, node('c', { gw: 'true' }, [{ key: 'node-role', effect: 'NoSchedule' }])), false);
    assert.equal(admits(ds, node('d', { gw: 'true' }, [{ key: 'soft', effect: 'PreferNoSchedule' }])), true);
    const tolerant = daemonSet();
    tolerant.spec.template.spec.tolerations = [{ operator: 'Exists' }];
    assert.equal(admits(tolerant, node('c', { gw: 'true' }, [{ key: 'node-role', effect: 'NoSchedule' }, { key: 'x', value: 'y', effect: 'NoExecute' }])), true);
    const keyed = daemonSet();
    keyed.spec.template.spec.tolerations = [{ key: 'x', operator: 'Equal', value: 'y', effect: 'NoExecute' }];
    assert.equal(admits(keyed, node('e', { gw: 'true' }, [{ key: 'x', value: 'y', effect: 'NoExecute' }])), true);
    assert.equal(admits(keyed, node('f', { gw: 'true' }, [{ key: 'x', value: 'z', effect: 'NoExecute' }])), false);
  });

  it('maxUnavailable: integers, percentages rounded up, at least 1', () => {
    assert.equal(maxUnavailable(undefined, 10), 1);
    assert.equal(maxUnavailable(3, 10), 3);
    assert.equal(maxUnavailable(0, 10), 1);
    assert.equal(maxUnavailable('100%', 7), 7);
    assert.equal(maxUnavailable('10%', 7), 1);
    assert.equal(maxUnavailable('34%', 3), 2);
    assert.equal(maxUnavailable('bogus', 3), 1);
  });
});

describe('planDaemonSet', () => {
  it('creates a Pod on each admitted node without one, deletes Pods on nodes no longer admitted and extras', () => {
    const ds = daemonSet();
    const hash = templateHash(ds);
    const plan = planDaemonSet(ds, [node('a'), node('b'), node('c', { gw: 'false' })], [
      pod('p-a', 'a', hash, true), pod('p-a2', 'a', 'old', true), pod('p-c', 'c', hash, true), pod('other', 'b', hash, true, 'someone-else'),
    ], NOW);
    assert.deepEqual(plan.create, ['b']);
    assert.deepEqual(plan.delete.sort(), ['p-a2', 'p-c']);
    assert.equal(plan.status.desiredNumberScheduled, 2);
    assert.equal(plan.status.currentNumberScheduled, 1);
    assert.equal(plan.status.numberMisscheduled, 1);
    assert.equal(plan.status.observedGeneration, 2);
  });

  it('rolls a new template through at most maxUnavailable ready Pods at a time, unready old Pods first', () => {
    const ds = daemonSet();
    const hash = templateHash(ds);
    const nodes = [node('a'), node('b'), node('c')];
    const first = planDaemonSet(ds, nodes, [pod('p-a', 'a', 'old', true), pod('p-b', 'b', 'old', true), pod('p-c', 'c', 'old', true)], NOW);
    assert.deepEqual(first.delete, ['p-a'], 'one ready old Pod at a time');
    // The replacement exists but is not Ready yet: nothing else goes.
    const waiting = planDaemonSet(ds, nodes, [pod('n-a', 'a', hash, false), pod('p-b', 'b', 'old', true), pod('p-c', 'c', 'old', true)], NOW);
    assert.deepEqual(waiting.delete, []);
    assert.equal(waiting.status.updatedNumberScheduled, 1);
    assert.equal(waiting.status.numberReady, 2);
    // An unready old Pod is replaced at once, whatever the budget.
    const broken = planDaemonSet(ds, nodes, [pod('n-a', 'a', hash, false), pod('p-b', 'b', 'old', false), pod('p-c', 'c', 'old', true)], NOW);
    assert.deepEqual(broken.delete, ['p-b']);
    const done = planDaemonSet(ds, nodes, [pod('n-a', 'a', hash, true), pod('n-b', 'b', hash, true), pod('n-c', 'c', hash, true)], NOW);
    assert.deepEqual([done.create, done.delete], [[], []]);
    assert.equal(done.status.updatedNumberScheduled, 3);
    assert.equal(done.status.numberUnavailable, 0);
  });

  it('100% unavailable replaces every ready old Pod at once; OnDelete replaces none', () => {
    const fast = daemonSet({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '100%' } } });
    const pods = [pod('p-a', 'a', 'old', true), pod('p-b', 'b', 'old', true)];
    assert.deepEqual(planDaemonSet(fast, [node('a'), node('b')], pods, NOW).delete, ['p-a', 'p-b']);
    const manual = daemonSet({ updateStrategy: { type: 'OnDelete' } });
    assert.deepEqual(planDaemonSet(manual, [node('a'), node('b')], pods, NOW).delete, []);
  });

  it('with minReadySeconds a new Pod Ready for less than that is not yet available: the rollout waits', () => {
    const ds = daemonSet({ minReadySeconds: 10 });
    const hash = templateHash(ds);
    const nodes = [node('a'), node('b')];
    const fresh = planDaemonSet(ds, nodes, [pod('n-a', 'a', hash, true, 'ds1', 3), pod('p-b', 'b', 'old', true)], NOW);
    assert.deepEqual(fresh.delete, [], 'Ready 3 s of 10: the next old Pod stays');
    assert.equal(fresh.status.numberReady, 2);
    assert.equal(fresh.status.numberAvailable, 1);
    const settled = planDaemonSet(ds, nodes, [pod('n-a', 'a', hash, true, 'ds1', 11), pod('p-b', 'b', 'old', true)], NOW);
    assert.deepEqual(settled.delete, ['p-b']);
    assert.equal(settled.status.numberAvailable, 2);
  });

  it('a terminating Pod is neither deleted again nor replaced until it is gone', () => {
    const ds = daemonSet();
    const hash = templateHash(ds);
    const terminating = { ...pod('p-a', 'a', 'old', true), metadata: { ...pod('p-a', 'a', 'old', true).metadata, deletionTimestamp: '2026-11-30T10:00:30Z' } };
    const plan = planDaemonSet(ds, [node('a'), node('b')], [terminating, pod('n-b', 'b', hash, true)], NOW);
    assert.deepEqual([plan.create, plan.delete], [[], []]);
    assert.equal(plan.status.numberUnavailable, 1);
    const gone = planDaemonSet(ds, [node('a'), node('b')], [pod('n-b', 'b', hash, true)], NOW);
    assert.deepEqual(gone.create, ['a']);
  });

  it('the template hash changes with the template only', () => {
    assert.equal(templateHash(daemonSet({}, 'v1')), templateHash(daemonSet({}, 'v1')));
    assert.equal(templateHash(daemonSet({ minReadySeconds: 30, updateStrategy: { type: 'OnDelete' } }, 'v1')), templateHash(daemonSet({}, 'v1')), 'not with the rest of the spec');
    assert.notEqual(templateHash(daemonSet({}, 'v1')), templateHash(daemonSet({}, 'v2')));
  });

  it('a created Pod carries the template, the node, the revision and its controller', () => {
    const ds = daemonSet();
    const created = podFor(ds, 'a', 'abcde') as { metadata: { name: string; labels: Record<string, string>; ownerReferences: Array<{ uid: string; controller: boolean }> }; spec: { nodeName: string; containers: unknown[] } };
    assert.equal(created.metadata.name, 'seaway-gateway-abcde');
    assert.equal(created.metadata.labels.app, 'gw');
    assert.equal(created.metadata.labels[REVISION_LABEL], templateHash(ds));
    assert.deepEqual(created.metadata.ownerReferences.map((r) => [r.uid, r.controller]), [['ds1', true]]);
    assert.equal(created.spec.nodeName, 'a');
    assert.equal(created.spec.containers.length, 1);
  });
});
