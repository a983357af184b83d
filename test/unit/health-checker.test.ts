/**
 * The health checker's driver with a fake ICMP socket: which targets it probes, from which source,
 * how replies are matched (id, seq, sender), and what a target that stops answering becomes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthChecker } from '../../src/cable/health-checker.ts';
import type { EchoReply, IcmpSocket } from '../../src/kernel/icmp-socket.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { waitFor } from '../helpers/wait.ts';

interface Sent { dst: string; id: number; seq: number }

/** A socket whose "network" answers the addresses in `answering` at once, and can be made to answer as someone else. */
function fakeNetwork() {
  const answering = new Set<string>();
  const sent: Sent[] = [];
  const opened: string[] = [];
  let closed = 0;
  let forge: ((s: Sent) => Partial<EchoReply>) | undefined;
  const open = (source: string, onReplies: (batch: EchoReply[]) => void): IcmpSocket => {
    opened.push(source);
    const socket: IcmpSocket = {
      closed: false,
      send(dst, id, seq) {
        sent.push({ dst, id, seq });
        if (answering.has(dst)) {
          queueMicrotask(() => onReplies([{ src: dst, dst: source, id, seq, ttl: 64, sentNs: 0n, receivedNs: 1n, rttNs: 250_000, ...(forge?.({ dst, id, seq }) ?? {}) }]));
        }
        return 0n;
      },
      close() { closed += 1; },
      ref() { return socket; },
      unref() { return socket; },
    };
    return socket;
  };
  return { answering, sent, opened, open, closedCount: () => closed, setForge: (f: typeof forge) => { forge = f; } };
}

const settings = { intervalMs: 20, maxLoss: 3, maxProbesPerSecond: 1000 };

