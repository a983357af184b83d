/** `seaway uninstall`'s flow against a fake API: order, waiting, one finisher, errors that never stop the rest. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerUninstallApi, DaemonSetView, SubmarinerResource, UninstallApi } from '../../src/k8s/uninstall-api.ts';
import { brokerEndpointsOf, finishDecision } from '../../src/plan/uninstall.ts';
import { uninstall, type UninstallDeps } from '../../src/uninstall-command.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

class FakeCluster implements UninstallApi {
  readonly calls: string[] = [];
  daemonSets = new Map<string, DaemonSetView>([
    ['seaway-route-agent', { uid: 'ra', deleting: false, desired: 3, ready: 3 }],
    ['seaway-gateway', { uid: 'gw', deleting: false, desired: 1, ready: 1 }],
    ['seaway-uninstall', { uid: 'un', deleting: false, desired: 3, ready: 3 }],
  ]);
  objects: Record<SubmarinerResource, string[]> = { routeagents: ['n1', 'n2', 'n3'], gateways: ['n1'], endpoints: ['c1-cable', 'c2-cable'], clusters: ['c1', 'c2'] };
  /** Reads of a foreground-deleted DaemonSet before it is gone. */
  foregroundReads = 2;
  failing = new Set<string>();
  /** The fake clock's time of each call, for when something happened. */
  clock: () => number = () => 0;
  readonly at = new Map<string, number>();

  #fail(call: string): void {
    this.calls.push(call);
    this.at.set(call, this.clock());
    if (this.failing.has(call)) throw Object.assign(new Error(`HTTP 500 on ${call}`), { code: 500 });
  }
  async deleteDaemonSet(name: string, propagation: 'Foreground' | 'Background') {
    this.#fail(`delete ds/${name} ${propagation}`);
    const ds = this.daemonSets.get(name);
    if (!ds) return false;
    if (propagation === 'Background') this.daemonSets.delete(name);
    else ds.deleting = true;
    return true;
  }
  async readDaemonSet(name: string) {
    this.#fail(`get ds/${name}`);
    const ds = this.daemonSets.get(name);
    if (ds?.deleting && name !== 'seaway-uninstall' && --this.foregroundReads <= 0) this.daemonSets.delete(name);
    return this.daemonSets.get(name) ?? null;
  }
  async listNames(resource: SubmarinerResource) {
    this.#fail(`list ${resource}`);
    return [...this.objects[resource]];
  }
  async deleteObject(resource: SubmarinerResource, name: string) {
    this.#fail(`delete ${resource}/${name}`);
    this.objects[resource] = this.objects[resource].filter((n) => n !== name);
  }
  async deleteLease(name: string) { this.#fail(`delete lease/${name}`); }
  async ownBy(kind: string, name: string, owner: { uid: string }) { this.#fail(`own ${kind}/${name} by ${owner.uid}`); }
}

class FakeBroker implements BrokerUninstallApi {
  readonly calls: string[] = [];
  async listEndpoints() { return [{ name: 'c1-cable', clusterId: 'c1' }, { name: 'c2-cable', clusterId: 'c2' }, { name: 'odd', clusterId: undefined }]; }
  async deleteEndpoint(name: string) { this.calls.push(`delete endpoint/${name}`); }
  async deleteCluster(name: string) { this.calls.push(`delete cluster/${name}`); }
}

function deps(api: FakeCluster, overrides: Partial<UninstallDeps> = {}) {
  const abort = new AbortController();
  let clock = 0;
  const events: string[] = [];
  const logger = captureLogger();
  const value: UninstallDeps = {
    api, broker: new FakeBroker(), logger: logger.logger, nodeName: 'n2', clusterId: 'c1', timeoutMs: 60_000, pollMs: 1000, agentsQuietMs: 30_000,
    cleanNode: async () => { events.push('clean'); api.calls.push('clean'); return 0; },
    // The node's agents answer until their DaemonSets are gone (the DaemonSet decides the wait).
    localAgentsAnswer: async () => api.daemonSets.has('seaway-route-agent') || api.daemonSets.has('seaway-gateway'),
    markClean: () => events.push('ready'),
    now: () => clock,
    // Time passes only by sleeping; a pod that idles after its work is stopped.
    sleep: async (ms) => { clock += ms; if (ms >= 60_000) abort.abort(); },
    random: () => 0,
    signal: abort.signal,
    ...overrides,
  };
  api.clock = () => clock;
  return { value, events, logger, abort, clock: () => clock };
}

describe('seaway uninstall', () => {
  it('stops the agents (foreground) and waits for them, cleans, deletes its node\'s objects, then with every node clean finishes', async () => {
    const api = new FakeCluster();
    const { value, events } = deps(api);
    assert.equal(await uninstall(value), 0);
    const order = api.calls;
    const cleanAt = order.indexOf('clean');
    assert.ok(cleanAt > 0 && cleanAt < order.indexOf('delete routeagents/n2'), 'cleaned, then its node\'s objects deleted');
    assert.deepEqual(order.slice(0, 2), ['delete ds/seaway-route-agent Foreground', 'delete ds/seaway-gateway Foreground']);
    assert.ok(order.lastIndexOf('get ds/seaway-gateway') < cleanAt, 'the agents were gone before the node\'s objects went');
    assert.deepEqual(events, ['clean', 'ready']);
    assert.deepEqual(api.objects, { routeagents: [], gateways: [], endpoints: [], clusters: [] });
    assert.ok(order.includes('delete lease/seaway-gateway-lock'));
    // ... and a last look at its DaemonSet, gone: the loop ends.
    assert.equal(order.at(-1), 'get ds/seaway-uninstall');
    const tail = order.slice(-5, -1);
    assert.deepEqual(tail, ['own ServiceAccount/seaway-uninstall by un', 'own Role/seaway-uninstall by un', 'own RoleBinding/seaway-uninstall by un', 'delete ds/seaway-uninstall Background']);
    assert.deepEqual((value.broker as FakeBroker).calls, ['delete endpoint/c1-cable', 'delete cluster/c1'], 'only this cluster\'s copies on the broker');
  });

  it('waits while other nodes are not clean, and finishes at the deadline if they never are', async () => {
    const api = new FakeCluster();
    api.daemonSets.get('seaway-uninstall')!.ready = 1;
    const { value } = deps(api, { timeoutMs: 20_000 });
    await uninstall(value);
    const finishedAt = api.at.get('delete ds/seaway-uninstall Background');
    assert.ok(finishedAt !== undefined && finishedAt >= 20_000, `it waited until the deadline, then finished (at ${finishedAt} ms)`);
  });

  it('a node that is down keeps the agents\' DaemonSets: this node goes on once its own agents are quiet, long before the deadline', async () => {
    const api = new FakeCluster();
    api.foregroundReads = Number.POSITIVE_INFINITY;
    let answering = 3;
    const { value } = deps(api, { timeoutMs: 600_000, localAgentsAnswer: async () => answering-- > 0 });
    await uninstall(value);
    const cleanedAt = api.at.get('delete routeagents/n2');
    assert.ok(cleanedAt !== undefined && cleanedAt >= 30_000 && cleanedAt < 120_000, `cleaned once its agents were quiet for 30 s, not at the 600 s deadline (at ${cleanedAt} ms)`);
  });

  it('finishing that fails to delete the DaemonSet is tried again', async () => {
    const api = new FakeCluster();
    api.failing.add('delete ds/seaway-uninstall Background');
    const { value } = deps(api);
    let deletes = 0;
    const original = api.deleteDaemonSet.bind(api);
    api.deleteDaemonSet = async (name, propagation) => {
      if (name === 'seaway-uninstall' && ++deletes === 2) api.failing.delete('delete ds/seaway-uninstall Background');
      return original(name, propagation);
    };
    await uninstall(value);
    assert.equal(deletes, 2, 'a second finish after the first failed');
    assert.equal(api.daemonSets.has('seaway-uninstall'), false);
  });

  it('leaves the finishing to the pod that already deletes the DaemonSet', async () => {
    const api = new FakeCluster();
    api.daemonSets.get('seaway-uninstall')!.deleting = true;
    const { value } = deps(api);
    await uninstall(value);
    assert.equal(api.calls.some((c) => c.startsWith('list ')), false);
    assert.equal(api.calls.includes('delete ds/seaway-uninstall Background'), false);
  });

  it('retries a failing cleanup and stays not ready while it fails', async () => {
    const api = new FakeCluster();
    let attempts = 0;
    const { value, events } = deps(api, { cleanNode: async () => (++attempts < 3 ? 1 : 0) });
    assert.equal(await uninstall(value), 0);
    assert.equal(attempts, 3);
    assert.deepEqual(events, ['ready']);
    const never = new FakeCluster();
    const failing = deps(never, { cleanNode: async () => 1, timeoutMs: 30_000 });
    assert.equal(await uninstall(failing.value), 1);
    assert.deepEqual(failing.events, [], 'never ready');
  });

  it('one object that cannot be deleted never keeps the others, and the error is logged', async () => {
    const api = new FakeCluster();
    api.failing.add('delete endpoints/c1-cable');
    api.failing.add('delete ds/seaway-gateway Foreground');
    const { value, logger } = deps(api);
    await uninstall(value);
    assert.deepEqual(api.objects.endpoints, ['c1-cable']);
    assert.deepEqual(api.objects.clusters, []);
    assert.ok(api.calls.includes('delete ds/seaway-uninstall Background'));
    const errors = logger.lines.filter((l) => l.level === 50).map((l) => l.msg);
    assert.ok(errors.includes('uninstall: deleting endpoints/c1-cable failed'), JSON.stringify(errors));
    assert.ok(errors.includes('uninstall: deleting the DaemonSet seaway-gateway failed'));
  });

  it('without broker credentials it says what is left there', async () => {
    const api = new FakeCluster();
    const { value, logger } = deps(api, { broker: null });
    await uninstall(value);
    assert.ok(logger.lines.some((l) => /left for the broker's owner/.test(String(l.msg))));
  });
});

describe('uninstall decisions', () => {
  const ds = (ready: number, desired: number, deleting = false): DaemonSetView => ({ uid: 'u', ready, desired, deleting });
  it('finishes when every node is counted ready or at the deadline; never when another pod already does', () => {
    assert.deepEqual(finishDecision(ds(3, 3), 0, 100), { finish: true, why: 'every-node-clean' });
    assert.deepEqual(finishDecision(ds(2, 3), 0, 100), { finish: false, why: 'waiting' });
    assert.deepEqual(finishDecision(ds(2, 3), 100, 100), { finish: true, why: 'deadline' });
    assert.deepEqual(finishDecision(ds(0, 0), 0, 100), { finish: false, why: 'waiting' }, 'a status not yet written is no "all clean"');
    assert.deepEqual(finishDecision(ds(3, 3, true), 0, 100), { finish: false, why: 'finishing-elsewhere' });
    assert.deepEqual(finishDecision(null, 500, 100), { finish: false, why: 'finishing-elsewhere' });
  });
  it('the broker\'s Endpoints of this cluster only', () => {
    assert.deepEqual(brokerEndpointsOf([{ name: 'b', clusterId: 'c1' }, { name: 'a', clusterId: 'c1' }, { name: 'x', clusterId: 'c10' }, { name: 'y', clusterId: undefined }], 'c1'), ['a', 'b']);
    assert.deepEqual(brokerEndpointsOf([], 'c1'), []);
  });
});
