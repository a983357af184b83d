/**
 * Writing the RouteAgent object: the write budget (status-object.ts, pure), the writer against a
 * fake API (get, create, replace with resourceVersion, others' metadata kept, errors
 * as ApiProblem, deadlines), the publisher's budget around a fake writer, and the reporter the pass
 * hands each plan to (timers, one write at a time, one log line per failure streak).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { ApiConnection } from '../../src/k8s/api-connection.ts';
import { sender, type ApiSend } from '../../src/k8s/api-request.ts';
import { dueForWrite, writeDueAt } from '../../src/plan/status-object.ts';
import { ApiStatusError } from '../../src/k8s/api-problem.ts';
import { createRouteAgentPublisher, createRouteAgentWriter } from '../../src/k8s/route-agent-writer.ts';
import type { StatusWriteResult } from '../../src/k8s/status-object-writer.ts';
import { createRouteAgentReporter } from '../../src/reconcile/route-agent-report.ts';
import { planNode, type Plan, type PlanConfig } from '../../src/plan/node-plan.ts';
import { ROUTE_AGENT_WRITE_BUDGET, ROUTES_PROGRAMMED_MESSAGE, type RouteAgentHealth, type RouteAgentObject } from '../../src/plan/route-agent-status.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

function agent(message = 'm', status: 'connected' | 'connecting' | 'error' = 'connected', name = 'east-worker'): RouteAgentObject {
  return {
    apiVersion: 'submariner.io/v1', kind: 'RouteAgent', metadata: { name, namespace: 'submariner-operator' },
    status: {
      version: '0.1.0', statusFailure: '',
      remoteEndpoints: [{ status, statusMessage: message, spec: { cluster_id: 'west', cable_name: 'c', hostname: 'h', subnets: ['10.2.0.0/16'], private_ip: '192.168.2.10', nat_enabled: false, backend: 'libreswan' } }],
    },
  };
}

describe('writeDueAt / dueForWrite: the write budget (pure)', () => {
  const budget = { minIntervalMs: 10_000, refreshMs: MINUTE };

  test('nothing written yet, or a clock that went back: due now', () => {
    assert.equal(writeDueAt(null, agent(), 0, NOW, budget), NOW);
    assert.equal(writeDueAt(agent(), agent(), NOW, NOW - 5000, budget), NOW - 5000);
    assert.equal(dueForWrite(agent(), agent(), NOW, NOW - 1, budget), true);
  });

  test('unchanged: due at the refresh, not before', () => {
    assert.equal(writeDueAt(agent(), agent(), NOW, NOW + 1000, budget), NOW + MINUTE);
    assert.equal(dueForWrite(agent(), agent(), NOW, NOW + MINUTE - 1, budget), false);
    assert.equal(dueForWrite(agent(), agent(), NOW, NOW + MINUTE, budget), true);
  });

  test('changed: due minIntervalMs after the last write (at once without one; never later than the refresh)', () => {
    assert.equal(writeDueAt(agent('a'), agent('b'), NOW, NOW + 1000, budget), NOW + 10_000);
    assert.equal(dueForWrite(agent('a'), agent('b'), NOW, NOW + 9999, budget), false);
    assert.equal(dueForWrite(agent('a'), agent('b'), NOW, NOW + 10_000, budget), true);
    assert.equal(writeDueAt(agent('a'), agent('b'), NOW, NOW + 1, { refreshMs: MINUTE }), NOW);
    assert.equal(writeDueAt(agent('a'), agent('b'), NOW, NOW + 1, { refreshMs: 5000, minIntervalMs: 20_000 }), NOW + 5000);
  });

  test('a custom sameness (the Gateway\'s leaves its stamp out) decides what is a change', () => {
    assert.equal(writeDueAt(agent('a'), agent('b'), NOW, NOW + 1, budget, () => true), NOW + MINUTE);
  });
});

/**
 * The API server as the writer's ApiSend sees it: RouteAgents kept in a map, with resourceVersions,
 * failing on demand. Calls are recorded as "get|create|replace <plural> <namespace>/<name>".
 */