describe('the health checker', () => {
  it('probes every target from the source address and turns it healthy on its replies, with an RTT', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1').add('10.3.1.1');
    let changes = 0;
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger, onChange: () => { changes += 1; } });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }, { key: 'north', ip: '10.3.1.1' }]);
      await waitFor('both healthy', () => checker.health('east')?.verdict === 'healthy' && checker.health('north')?.verdict === 'healthy', { timeoutMs: 5000, intervalMs: 5 });
      assert.deepEqual(net.opened, ['10.1.1.1']);
      assert.deepEqual([...new Set(net.sent.map((s) => s.dst))].sort(), ['10.2.1.1', '10.3.1.1']);
      assert.equal(checker.health('east')?.rtt?.lastNs, 250_000);
      assert.ok(changes >= 2, 'each verdict change woke the owner');
    } finally {
      checker.close();
    }
  });

  it('a target that stops answering becomes unhealthy after maxLoss probes, healthy again when it answers', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1');
    // The losses at the moment the verdict changed (a poll could come a probe later).
    const transitions: Array<{ verdict: string; lostInARow: number }> = [];
    const checker: HealthChecker = new HealthChecker({
      open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger,
      onChange: () => { const h = checker.health('east'); if (h) transitions.push({ verdict: h.verdict, lostInARow: h.lostInARow }); },
    });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
      await waitFor('healthy', () => checker.health('east')?.verdict === 'healthy', { timeoutMs: 5000, intervalMs: 5 });
      net.answering.delete('10.2.1.1');
      await waitFor('unhealthy', () => checker.health('east')?.verdict === 'unhealthy', { timeoutMs: 5000, intervalMs: 5 });
      // A late tick may expire two probes at once (3 -> 4): never fewer than the limit, though
      // (the exact count is plan/health-probes.ts's, tested there without timers).
      const turned = transitions.find((t) => t.verdict === 'unhealthy');
      assert.ok(turned !== undefined && turned.lostInARow >= 3 && turned.lostInARow <= 4, `unhealthy at the lost-probe limit, not before: ${JSON.stringify(turned)}`);
      net.answering.add('10.2.1.1');
      await waitFor('healthy again', () => checker.health('east')?.verdict === 'healthy', { timeoutMs: 5000, intervalMs: 5 });
    } finally {
      checker.close();
    }
  });

  it('replies with another id, an unknown seq or from another address than the target prove nothing', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1');
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      for (const forge of [(s: Sent) => ({ id: (s.id + 1) & 0xffff }), (s: Sent) => ({ seq: (s.seq + 1000) & 0xffff }), () => ({ src: '10.9.9.9' })]) {
        net.setForge(forge);
        checker.setTargets([]);
        checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
        await waitFor('unhealthy', () => checker.health('east')?.verdict === 'unhealthy', { timeoutMs: 5000, intervalMs: 5 });
        assert.equal(checker.health('east')?.rtt, null, 'no RTT sample from a forged reply');
      }
    } finally {
      checker.close();
    }
  });

  it('without a source address it probes nothing and says why; a changed address reopens the socket', async () => {
    const net = fakeNetwork();
    let source: string | undefined;
    const checker = new HealthChecker({ open: net.open, source: async () => source, settings, log: captureLogger().logger });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
      await waitFor('the problem said', () => checker.health('east')?.problem?.includes('no address in the local pod ranges'), { timeoutMs: 5000, intervalMs: 5 });
      assert.equal(net.sent.length, 0);
      source = '10.1.1.1';
      await waitFor('a probe', () => net.sent.length > 0, { timeoutMs: 5000, intervalMs: 5 });
      source = '10.1.2.1';
      await waitFor('reopened', () => net.opened.includes('10.1.2.1'), { timeoutMs: 5000, intervalMs: 5 });
      assert.equal(net.closedCount(), 1, 'the old socket closed');
    } finally {
      checker.close();
    }
    assert.equal(net.closedCount(), 2, 'close closes the socket');
  });

  it('probes under a new ICMP identifier after maxLoss lost in a row: a conntrack entry stuck on the old one (masqueraded before the cable was up) is left behind', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1');
    // The "network" answers only probes that do not carry the first identifier.
    net.setForge((s) => (s.id === 100 ? { id: 0xffff } : {}));
    const ids = [100, 200];
    const verdicts: string[] = [];
    const checker: HealthChecker = new HealthChecker({
      open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger, newId: () => ids.shift() ?? 300,
      onChange: () => verdicts.push(String(checker.health('east')?.verdict)),
    });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
      await waitFor('healthy under the next identifier', () => checker.health('east')?.verdict === 'healthy', { timeoutMs: 5000, intervalMs: 5 });
      assert.deepEqual(verdicts, ['unhealthy', 'healthy'], 'unhealthy under the first identifier, then healthy');
      assert.deepEqual([...new Set(net.sent.map((p) => p.id))], [100, 200]);
    } finally {
      checker.close();
    }
  });

  it('among many targets, those that stop answering turn unhealthy and the others stay healthy (a tick expires the oldest probes first)', async () => {
    const net = fakeNetwork();
    const targets = Array.from({ length: 40 }, (_, i) => ({ key: `c${String(i).padStart(2, '0')}`, ip: `10.9.${i}.1` }));
    for (const { ip } of targets) net.answering.add(ip);
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      checker.setTargets(targets);
      await waitFor('all healthy', () => targets.every(({ key }) => checker.health(key)?.verdict === 'healthy'), { timeoutMs: 10_000, intervalMs: 5 });
      const silent = targets.filter((_, i) => i % 7 === 3);
      for (const { ip } of silent) net.answering.delete(ip);
      await waitFor('the silent ones unhealthy', () => silent.every(({ key }) => checker.health(key)?.verdict === 'unhealthy'), { timeoutMs: 10_000, intervalMs: 5 });
      for (const { key } of targets.filter((t) => !silent.includes(t))) {
        assert.deepEqual([checker.health(key)?.verdict, checker.health(key)?.lostInARow], ['healthy', 0], key);
      }
    } finally {
      checker.close();
    }
  });

  it('the same list given again changes nothing; a list that repeats a key is taken as given, not mistaken for the same', async () => {
    const net = fakeNetwork();
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      checker.setTargets([{ key: 'a', ip: '10.2.1.1' }, { key: 'b', ip: '10.3.1.1' }]);
      checker.setTargets([{ key: 'a', ip: '10.2.1.1' }, { key: 'a', ip: '10.2.1.1' }]);
      assert.equal(checker.health('b'), undefined, 'b is no longer a target');
      assert.equal(checker.health('a')?.ip, '10.2.1.1');
    } finally {
      checker.close();
    }
  });

  it('a wall clock stepped back does not hold up the verdict on a target that does not answer', async () => {
    const net = fakeNetwork();
    const wall = Date.now;
    let stepped = 0;
    // The wall clock as the checker would see it, made before the checker is (a default of Date.now would be this one).
    Date.now = () => wall() - stepped;
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
      await waitFor('a probe sent', () => net.sent.length > 0, { timeoutMs: 5000, intervalMs: 5 });
      // An hour back (NTP stepping the clock): a checker on the wall clock would hold west's probes
      // behind east's, stamped an hour in its future, for that hour.
      stepped = 3_600_000;
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }, { key: 'west', ip: '10.4.1.1' }]);
      await waitFor('both unhealthy', () => checker.health('east')?.verdict === 'unhealthy' && checker.health('west')?.verdict === 'unhealthy', { timeoutMs: 5000, intervalMs: 5 });
    } finally {
      Date.now = wall;
      checker.close();
    }
  });

  it('the same targets given again keep their probes, verdicts and RTTs', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1');
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }, { key: 'west', ip: '10.4.1.1' }]);
      await waitFor('east healthy, west lost a probe', () => checker.health('east')?.verdict === 'healthy' && (checker.health('west')?.lostInARow ?? 0) >= 1, { timeoutMs: 5000, intervalMs: 5 });
      const before = { east: checker.health('east'), west: checker.health('west') };
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }, { key: 'west', ip: '10.4.1.1' }]);
      assert.equal(checker.health('east')?.verdict, 'healthy');
      assert.deepEqual(checker.health('east')?.rtt, before.east?.rtt);
      assert.ok((checker.health('west')?.lostInARow ?? 0) >= before.west!.lostInARow, 'the losses counted so far are kept');
    } finally {
      checker.close();
    }
  });

  it('a target whose IP changed starts over; one removed is forgotten', async () => {
    const net = fakeNetwork();
    net.answering.add('10.2.1.1');
    const checker = new HealthChecker({ open: net.open, source: async () => '10.1.1.1', settings, log: captureLogger().logger });
    try {
      checker.setTargets([{ key: 'east', ip: '10.2.1.1' }]);
      await waitFor('healthy', () => checker.health('east')?.verdict === 'healthy', { timeoutMs: 5000, intervalMs: 5 });
      checker.setTargets([{ key: 'east', ip: '10.2.9.9' }]);
      assert.deepEqual([checker.health('east')?.verdict, checker.health('east')?.rtt], ['unknown', null]);
      checker.setTargets([]);
      assert.equal(checker.health('east'), undefined);
    } finally {
      checker.close();
    }
  });
});
