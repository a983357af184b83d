/**
 * What the informer tells its consumers: only changes of the projection, one call per event, the
 * differences after a relist; lists are read page by page; a consumer that throws does not stop it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInformer, type InformerChange } from '../../src/k8s/informer.ts';
import { captureLogger, httpError, object, ScriptedSource, testMetrics, unlimited, VirtualClock, type TestObject } from './informer-fakes.ts';

interface Projected {
  name: string;
  spec: Record<string, unknown> | undefined;
}

function setup(items: TestObject[] = [object('a', '5', { v: 1 }), object('b', '6', { v: 1 })], firstListener?: () => void) {
  const clock = new VirtualClock();
  const source = new ScriptedSource(clock, items, '10');
  const { logger, lines } = captureLogger();
  // The projection keeps the spec; status (a heartbeat, say) is not part of it.
  const informer = createInformer<TestObject, Projected>(
    { name: 'things', source, project: (o) => ({ name: o.metadata.name, spec: o.spec }) },
    { logger, metrics: testMetrics(), limiter: unlimited, settings: { backoff: { minMs: 100, maxMs: 1000 }, watchTimeoutSeconds: 300 }, clock, random: () => 0.5 },
  );
  const calls: Array<readonly InformerChange<Projected>[]> = [];
  if (firstListener) informer.onChange(firstListener);
  informer.onChange((changes) => { calls.push(changes); });
  const describe = (changes: readonly InformerChange<Projected>[]) =>
    changes.map((c) => `${c.key} ${JSON.stringify(c.previous?.spec ?? null)} -> ${JSON.stringify(c.current?.spec ?? null)}`).sort();
  return { clock, source, lines, informer, calls, describe };
}

test('the first list is one call with every object, after the informer is synced', async () => {
  const { clock, informer, calls, describe } = setup();
  let syncedWhenCalled: boolean | undefined;
  informer.onChange(() => { syncedWhenCalled ??= informer.synced; });
  informer.start();
  await clock.runUntil(100);
  assert.equal(calls.length, 1);
  assert.deepEqual(describe(calls[0]!), ['a null -> {"v":1}', 'b null -> {"v":1}']);
  assert.equal(syncedWhenCalled, true);
  assert.deepEqual(informer.list().map((p) => p.name).sort(), ['a', 'b']);
  await informer.stop();
});

test('an update that changes nothing projected calls nobody and keeps the object as it was; a projected change calls once', async () => {
  const { clock, source, informer, calls, describe } = setup();
  informer.start();
  await clock.runUntil(100);
  const before = informer.get('a');
  for (let i = 0; i < 100; i++) {
    source.current?.emit({ type: 'MODIFIED', object: object('a', String(100 + i), { v: 1 }, { heartbeat: i }) });
  }
  await clock.runUntil(200);
  assert.equal(calls.length, 1, '100 status-only updates: no call');
  assert.equal(informer.get('a'), before, 'the kept projection is the same object');
  source.current?.emit({ type: 'MODIFIED', object: object('a', '300', { v: 2 }) });
  await clock.runUntil(300);
  assert.equal(calls.length, 2);
  assert.deepEqual(describe(calls[1]!), ['a {"v":1} -> {"v":2}']);
  source.current?.emit({ type: 'DELETED', object: object('b', '301', { v: 1 }) });
  source.current?.emit({ type: 'DELETED', object: object('zz', '302') });
  await clock.runUntil(400);
  assert.equal(calls.length, 3, 'deleting an unknown object is no change');
  assert.deepEqual(describe(calls[2]!), ['b {"v":1} -> null']);
  await informer.stop();
});

test('a bookmark moves the version the next watch starts from and calls nobody', async () => {
  const { clock, source, informer, calls } = setup();
  informer.start();
  await clock.runUntil(2000);
  source.current?.emit({ type: 'BOOKMARK', resourceVersion: '777' });
  source.current?.end();
  await clock.runUntil(2100);
  assert.equal(calls.length, 1);
  assert.equal(source.calls.at(-1)?.resourceVersion, '777');
  await informer.stop();
});

test('a relist reports only the differences: changed, added and removed objects, in one call', async () => {
  const { clock, source, informer, calls, describe } = setup([object('a', '5', { v: 1 }), object('b', '6', { v: 1 }), object('c', '7', { v: 1 })]);
  informer.start();
  await clock.runUntil(2000);
  source.onList = () => ({ items: [object('a', '50', { v: 1 }), object('b', '51', { v: 2 }), object('d', '52', { v: 1 })], resourceVersion: '60' });
  source.current?.fail(httpError(410, 'Expired'));
  await clock.runUntil(5000);
  assert.equal(calls.length, 2);
  assert.deepEqual(describe(calls[1]!), ['b {"v":1} -> {"v":2}', 'c {"v":1} -> null', 'd null -> {"v":1}']);
  // Nothing changed at all: a relist calls nobody.
  source.current?.fail(httpError(410, 'Expired'));
  await clock.runUntil(10_000);
  assert.equal(source.count('list'), 3);
  assert.equal(calls.length, 2);
  await informer.stop();
});

test('lists are read page by page with the continue token; a page that fails restarts the list from its first page', async () => {
  const { clock, source, informer, calls } = setup();
  const pages: Record<string, { items: TestObject[]; continueToken?: string }> = {
    '': { items: [object('a', '1'), object('b', '2')], continueToken: 'p2' },
    p2: { items: [object('c', '3'), object('d', '4')], continueToken: 'p3' },
    p3: { items: [object('e', '5')] },
  };
  let failThirdPage = true;
  source.onList = (request) => {
    assert.equal(request.limit, 500);
    const token = request.continueToken ?? '';
    if (token === 'p3' && failThirdPage) {
      failThirdPage = false;
      throw httpError(500, 'InternalError');
    }
    return { ...pages[token]!, resourceVersion: '40' };
  };
  informer.start();
  await clock.runUntil(5000);
  assert.deepEqual(source.calls.filter((c) => c.op === 'list').map((c) => c.continueToken ?? 'first'), ['first', 'p2', 'p3', 'first', 'p2', 'p3']);
  assert.equal(calls.length, 1, 'the objects are announced once the whole list is in');
  assert.deepEqual(informer.list().map((p) => p.name).sort(), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(source.calls.at(-1)?.resourceVersion, '40');
  await informer.stop();
});

test('a consumer that throws is logged once and the others keep hearing about changes', async () => {
  const { clock, source, lines, informer, calls } = setup(undefined, () => { throw new Error('consumer bug'); });
  informer.start();
  await clock.runUntil(100);
  source.current?.emit({ type: 'ADDED', object: object('c', '20', { v: 1 }) });
  source.current?.emit({ type: 'ADDED', object: object('d', '21', { v: 1 }) });
  await clock.runUntil(200);
  assert.equal(calls.length, 3);
  assert.equal(source.open, 1, 'the watch is still open');
  assert.equal(lines.filter((l) => l.msg === 'informer change listener failed').length, 1);
  await informer.stop();
});
