import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { interfaceEventSource, subscribeRtnetlinkEvents, type RtnetlinkEvent } from '../../src/kernel/rtnetlink-events.ts';
import { applyOne, linkNamed } from '../helpers/rtnetlink.ts';
import { within } from '../helpers/wait.ts';

await runInsideNetns(import.meta.url, 'devents');
requireTools('ip');

const rtnl = openRtnetlink();
after(() => rtnl.close());

/** Collects events and waits (with a deadline) for one matching a predicate. */
function recorder(groups: Parameters<typeof subscribeRtnetlinkEvents>[0]) {
  const events: RtnetlinkEvent[] = [];
  const waiters = new Set<() => void>();
  const subscription = subscribeRtnetlinkEvents(groups, (event) => {
    events.push(event);
    for (const wake of waiters) wake();
  });
  return {
    events,
    close: () => subscription.close(),
    waitFor(predicate: (event: RtnetlinkEvent) => boolean, what: string, timeoutMs = 3000): Promise<RtnetlinkEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${what} within ${timeoutMs} ms; saw ${JSON.stringify(events)}`)); }, timeoutMs);
        const cleanup = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
  };
}

test('link new and del events carry the name and index', async () => {
  const rec = recorder(['link']);
  try {
    await run('ip', ['link', 'add', 'ev0', 'type', 'veth', 'peer', 'name', 'ev1']);
    const created = await rec.waitFor((e) => e.type === 'link' && e.op === 'new' && e.name === 'ev0', 'link new ev0');
    const index = (await linkNamed(rtnl, 'ev0'))!.index;
    assert.equal(created.type === 'link' && created.index, index);
    await run('ip', ['link', 'del', 'ev0']);
    await rec.waitFor((e) => e.type === 'link' && e.op === 'del' && e.name === 'ev0' && e.index === index, 'link del ev0');
  } finally {
    rec.close();
    await run('ip', ['link', 'del', 'ev0'], { allowFailure: true });
  }
});

test('address new and del events carry the ifindex, address and prefix length', async () => {
  const rec = recorder(['address']);
  await run('ip', ['link', 'add', 'ad0', 'type', 'veth', 'peer', 'name', 'ad1']);
  try {
    const index = (await linkNamed(rtnl, 'ad0'))!.index;
    await run('ip', ['addr', 'add', '10.77.1.1/24', 'dev', 'ad0']);
    await rec.waitFor((e) => e.type === 'address' && e.op === 'new' && e.index === index && e.address === '10.77.1.1' && e.prefixLength === 24, 'address new');
    await run('ip', ['addr', 'del', '10.77.1.1/24', 'dev', 'ad0']);
    await rec.waitFor((e) => e.type === 'address' && e.op === 'del' && e.index === index && e.address === '10.77.1.1', 'address del');
  } finally {
    rec.close();
    await run('ip', ['link', 'del', 'ad0'], { allowFailure: true });
  }
});

test('a route deleted by ip route del arrives as a route del event with table, protocol and dst', async () => {
  await run('ip', ['link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'rt1']);
  await run('ip', ['link', 'set', 'rt0', 'up']);
  const rec = recorder(['route', 'rule']);
  try {
    const index = (await linkNamed(rtnl, 'rt0'))!.index;
    await applyOne(rtnl, { kind: 'route', write: 'create', route: { table: 100, dst: '10.88.0.0/16', oif: index, protocol: 147 } });
    await rec.waitFor((e) => e.type === 'route' && e.op === 'new' && e.dst === '10.88.0.0/16', 'route new');
    await run('ip', ['route', 'del', '10.88.0.0/16', 'table', '100']);
    const deleted = await rec.waitFor((e) => e.type === 'route' && e.op === 'del' && e.dst === '10.88.0.0/16', 'route del');
    assert.deepEqual(deleted, { type: 'route', op: 'del', table: 100, protocol: 147, dst: '10.88.0.0/16', oif: index });

    await applyOne(rtnl, { kind: 'rule', write: 'create', rule: { priority: 100, table: 100, protocol: 147 } });
    await run('ip', ['rule', 'del', 'priority', '100']);
    await rec.waitFor((e) => e.type === 'rule' && e.op === 'del' && e.priority === 100 && e.table === 100 && e.protocol === 147, 'rule del');
  } finally {
    rec.close();
    await run('ip', ['link', 'del', 'rt0'], { allowFailure: true });
  }
});

test('a route replaced by another protocol arrives as one route new event with the new protocol, and no del', async () => {
  await run('ip', ['link', 'add', 'rt0', 'type', 'veth', 'peer', 'name', 'rt1']);
  await run('ip', ['link', 'set', 'rt0', 'up']);
  const rec = recorder(['route']);
  try {
    const index = (await linkNamed(rtnl, 'rt0'))!.index;
    await applyOne(rtnl, { kind: 'route', write: 'create', route: { table: 254, dst: '10.86.0.0/16', oif: index, protocol: 147 } });
    await rec.waitFor((e) => e.type === 'route' && e.op === 'new' && e.dst === '10.86.0.0/16', 'route new');
    await run('ip', ['route', 'replace', '10.86.0.0/16', 'dev', 'rt0', 'proto', 'static']);
    const replaced = await rec.waitFor((e) => e.type === 'route' && e.op === 'new' && e.dst === '10.86.0.0/16' && e.protocol === 4, 'route new of protocol 4');
    assert.deepEqual(replaced, { type: 'route', op: 'new', table: 254, protocol: 4, dst: '10.86.0.0/16', oif: index });
    // Notifications arrive in order: once a later change is seen, a del of the replaced route would have been too.
    await run('ip', ['route', 'add', '10.85.0.0/16', 'dev', 'rt0']);
    await rec.waitFor((e) => e.type === 'route' && e.dst === '10.85.0.0/16', 'the later route');
    assert.deepEqual(rec.events.filter((e) => e.type === 'route' && e.op === 'del' && e.dst === '10.86.0.0/16'), []);
  } finally {
    rec.close();
    await run('ip', ['link', 'del', 'rt0'], { allowFailure: true });
  }
});

test('subscribe first, dump after: an interface that appears at any moment is seen', async () => {
  // The interface appears while the subscription is being set up and the dump is running: it must
  // be found through one or the other (and usually both), never missed.
  const source = interfaceEventSource(rtnl);
  const seen: string[] = [];
  let found!: () => void;
  const sawAddress = new Promise<void>((resolve) => { found = resolve; });
  const note = (entry: string) => {
    seen.push(entry);
    if (entry.endsWith(' 10.244.1.1/24')) found();
  };
  const creating = run('ip', ['link', 'add', 'cni0', 'type', 'veth', 'peer', 'name', 'cni1']).then(() => run('ip', ['addr', 'add', '10.244.1.1/24', 'dev', 'cni0']));
  const unsubscribe = await source.subscribe((e) => { if (e.type === 'address') note(`event ${e.address}/${e.prefixLength}`); });
  try {
    const dumped = await source.dump();
    for (const e of dumped) if (e.type === 'address') note(`dump ${e.address}/${e.prefixLength}`);
    await creating;
    // Through the dump or an event, which can still be on its way once the address exists.
    await within(sawAddress, 3000, () => `10.244.1.1/24 through the dump or an event; seen: ${seen.join(', ')}`);
    assert.ok(dumped.some((e) => e.type === 'link' && e.name === 'lo'), 'the dump includes the existing links');
  } finally {
    unsubscribe();
    await run('ip', ['link', 'del', 'cni0'], { allowFailure: true });
  }
});

test('fdb events report entries appended on a VXLAN device', async () => {
  await run('ip', ['link', 'add', 'fv0', 'type', 'veth', 'peer', 'name', 'fv1']);
  await run('ip', ['link', 'add', 'vxe', 'type', 'vxlan', 'id', '5', 'dstport', '4800', 'dev', 'fv0']);
  const rec = recorder(['neighbour']);
  try {
    const index = (await linkNamed(rtnl, 'vxe'))!.index;
    await applyOne(rtnl, { kind: 'fdb', write: 'append', entry: { ifindex: index, mac: '00:00:00:00:00:00', dst: '192.168.9.9' } });
    await rec.waitFor((e) => e.type === 'fdb' && e.op === 'new' && e.ifindex === index && e.dst === '192.168.9.9', 'fdb new');
  } finally {
    rec.close();
    await run('ip', ['link', 'del', 'vxe'], { allowFailure: true });
    await run('ip', ['link', 'del', 'fv0'], { allowFailure: true });
  }
});