function fakeApi() {
  const store = new Map<string, Record<string, any>>();
  const calls: string[] = [];
  const failNext: Array<{ op: string; error: unknown }> = [];
  let version = 10;
  const maybeFail = (op: string) => {
    const i = failNext.findIndex((f) => f.op === op);
    if (i >= 0) { const [f] = failNext.splice(i, 1); throw f!.error; }
  };
  const notFound = (name: string) => new ApiStatusError(404, 'NotFound', `routeagents.submariner.io "${name}" not found`);
  const send: ApiSend = async (call) => {
    const match = /^\/apis\/submariner\.io\/v1\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(call.path);
    assert.ok(match, `a submariner.io path: ${call.path}`);
    const [, namespace, plural, name] = match;
    const body = call.body as any;
    if (call.method === 'GET' && name) {
      calls.push(`get ${plural} ${namespace}/${name}`);
      maybeFail('get');
      const object = store.get(name);
      if (!object) throw notFound(name);
      return structuredClone(object);
    }
    if (call.method === 'POST' && !name) {
      calls.push(`create ${plural} ${namespace}/${body.metadata.name} by ${call.query?.fieldManager}`);
      maybeFail('create');
      if (store.has(body.metadata.name)) throw new ApiStatusError(409, 'AlreadyExists', 'exists');
      const object = { ...structuredClone(body), metadata: { ...body.metadata, uid: `uid-${body.metadata.name}`, resourceVersion: String(++version) } };
      store.set(body.metadata.name, object);
      return structuredClone(object);
    }
    if (call.method === 'PUT' && name) {
      calls.push(`replace ${plural} ${namespace}/${name} rv=${body.metadata.resourceVersion}${call.query?.fieldManager === 'seaway' ? '' : ` without fieldManager seaway`}`);
      maybeFail('replace');
      const stored = store.get(name);
      if (!stored) throw notFound(name);
      if (stored.metadata.resourceVersion !== body.metadata.resourceVersion) throw new ApiStatusError(409, 'Conflict', 'the object has been modified');
      const object = { ...structuredClone(body), metadata: { ...body.metadata, uid: stored.metadata.uid, resourceVersion: String(++version) } };
      store.set(name, object);
      return structuredClone(object);
    }
    throw new Error(`unexpected ${call.method} ${call.path}`);
  };
  return { store, calls, failNext, send };
}



