/**
 * The interface event source's resync after lost notifications: a dump that fails is retried
 * until one succeeds, and an overflow during a dump asks for one more.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resyncer } from '../../src/kernel/rtnetlink-events.ts';
import type { InterfaceEvent } from '../../src/model/interface-events.ts';
import { waitFor, within } from '../helpers/wait.ts';

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

const FAST = { minMs: 1, maxMs: 4 };

describe('interface resync', () => {
  it('retries a failing dump until it delivers a snapshot', async () => {
    const { rtnl, calls } = fakeRtnl(2);
    const events: InterfaceEvent[] = [];
    const resync = resyncer(rtnl, (e) => events.push(e), FAST);
    resync.request();
    await waitFor('a snapshot', () => events.length === 1);
    assert.equal(calls(), 3);
    assert.deepEqual(events[0], { type: 'snapshot', changes: [] });
    await resync.stop();
  });

  it('an overflow during a dump asks for one more dump, and repeated ones coalesce', async () => {
    let release!: () => void;
    let gated = true;
    const { rtnl, calls } = fakeRtnl(0, () => (gated ? new Promise<void>((r) => { release = r; }) : Promise.resolve()));
    const events: InterfaceEvent[] = [];
    const resync = resyncer(rtnl, (e) => events.push(e), FAST);
    resync.request();
    await waitFor('the first dump to start', () => calls() === 1);
    resync.request();
    resync.request();
    gated = false;
    release();
    await waitFor('two snapshots', () => events.length === 2);
    await resync.stop(); // resolves once no dump runs: none more was started
    assert.equal(calls(), 2);
  });

  it('stop ends the retries: none after it resolves, and a later request starts nothing', async () => {
    const { rtnl, calls } = fakeRtnl(Infinity);
    const resync = resyncer(rtnl, () => assert.fail('no snapshot expected'), FAST);
    resync.request();
    await waitFor('a few retries', () => calls() >= 3);
    await within(resync.stop(), 5000, 'stop to end the retry loop');
    const after = calls();
    resync.request();
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(calls(), after);
  });

  it('a dump in flight when stop is called delivers nothing', async () => {
    let release!: () => void;
    const { rtnl } = fakeRtnl(0, () => new Promise<void>((r) => { release = r; }));
    const resync = resyncer(rtnl, () => assert.fail('no snapshot after stop'), FAST);
    resync.request();
    await waitFor('the dump to start', () => release !== undefined);
    const stopped = resync.stop();
    release();
    await stopped;
  });
});
