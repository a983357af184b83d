import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startAgent, type AgentProcess } from '../helpers/agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { addUnderlay, startInitFixture, NODE, type InitFixture } from './init-support.ts';

// Agent, API server and interfaces share one throwaway namespace: the agent's netlink sockets see only it.
requireTools('ip', 'promtool');
await runInsideNetns(import.meta.url, 'init');

const ip = (...args: string[]) => run('ip', args);
await addUnderlay();
const createCni = async (name = 'cni0', address = '10.1.3.1/24') => {
  await ip('link', 'add', name, 'type', 'bridge');
  await ip('addr', 'add', address, 'dev', name);
  await ip('link', 'set', name, 'up');
};
const deleteCni = (name = 'cni0') => ip('link', 'del', name);

/**
 * A fresh API server and agent (the CNI interface made first if asked, `env` on top of the fixture's),
 * always torn down with every interface the test made.
 */
async function withAgent(options: { cniFirst?: boolean; extraLinks?: string[]; env?: Record<string, string> }, body: (fixture: InitFixture, agent: AgentProcess) => Promise<void>): Promise<void> {
  const fixture = await startInitFixture();
  if (options.cniFirst) await createCni();
  const agent = await startAgent({ env: { ...fixture.agentEnv, ...options.env } });
  try {
    await body(fixture, agent);
  } finally {
    await agent.stop();
    await fixture.close();
    for (const link of ['cni0', ...(options.extraLinks ?? [])]) await ip('link', 'del', link).catch(() => {});
  }
}

// The periodic wait log every second (the fixture's 2 s, halved): a test waits for the agent to say it
// is still waiting rather than sleeping for a fixed time.
const WAIT_LOG_EVERY_SECOND = { SEAWAY_CNI_WAIT_LOG_SECONDS: '1' };
const stillWaiting = (l: Record<string, unknown>) => l.msg === 'still waiting for the CNI interface';

test('the CNI interface appearing after Node Ready, while the agent waits for it, makes the agent ready without a restart', () => withAgent({ env: WAIT_LOG_EVERY_SECOND }, async (fixture, agent) => {
  await fixture.createNode(true);
  const nodeReady = await agent.waitForLog('node-ready wait completed', (l) => l.msg === 'init wait completed' && l.wait === 'node-ready');
  const notReady = await agent.readyz();
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /cni-interface: waiting for the CNI interface \(an interface holding an IPv4 address in 10\.1\.0\.0\/16\)/);
  // The scenario itself: the CNI comes after the agent saw its Node turn Ready, once the agent has said
  // (its own periodic log, written after Node Ready) that it has been waiting a while. So the interface
  // is not in the agent's first look; only the event-driven wait that kept running can find it.
  const nodeReadyAt = Date.parse(String(nodeReady.time));
  const waited = await agent.waitForLog('a CNI wait log after Node Ready, 2 s into the wait',
    (l) => stillWaiting(l) && Date.parse(String(l.time)) > nodeReadyAt && Number(l.waitingSeconds) >= 2, 20_000);
  await createCni();
  // Generous: only catches a hang (the interface-to-ready latency is measured by `npm run bench -- init`).
  await agent.waitReady(10_000);
  assert.equal(agent.exitCode(), null, 'the agent did not exit');
  const starts = (await agent.logs()).filter((l) => l.msg === 'seaway starting');
  assert.equal(starts.length, 1, 'the agent never restarted');
  const metrics = await agent.metrics();
  const lint = await run('promtool', ['check', 'metrics'], { input: metrics, allowFailure: true });
  assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
  assert.match(metrics, /seaway_cni_interface_info\{interface="cni0",address="10\.1\.3\.1"\} 1/);
  assert.match(metrics, /seaway_init_wait_completed_timestamp_seconds\{wait="cni-interface"\} \d/);
  // The completed wait covers at least what the agent reported waiting before the interface came
  // (its log rounds to whole seconds, so half a second of slack).
  const cniWait = Number(/seaway_init_wait_seconds\{wait="cni-interface"\} ([\d.]+)/.exec(metrics)?.[1]);
  assert.ok(cniWait >= Number(waited.waitingSeconds) - 0.5, `the CNI wait lasted ${cniWait} s; the agent had logged waiting ${String(waited.waitingSeconds)} s`);
}));