describe('createRouteAgentWriter (a fake API)', () => {
  test('the first write reads, finds nothing and creates; the next replaces with the resourceVersion it saw, without reading', async () => {
    const api = fakeApi();
    const writer = createRouteAgentWriter(api.send, { namespace: 'submariner-operator', userAgent: 'seaway/0.1.0' });
    const first = await writer.write(agent('a'));
    assert.deepEqual(first, { ok: true, name: 'east-worker', action: 'created', uid: 'uid-east-worker', resourceVersion: '11' });
    const second = await writer.write(agent('b'));
    assert.deepEqual(second, { ok: true, name: 'east-worker', action: 'replaced', uid: 'uid-east-worker', resourceVersion: '12' });
    assert.deepEqual(api.calls, [
      'get routeagents submariner-operator/east-worker', 'create routeagents submariner-operator/east-worker by seaway',
      'replace routeagents submariner-operator/east-worker rv=11',
    ]);
    assert.equal(api.store.get('east-worker')!.status.remoteEndpoints[0].statusMessage, 'b');
  });

  test('labels, annotations, owner references and finalizers someone else put on the object are kept', async () => {
    const api = fakeApi();
    api.store.set('east-worker', {
      ...agent('old'),
      metadata: { name: 'east-worker', namespace: 'submariner-operator', uid: 'u1', resourceVersion: '5', labels: { team: 'net' }, annotations: { note: 'keep' }, ownerReferences: [{ kind: 'Node', name: 'east-worker' }], finalizers: ['x/y'] },
    });
    const writer = createRouteAgentWriter(api.send, { namespace: 'submariner-operator' });
    assert.equal((await writer.write(agent('new'))).ok, true);
    const stored = api.store.get('east-worker')!;
    assert.deepEqual(stored.metadata, {
      name: 'east-worker', namespace: 'submariner-operator', uid: 'u1', resourceVersion: '11',
      labels: { team: 'net' }, annotations: { note: 'keep' }, ownerReferences: [{ kind: 'Node', name: 'east-worker' }], finalizers: ['x/y'],
    });
    assert.equal(stored.status.remoteEndpoints[0].statusMessage, 'new');
  });

  test('someone else wrote it (409) or deleted it (404) since: read again and write once more', async () => {
    const api = fakeApi();
    const writer = createRouteAgentWriter(api.send, { namespace: 'submariner-operator' });
    await writer.write(agent('a'));
    api.store.get('east-worker')!.metadata.resourceVersion = '99';
    assert.deepEqual(await writer.write(agent('b')), { ok: true, name: 'east-worker', action: 'replaced', uid: 'uid-east-worker', resourceVersion: '12' });
    api.store.delete('east-worker');
    assert.deepEqual(await writer.write(agent('c')), { ok: true, name: 'east-worker', action: 'created', uid: 'uid-east-worker', resourceVersion: '13' });
    assert.deepEqual(api.calls.slice(2), [
      'replace routeagents submariner-operator/east-worker rv=11', 'get routeagents submariner-operator/east-worker', 'replace routeagents submariner-operator/east-worker rv=99',
      'replace routeagents submariner-operator/east-worker rv=12', 'get routeagents submariner-operator/east-worker', 'create routeagents submariner-operator/east-worker by seaway',
    ]);
  });

  test('a failure comes back as an ApiProblem naming the step, never thrown; the next write reads afresh', async () => {
    const api = fakeApi();
    const writer = createRouteAgentWriter(api.send, { namespace: 'submariner-operator' });
    api.failNext.push({ op: 'create', error: new ApiStatusError(403, 'Forbidden', 'routeagents.submariner.io is forbidden: User "x" cannot create resource "routeagents"') });
    const failed = await writer.write(agent());
    assert.deepEqual(failed, {
      ok: false, name: 'east-worker', step: 'create',
      problem: { category: 'status', cause: 'HTTP 403 Forbidden', detail: 'routeagents.submariner.io is forbidden: User "x" cannot create resource "routeagents"', statusCode: 403 },
    });
    api.failNext.push({ op: 'get', error: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }) });
    const unreachable = await writer.write(agent());
    assert.equal(unreachable.ok, false);
    assert.deepEqual(unreachable.ok ? null : [unreachable.step, unreachable.problem.cause], ['read', 'unreachable']);
    assert.equal((await writer.write(agent())).ok, true);
  });

  test('every request has a deadline: credentials that never come are a timeout, not a hang', async () => {
    // The real request over a connection whose credentials never come (an exec plugin that hangs).
    const hanging: ApiConnection = { server: 'https://192.0.2.1:6443', requestOptions: () => new Promise(() => undefined) };
    const writer = createRouteAgentWriter(sender(hanging), { namespace: 'submariner-operator', requestTimeoutMs: 20 });
    const result = await writer.write(agent());
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? null : [result.step, result.problem.cause], ['read', 'timeout']);
  });
});

