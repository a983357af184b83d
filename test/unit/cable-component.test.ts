/** Cables on the per-object engine: in progress until connected, failed with the reason, retried on backoff, removed when no longer wanted. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CableEndpoint, CableStatus } from '../../src/cable/cable.ts';
import { cableComponent, type ConnectableCable } from '../../src/cable/cable-component.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';

const endpoint = (name: string, subnets = ['10.2.0.0/16']): CableEndpoint => ({ cableName: name, clusterId: 'east', privateIp: '198.18.0.2', address: '198.18.0.2', subnets, natTPort: 4500 });

function fakeCable() {
  const calls: string[] = [];
  const waits = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  let refuse: string | undefined;
  const cable: ConnectableCable & { calls: string[]; waits: typeof waits; refuse(reason: string | undefined): void } = {
    backend: 'ipsec',
    calls,
    waits,
    refuse: (reason) => { refuse = reason; },
    async connect(e) {
      calls.push(`connect ${e.cableName} ${e.subnets.join(',')}`);
      if (refuse) throw new Error(refuse);
    },
    async disconnect(name) { calls.push(`disconnect ${name}`); },
    async status(): Promise<CableStatus[]> { return []; },
    waitConnected: (name) => new Promise<void>((resolve, reject) => { waits.set(name, { resolve, reject }); }),
  };
  return cable;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a cable is in progress while it negotiates, programmed once connected; an unchanged endpoint is not sent again', async () => {
  let now = 0;
  const table = new ObjectTable({ backoff: { minMs: 1000, maxMs: 8000 }, now: () => now, random: () => 0.5 });
  const cable = fakeCable();
  const component = cableComponent(cable, 5000);
  const desired = { endpoints: [endpoint('a')] };
  await reconcileComponent(table, component, desired);
  assert.deepEqual(table.list().map((s) => [s.kind, s.key, s.state]), [['cable', 'a', 'in-progress']]);
  cable.waits.get('a')?.resolve();
  await settle();
  assert.equal(table.list()[0]?.state, 'programmed');
  await reconcileComponent(table, component, desired);
  assert.deepEqual(cable.calls, ['connect a 10.2.0.0/16'], 'the second pass leaves it alone');
  await reconcileComponent(table, component, { endpoints: [endpoint('a', ['10.2.0.0/16', '10.97.0.0/16'])] });
  assert.deepEqual(cable.calls.at(-1), 'connect a 10.2.0.0/16,10.97.0.0/16', 'a changed endpoint is new work');
});

test('a refused connect fails with the reason and is retried after its backoff; a cable that never connects is connected again on retry', async () => {
  let now = 0;
  const table = new ObjectTable({ backoff: { minMs: 1000, maxMs: 8000 }, now: () => now, random: () => 0.5 });
  const cable = fakeCable();
  const component = cableComponent(cable, 5000);
  const desired = { endpoints: [endpoint('a')] };
  cable.refuse('charon refused load-conn: invalid value for: proposals');
  await reconcileComponent(table, component, desired);
  assert.deepEqual(table.list().map((s) => [s.state, s.reason]), [['failed', 'charon refused load-conn: invalid value for: proposals']]);
  cable.refuse(undefined);
  await reconcileComponent(table, component, desired);
  assert.equal(cable.calls.length, 1, 'held back during its backoff');
  now = 10_000;
  await reconcileComponent(table, component, desired);
  assert.equal(cable.calls.length, 2, 'retried once the backoff passed');
  cable.waits.get('a')?.reject(new Error('IPsec cable a not connected after 5000 ms: IKE SA not established'));
  await settle();
  assert.deepEqual(table.list().map((s) => [s.state, s.reason]), [['failed', 'IPsec cable a not connected after 5000 ms: IKE SA not established']]);
  now = 30_000;
  await reconcileComponent(table, component, desired);
  assert.equal(cable.calls.length, 3, 'the timed-out cable is connected again, not taken for done');
});

test('a cable no longer wanted is disconnected', async () => {
  const table = new ObjectTable({ backoff: { minMs: 1000, maxMs: 8000 } });
  const cable = fakeCable();
  const component = cableComponent(cable, 5000);
  await reconcileComponent(table, component, { endpoints: [endpoint('a'), endpoint('b')] });
  for (const wait of cable.waits.values()) wait.resolve();
  await settle();
  await reconcileComponent(table, component, { endpoints: [endpoint('b')] });
  assert.deepEqual(cable.calls, ['connect a 10.2.0.0/16', 'connect b 10.2.0.0/16', 'disconnect a']);
  assert.deepEqual(table.list().map((s) => s.key), ['b']);
});

test('a cable whose connect failed is still taken down when it is no longer wanted (charon may hold part of it)', async () => {
  const table = new ObjectTable({ backoff: { minMs: 1000, maxMs: 8000 } });
  const cable = fakeCable();
  const component = cableComponent(cable, 5000);
  cable.refuse('charon refused load-conn');
  await reconcileComponent(table, component, { endpoints: [endpoint('a')] });
  cable.refuse(undefined);
  await reconcileComponent(table, component, { endpoints: [] });
  assert.deepEqual(cable.calls, ['connect a 10.2.0.0/16', 'disconnect a']);
  await reconcileComponent(table, component, { endpoints: [] });
  assert.equal(cable.calls.length, 2, 'once it went, it is not disconnected again');
});