const reconcilePasses = (metrics: string) =>
  [...metrics.matchAll(/^seaway_reconcile_passes_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);

test('with the CNI interface never appearing the agent stays alive, not ready, and says what it waits for', () => withAgent({
  extraLinks: ['eth9'],
  // A pass every second: the reconcile loop's turns are its liveness beats, so they are seen going on during the wait.
  env: { ...WAIT_LOG_EVERY_SECOND, SEAWAY_RESYNC_SECONDS: '1' },
}, async (fixture, agent) => {
  await fixture.createNode(true);
  await ip('link', 'add', 'eth9', 'type', 'bridge');
  await ip('addr', 'add', '192.168.9.11/24', 'dev', 'eth9');
  await agent.waitForLog('the first CNI wait log', stillWaiting);
  const passesBefore = reconcilePasses(await agent.metrics());
  // The periodic log repeats, as an operator would see it, with the wait growing (the interval comes
  // from --cni-wait-log-seconds; an operator's default is 15 s). The bound only catches a hang.
  const lastLog = await agent.waitForLog('a CNI wait log 4 s into the wait, after eth9 got its address', (l) =>
    stillWaiting(l) && Number(l.waitingSeconds) >= 4 && (l.interfaces as string[]).includes('eth9 192.168.9.11/24'), 20_000);
  const waitLogs = (await agent.logs()).filter(stillWaiting);
  assert.ok(waitLogs.length >= 3, `${waitLogs.length} wait logs`);
  const seconds = waitLogs.map((l) => Number(l.waitingSeconds));
  assert.deepEqual(seconds, [...seconds].sort((a, b) => a - b), `the reported wait never goes down: ${JSON.stringify(seconds)}`);
  assert.equal(lastLog.lookingFor, 'an interface holding an IPv4 address in 10.1.0.0/16');
  assert.ok((lastLog.interfaces as string[]).includes('eth9 192.168.9.11/24'), `interfaces seen: ${JSON.stringify(lastLog.interfaces)}`);
  // /healthz allows a loop 60 s between beats; a test cannot wait that long, so it checks the beats go on.
  await waitFor('the reconcile loop to keep turning while the agent waits', async () => reconcilePasses(await agent.metrics()) >= passesBefore + 2);
  assert.equal((await agent.healthz()).status, 200);
  const readyz = await agent.readyz();
  assert.equal(readyz.status, 503);
  assert.match(readyz.body, /cni-interface/);
  assert.equal(agent.exitCode(), null);
  const starts = (await agent.logs()).filter((l) => l.msg === 'seaway starting');
  assert.equal(starts.length, 1, 'the agent never restarted');
}));

test('deleting and re-creating the CNI interface drops readiness, then restores it', () => withAgent({ cniFirst: true }, async (fixture, agent) => {
  await fixture.createNode(true);
  await agent.waitReady();
  await deleteCni();
  await agent.waitForLog('not ready after the interface went away', (l) => l.msg === 'not ready');
  assert.equal((await agent.readyz()).status, 503);
  await createCni();
  await agent.waitReady();
  const found = (await agent.logs()).filter((l) => l.msg === 'CNI interface found');
  assert.equal(found.length, 2);
  assert.notEqual(found[0]!.index, found[1]!.index, 're-created interface has a new index');
}));

test('the Node going NotReady again is noticed and reported', () => withAgent({ cniFirst: true }, async (fixture, agent) => {
  await fixture.createNode(false);
  await waitFor('/readyz to name the Node condition', async () => /Ready=False \(KubeletNotReady: container runtime network not ready\)/.test((await agent.readyz()).body));
  await fixture.setNodeReady(true);
  await agent.waitReady();
  await fixture.setNodeReady(false);
  await agent.waitForLog('node readiness lost', (l) => l.msg === 'init condition lost; waiting again' && l.wait === 'node-ready');
  const readyz = await agent.readyz();
  assert.equal(readyz.status, 503);
  assert.match(readyz.body, new RegExp(`Node ${NODE} Ready=False`));
  await fixture.setNodeReady(true);
  await agent.waitReady();
}));

test('the agent recovers by itself when the API server is down at start, drops watches, or fails requests', async () => {
  // Learn a free port, then start the agent while nothing listens there.
  const first = await startInitFixture();
  const port = Number(new URL(first.api.url).port);
  await first.api.close();
  await createCni();
  // Backoff capped at 2 s (its default ceiling is 60 s): the test waits on recoveries, not on a production-sized backoff.
  const agent = await startAgent({ env: { ...first.agentEnv, SEAWAY_API_RETRY_MIN_MS: '200', SEAWAY_API_RETRY_MAX_MS: '2000' } });
  let fixture: InitFixture | undefined;
  try {
    await agent.waitForLog('a failed list attempt', (l) => l.msg === 'informer failing; retrying with backoff' && l.op === 'list');
    fixture = await startInitFixture({ port });
    await fixture.createNode(true);
    await agent.waitReady(45_000);

    await fixture.admin.dropWatches();
    await fixture.setNodeReady(false);
    await agent.waitForLog('NotReady seen after the watch was dropped', (l) => l.msg === 'init condition lost; waiting again');
    // Only the agent's reads fail; the test's own writes must go through.
    const errorsOf = async () => [...(await agent.metrics()).matchAll(/^seaway_api_errors_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const errorsBefore = await errorsOf();
    const linesBefore = (await agent.logs()).length;
    await fixture.admin.failNext(5, 500, { verb: 'GET' });
    await fixture.admin.dropWatches();
    await fixture.setNodeReady(true);
    await agent.waitReady(45_000);
    assert.equal(agent.exitCode(), null);
    // Five injected failures and one dropped watch per informer (3): each counted once, none multiplied
    // into a storm of retries (review C1: one failure once gave hundreds of requests a second).
    const errors = (await errorsOf()) - errorsBefore;
    assert.ok(errors >= 1 && errors <= 5 + 3, `API errors counted for 5 injected failures and 3 dropped watches: ${errors}`);
    const warnings = (await agent.logs()).slice(linesBefore).filter((l) => typeof l.informer === 'string' && Number(l.level) >= 40);
    const perInformer = new Map<string, number>();
    for (const l of warnings) perInformer.set(String(l.informer), (perInformer.get(String(l.informer)) ?? 0) + 1);
    assert.ok([...perInformer.values()].every((n) => n <= 2), `at most one line per informer per cause: ${JSON.stringify([...perInformer])}`);
  } finally {
    await agent.stop();
    await fixture?.close();
    await first.close().catch(() => {});
    await deleteCni().catch(() => {});
  }
});