describe('createRouteAgentPublisher (the budget around a writer)', () => {
  const ok: StatusWriteResult = { ok: true, name: 'east-worker', action: 'replaced', uid: 'u', resourceVersion: '1' };
  const failed: StatusWriteResult = { ok: false, name: 'east-worker', step: 'replace', problem: { category: 'status', cause: 'HTTP 500', detail: 'boom', statusCode: 500 } };
  function fakeWriter(results: StatusWriteResult[] = []) {
    const writes: RouteAgentObject[] = [];
    return { writes, write: async (o: RouteAgentObject) => { writes.push(o); return results.shift() ?? ok; } };
  }

  test('defaults to the RouteAgent budget: a change at most every 10 s, unchanged rewritten once a minute', async () => {
    const writer = fakeWriter();
    const publisher = createRouteAgentPublisher(writer);
    assert.equal((await publisher.publish(agent('a'), NOW)).attempted, true);
    assert.deepEqual(await publisher.publish(agent('b'), NOW + 9999), { attempted: false, reason: 'unchanged' });
    assert.equal(publisher.nextAttemptAt(agent('b'), NOW + 9999), NOW + ROUTE_AGENT_WRITE_BUDGET.minIntervalMs);
    assert.equal((await publisher.publish(agent('b'), NOW + 10_000)).attempted, true);
    assert.equal(publisher.nextAttemptAt(agent('b'), NOW + 10_001), NOW + 10_000 + MINUTE);
    assert.deepEqual(await publisher.publish(agent('b'), NOW + 10_000 + MINUTE - 1), { attempted: false, reason: 'unchanged' });
    assert.equal((await publisher.publish(agent('b'), NOW + 10_000 + MINUTE)).attempted, true);
    assert.deepEqual(writer.writes.map((w) => w.status.remoteEndpoints[0]!.statusMessage), ['a', 'b', 'b']);
  });

  test('after a failure: backs off (1 s doubling, at most the refresh), then retries even an unchanged object', async () => {
    const writer = fakeWriter([failed, failed]);
    const publisher = createRouteAgentPublisher(writer, { random: () => 1 });
    assert.equal((await publisher.publish(agent(), NOW)).attempted, true);
    assert.deepEqual(await publisher.publish(agent(), NOW + 999), { attempted: false, reason: 'backing-off' });
    assert.equal(publisher.nextAttemptAt(agent(), NOW + 999), NOW + 1000);
    assert.equal((await publisher.publish(agent(), NOW + 1000)).attempted, true);
    assert.equal(publisher.nextAttemptAt(agent(), NOW + 1001), NOW + 3000);
    const third = await publisher.publish(agent(), NOW + 3000);
    assert.ok(third.attempted && third.result.ok);
    assert.deepEqual(await publisher.publish(agent(), NOW + 4000), { attempted: false, reason: 'unchanged' });
    // A long outage never waits more than the refresh between attempts.
    const down = createRouteAgentPublisher(fakeWriter(Array.from({ length: 20 }, () => failed)), { random: () => 1 });
    let at = NOW;
    for (let i = 0; i < 20; i++) { await down.publish(agent(), at); at = down.nextAttemptAt(agent(), at)!; }
    assert.equal(down.nextAttemptAt(agent(), at - 1)! - (at - MINUTE), MINUTE);
  });

  test('one write at a time: a publish during a write is skipped as busy, and nextAttemptAt waits for its end', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const publisher = createRouteAgentPublisher({ write: async () => { await gate; return ok; } });
    const first = publisher.publish(agent('a'), NOW);
    assert.deepEqual(await publisher.publish(agent('b'), NOW + 1), { attempted: false, reason: 'busy' });
    assert.equal(publisher.nextAttemptAt(agent('b'), NOW + 1), undefined);
    release();
    assert.equal((await first).attempted, true);
    assert.equal(publisher.nextAttemptAt(agent('b'), NOW + 2), NOW + 10_000);
  });
});

