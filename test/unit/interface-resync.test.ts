/**
 * The interface event source's resync after lost notifications: a dump that fails is retried
 * until one succeeds, and an overflow during a dump asks for one more.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { resyncer } from '../../src/kernel/rtnetlink-events.ts';
import type { InterfaceEvent } from '../../src/model/interface-events.ts';

type Listing = { listLinks(): Promise<never[]>; listAddresses(): Promise<never[]> };

function fakeRtnl(failures: number, gate?: () => Promise<void>) {
  let calls = 0;
  const rtnl: Listing = {
    async listLinks() {
      calls += 1;
      await gate?.();
      if (calls <= failures) throw Object.assign(new Error('netlink dump of type 18: no reply'), { code: 'ETIMEDOUT' });
      return [];
    },
    async listAddresses() { return []; },
  };
  return { rtnl: rtnl as unknown as Parameters<typeof resyncer>[0], calls: () => calls };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  assert.ok(condition(), 'timed out');
}

describe('interface resync', () => {
  it('retries a failing dump until it delivers a snapshot', async () => {
    const { rtnl, calls } = fakeRtnl(2);
    const events: InterfaceEvent[] = [];
    const resync = resyncer(rtnl, (e) => events.push(e));
    resync.request();
    await until(() => events.length === 1);
    assert.equal(calls(), 3);
    assert.deepEqual(events[0], { type: 'snapshot', changes: [] });
    resync.stop();
  });

  it('an overflow during a dump asks for one more dump, and repeated ones coalesce', async () => {
    let release!: () => void;
    let gated = true;
    const { rtnl, calls } = fakeRtnl(0, () => (gated ? new Promise<void>((r) => { release = r; }) : Promise.resolve()));
    const events: InterfaceEvent[] = [];
    const resync = resyncer(rtnl, (e) => events.push(e));
    resync.request();
    await until(() => calls() === 1);
    resync.request();
    resync.request();
    gated = false;
    release();
    await until(() => events.length === 2);
    await sleep(20);
    assert.equal(calls(), 2);
    resync.stop();
  });

  it('stop ends the retries', async () => {
    const { rtnl, calls } = fakeRtnl(Infinity);
    const resync = resyncer(rtnl, () => assert.fail('no snapshot expected'));
    resync.request();
    await until(() => calls() === 1);
    resync.stop();
    await sleep(250);
    assert.equal(calls(), 1);
  });
});
