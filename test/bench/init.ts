import { runInsideNetns } from '../helpers/in-netns.ts';
import { startAgent } from '../helpers/agent.ts';
import { run } from '../../src/kernel/exec.ts';
import { addUnderlay, startInitFixture } from '../e2e/init-support.ts';
import { median, percentile } from './bench-support.ts';

/**
 * Interface-to-ready latency of the init phase: per trial a fresh agent and Node, the CNI
 * interface appears a random time after Node Ready, and /readyz is watched for 200. Beside it,
 * what Submariner's fixed retry schedule (a first look, then 4 s growing by 1.2 per try, 12 tries)
 * would have given on the same arrival times.
 */
await runInsideNetns(import.meta.url, 'binit');
await addUnderlay();

const TRIALS = Number(process.env.BENCH_TRIALS ?? 20);
const MAX_ARRIVAL_MS = Number(process.env.BENCH_MAX_ARRIVAL_MS ?? 6000);

function fixedScheduleLatencyMs(arrivalMs: number): number {
  let at = 0;
  let wait = 4000;
  for (let attempt = 0; attempt <= 12; attempt++) {
    if (at >= arrivalMs) return at - arrivalMs;
    at += wait;
    wait *= 1.2;
  }
  return Number.POSITIVE_INFINITY;
}

const seaway: number[] = [];
const fixed: number[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
for (let trial = 0; trial < TRIALS; trial++) {
  const fixture = await startInitFixture();
  const agent = await startAgent({ env: { ...fixture.agentEnv, SEAWAY_LOG_LEVEL: 'info' } });
  try {
    await fixture.createNode(true);
    await agent.waitForLog('node ready', (l) => l.msg === 'init wait completed' && l.wait === 'node-ready', 60_000);
    const arrivalMs = Math.round(Math.random() * MAX_ARRIVAL_MS);
    await sleep(arrivalMs);
    const appeared = performance.now();
    await run('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
    await run('ip', ['addr', 'add', '10.1.3.1/24', 'dev', 'cni0']);
    const addressAt = performance.now();
    for (;;) {
      if ((await agent.readyz()).status === 200) break;
      if (performance.now() - addressAt > 10_000) throw new Error('agent did not become ready within 10 s');
      await sleep(1);
    }
    seaway.push(performance.now() - addressAt);
    fixed.push(fixedScheduleLatencyMs(arrivalMs + (addressAt - appeared)));
  } finally {
    await agent.stop();
    await fixture.close();
    await run('ip', ['link', 'del', 'cni0'], { allowFailure: true });
  }
}

const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : 'never (gave up)');
const seawayMedian = median(seaway);
const fixedMedian = median(fixed);
console.log(`init: ${TRIALS} trials, CNI interface appearing 0-${MAX_ARRIVAL_MS} ms after Node Ready`);
console.log(`  seaway (rtnetlink events)      median ${fmt(seawayMedian)}  p95 ${fmt(percentile(seaway, 95))}  max ${fmt(Math.max(...seaway))}`);
console.log(`  fixed retry 4 s x1.2, 12 tries median ${fmt(fixedMedian)}  p95 ${fmt(percentile(fixed, 95))}`);
console.log(`  ratio fixed/seaway (median)    ${(fixedMedian / seawayMedian).toFixed(0)}x`);
console.log(`  goal: seaway median < 100 ms: ${seawayMedian < 100 ? 'met' : 'NOT met'}`);