describe('createRouteAgentReporter (after each pass)', () => {
  const config: PlanConfig = {
    clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
  };
  const plan: Plan = planNode({
    endpoints: [
      endpoint('east-ep', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', subnets: ['10.244.0.0/16'] })),
      endpoint('west-ep', spec({ cluster_id: 'west', subnets: ['10.2.0.0/16'] })),
    ],
    clusters: [],
    nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')],
  }, { nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500, cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'] }, config);
  const pendingRoute = [{ component: 'routing', kind: 'route' as const, key: '254 10.2.0.0/16', object: 'route 10.2.0.0/16', state: 'pending' as const, since: 0, attempts: 0, desired: true }];

  /** A reporter over a real publisher and a scripted writer, with a hand-driven clock and timers. */
  function harness(results: StatusWriteResult[] = [], nodeName = 'east-worker', health?: () => RouteAgentHealth) {
    let clock = NOW;
    const timers: Array<{ at: number; run: () => void; id: number }> = [];
    let nextId = 0;
    const lines: Array<{ level: number; msg: string; cause?: string; err?: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
    const writes: RouteAgentObject[] = [];
    const signals: AbortSignal[] = [];
    let hold: Promise<void> | null = null;
    const writer = {
      write: async (o: RouteAgentObject, signal?: AbortSignal) => {
        writes.push(o);
        if (signal) signals.push(signal);
        if (hold) await hold;
        return results.shift() ?? { ok: true as const, name: o.metadata.name, action: 'replaced' as const, uid: 'u', resourceVersion: '1' };
      },
    };
    let errors = 0;
    const reporter = createRouteAgentReporter({
      nodeName, namespace: 'submariner-operator', version: '0.1.0', logger,
      publisher: createRouteAgentPublisher(writer, { random: () => 1 }),
      now: () => clock,
      ...(health ? { health } : {}),
      onWriteError: () => { errors++; },
      setTimer: (run, ms) => { const id = ++nextId; timers.push({ at: clock + ms, run, id }); return id; },
      clearTimer: (id) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    return {
      reporter, writes, lines, signals,
      get errors() { return errors; },
      get timers() { return timers.map((t) => t.at - clock); },
      holdWrites(promise: Promise<void> | null) { hold = promise; },
      settle,
      /** Moves the clock, firing the timers due on the way. */
      async advance(ms: number) {
        const until = clock + ms;
        for (;;) {
          timers.sort((a, b) => a.at - b.at);
          const due = timers[0];
          if (due === undefined || due.at > until) break;
          timers.shift();
          clock = due.at;
          due.run();
          await settle();
        }
        clock = until;
      },
      messages: (level: number) => lines.filter((l) => l.level === level).map((l) => l.msg),
    };
  }

  test('a pass\'s plan is written at once; the same state again is not rewritten until the minute\'s refresh', async () => {
    const h = harness();
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 1);
    assert.deepEqual(h.writes[0]!.status.remoteEndpoints.map((r) => [r.spec.cluster_id, r.status, r.statusMessage]), [['west', 'connected', ROUTES_PROGRAMMED_MESSAGE]]);
    assert.deepEqual(h.timers, [MINUTE]);
    await h.advance(30_000);
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 1, 'unchanged: no write');
    await h.advance(30_000);
    assert.equal(h.writes.length, 2, 'the refresh, a minute after the last write, with no pass needed');
    await h.reporter.stop();
  });

  test('a change within 10 s of the last write waits on a timer and is written then, without another pass', async () => {
    const h = harness();
    h.reporter.report({ plan, unsettled: pendingRoute });
    await h.settle();
    await h.advance(2000);
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 1);
    assert.deepEqual(h.timers, [8000]);
    await h.advance(8000);
    assert.deepEqual(h.writes.map((w) => w.status.remoteEndpoints[0]!.status), ['connecting', 'connected']);
    await h.reporter.stop();
  });

  test('passes every second while the budget holds changes back: the object is built once, when it can be written, from the last pass', async () => {
    let builds = 0;
    // Health that says the node probes nothing: the object reads as without health checks, and each call is a build.
    const h = harness([], 'east-worker', () => { builds++; return { off: 'checks disabled', skipped: new Map(), probes: new Map() }; });
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 1);
    const before = builds;
    for (let i = 0; i < 9; i++) {
      await h.advance(1000);
      h.reporter.report({ plan, unsettled: i % 2 === 0 ? pendingRoute : [] });
    }
    await h.settle();
    assert.equal(builds, before, 'nothing built while no write could take it');
    assert.equal(h.writes.length, 1);
    await h.advance(1000);
    assert.equal(builds, before + 1, 'built once, at the end of the budget');
    assert.equal(h.writes.length, 2);
    assert.equal(h.writes[1]!.status.remoteEndpoints[0]!.status, 'connecting', 'the last pass\'s state (its route pending)');
    assert.equal(h.writes[0]!.status.remoteEndpoints[0]!.status, 'connected');
    await h.reporter.stop();
  });

  test('a pass during a write: its object is written after it (one write at a time), within the budget', async () => {
    const h = harness();
    let release!: () => void;
    h.holdWrites(new Promise<void>((resolve) => { release = resolve; }));
    h.reporter.report({ plan, unsettled: pendingRoute });
    await h.settle();
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 1);
    h.holdWrites(null);
    release();
    await h.settle();
    assert.deepEqual(h.timers, [10_000]);
    await h.advance(10_000);
    assert.deepEqual(h.writes.map((w) => w.status.remoteEndpoints[0]!.status), ['connecting', 'connected']);
    await h.reporter.stop();
  });

  test('failed writes: counted, retried on the backoff by the timer, one log line per streak and one when it works again', async () => {
    const failure = (cause: string): StatusWriteResult => ({ ok: false, name: 'east-worker', step: 'replace', problem: { category: 'status', cause, detail: `${cause} from the server`, statusCode: 500 } });
    const h = harness([failure('HTTP 500'), failure('HTTP 500'), failure('HTTP 500'), failure('HTTP 503'), failure('HTTP 503')]);
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    await h.advance(1000); // second attempt
    await h.advance(2000); // third
    await h.advance(4000); // fourth: another cause
    await h.advance(8000); // fifth
    await h.advance(16_000); // sixth: works
    assert.equal(h.writes.length, 6);
    assert.equal(h.errors, 5);
    const failures = h.lines.filter((l) => l.msg.startsWith('writing the RouteAgent failed'));
    assert.deepEqual(failures.map((l) => [l.cause, l.err]), [['HTTP 500', 'HTTP 500 from the server'], ['HTTP 503', 'HTTP 503 from the server']]);
    assert.deepEqual(h.messages(30).filter((m) => m.includes('RouteAgent')), ['RouteAgent written again']);
    await h.reporter.stop();
  });

  test('planning failed: the last plan is reported with the failure (every remote in error); before any plan, nothing is written', async () => {
    const h = harness();
    h.reporter.report({ plan: null, unsettled: [], failure: 'the underlay cannot be told' });
    await h.settle();
    assert.equal(h.writes.length, 0);
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    await h.advance(10_000);
    h.reporter.report({ plan: null, unsettled: [], failure: 'the underlay cannot be told' });
    await h.settle();
    assert.equal(h.writes.length, 2);
    assert.equal(h.writes[1]!.status.statusFailure, 'reconcile pass failed: the underlay cannot be told');
    assert.deepEqual(h.writes[1]!.status.remoteEndpoints.map((r) => r.status), ['error']);
    await h.reporter.stop();
  });

  test('an object that cannot be built is not written, and said once', async () => {
    const h = harness([], 'bad_name-');
    h.reporter.report({ plan, unsettled: [] });
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.equal(h.writes.length, 0);
    assert.deepEqual(h.messages(40), ['the RouteAgent object cannot be built; it is not written']);
    await h.reporter.stop();
  });

  test('stop: the timer ends, the write in flight is aborted, and nothing is written after', async () => {
    const h = harness();
    let release!: () => void;
    h.holdWrites(new Promise<void>((resolve) => { release = resolve; }));
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    const stopped = h.reporter.stop();
    assert.equal(h.signals[0]!.aborted, true);
    release();
    await stopped;
    assert.deepEqual(h.timers, []);
    h.reporter.report({ plan, unsettled: pendingRoute });
    await h.advance(5 * MINUTE);
    assert.equal(h.writes.length, 1);
  });
});
