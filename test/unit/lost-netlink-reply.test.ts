import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { NLM_F_DUMP } from '../../src/kernel/netlink/codec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import type { Sysctls } from '../../src/kernel/sysctl.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { routingComponent } from '../../src/reconcile/components.ts';
import { startReconcileLoop } from '../../src/reconcile/loop.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';
import { doneReply, errorReply, fakeFactory } from '../helpers/fake-netlink-socket.ts';
import { waitFor } from '../helpers/wait.ts';

const EMPTY: DesiredState = { links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null };
const noSysctls: Sysctls = { read: async () => undefined, write: async () => { throw new Error('unused'); } };

test('a netlink reply that never comes: the pass fails at the deadline, the socket is reopened, the loop keeps turning and the next pass succeeds', async () => {
  // The first socket swallows every request (a lost reply); later ones answer dumps empty and acknowledge writes.
  const { sockets, factory } = fakeFactory((socket, index) => {
    if (index === 0) return;
    socket.onSend = (messages, s) => {
      for (const m of messages) s.reply((m.flags & NLM_F_DUMP) === NLM_F_DUMP ? doneReply(m.seq) : errorReply(m.seq, 0));
    };
  });
  const lines: Array<{ msg: string; err?: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
  const rtnl = openRtnetlink({ socketFactory: factory, timeoutMs: 50 });
  const dataplane = createRoutingDataplane({ rtnl, sysctls: noSysctls, sysctlStatePath: '/nonexistent/seaway-test/sysctls.json', logger });
  const table = new ObjectTable({ backoff: { minMs: 20, maxMs: 40 } });
  const outcomes: string[] = [];
  let turns = 0;
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs: 0, minRetryMs: 20, maxRetryMs: 40, onTurn: () => { turns++; },
    pass: async () => {
      try {
        await reconcileComponent(table, routingComponent(dataplane), EMPTY);
        outcomes.push('ok');
        return {};
      } catch (error) {
        outcomes.push(`${(error as NodeJS.ErrnoException).code}`);
        throw error;
      }
    },
  });
  try {
    loop.trigger('start');
    // The bound only catches a hang: a 50 ms deadline and a 20-40 ms backoff.
    await waitFor('a pass that succeeds after the lost reply', () => outcomes.includes('ok'), { timeoutMs: 5000, intervalMs: 5 });
    assert.deepEqual(outcomes, ['ETIMEDOUT', 'ok']);
    assert.equal(sockets.length, 2, 'the silent socket was replaced by a fresh one');
    assert.equal(sockets[0]!.closed, true);
    assert.equal(turns, 2, 'the loop turned on the failed pass too (its liveness beat)');
    assert.match(lines.find((l) => l.msg.startsWith('reconcile pass failed'))!.err!, /no reply from the kernel within 50 ms/);
  } finally {
    await loop.stop();
    rtnl.close();
  }
});
