import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FilterDriver } from '../../src/dataplane/filter.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';
import { filterComponent } from '../../src/reconcile/components.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';

/** A driver whose applies fail or succeed as listed; nothing else of it is used. */
function fakeDriver(outcomes: Array<Error | null>): FilterDriver & { applies: number } {
  let writes = 0;
  const driver = {
    backend: 'iptables' as const, iptablesMode: 'legacy' as const, applies: 0,
    get writes() { return writes; },
    observe: async () => { throw new Error('unused'); },
    drift: async () => [],
    cleanup: async () => ({ writes: 0 }),
    notifications: () => ({ tables: [], complete: false }),
    async apply() {
      driver.applies++;
      const outcome = outcomes.shift();
      if (outcome) throw outcome;
      writes++;
      return { writes: 1 };
    },
  };
  return driver;
}

const desired: DesiredFilter = { localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16', '10.3.0.0/16'], nodeAddresses: ['192.168.1.10/32'], vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' } };

test('the packet filter is one object: a failed transaction fails it with the tool\'s words and code, retried only after its backoff', async () => {
  let now = 0;
  const table = new ObjectTable({ backoff: { minMs: 1000, maxMs: 8000 }, now: () => now, random: () => 0 });
  const timeout = Object.assign(new Error('iptables-legacy-restore --noflush --wait 5 was killed (SIGKILL): no exit after 30000 ms'), { code: 'ETIMEDOUT' });
  const driver = fakeDriver([timeout, null]);
  const component = filterComponent(driver);
  const report = await reconcileComponent(table, component, desired);
  assert.equal(report.writes, 0);
  const [status] = table.list();
  assert.deepEqual({ kind: status!.kind, key: status!.key, state: status!.state, code: status!.code, object: status!.object }, {
    kind: 'filter', key: 'iptables-legacy', state: 'failed', code: 'ETIMEDOUT', object: 'packet filter (iptables-legacy) for 1 local and 2 remote CIDRs',
  });
  assert.match(status!.reason!, /killed \(SIGKILL\)/);
  // Drift or API changes wake passes meanwhile: none re-runs the transaction before its backoff (500 ms with random 0).
  now = 499;
  assert.deepEqual(await reconcileComponent(table, component, desired), { failures: [], deferred: [{ kind: 'filter', key: 'iptables-legacy' }], writes: 0 });
  assert.equal(driver.applies, 1);
  now = 500;
  assert.equal((await reconcileComponent(table, component, desired)).writes, 1);
  assert.equal(table.list()[0]!.state, 'programmed');
});

test('removing the filter (no desired state) that fails stays visible as a failed removal until it goes through', async () => {
  let now = 0;
  const table = new ObjectTable({ backoff: { minMs: 10, maxMs: 10 }, now: () => now, random: () => 0 });
  const driver = fakeDriver([null, new Error('nft: Could not process rule: Device or resource busy'), null]);
  const component = filterComponent(driver);
  await reconcileComponent(table, component, desired);
  await reconcileComponent(table, component, null);
  assert.deepEqual(table.list().map((s) => [s.object, s.state, s.desired]), [['removing packet filter (iptables-legacy)', 'failed', false]]);
  now = 100;
  await reconcileComponent(table, component, null);
  assert.deepEqual(table.list(), []);
});
