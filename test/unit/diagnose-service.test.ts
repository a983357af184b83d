import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDiagnoseService, type DiagnoseDocument } from '../../src/diagnose/diagnose-service.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';

const FINDING: Finding = { id: 'x', severity: 'ok', node: 'n', target: 't', probe: 'p', found: 'f', fix: null };

function service(diagnose: () => Promise<Finding[]>) {
  let now = 0;
  const s = createDiagnoseService({ node: 'n', diagnose, minIntervalMs: 30_000, now: () => now, wallClock: () => 1_700_000_000_000 + now });
  return { s, advance: (ms: number) => { now += ms; } };
}

test('requests within the interval get the cached answer with its age; after it a new diagnosis runs', async () => {
  let runs = 0;
  const { s, advance } = service(async () => { runs++; return [FINDING]; });
  const first = JSON.parse((await s.handle()).body) as DiagnoseDocument;
  assert.deepEqual([runs, first.ageSeconds, first.findings], [1, 0, [FINDING]]);
  advance(29_000);
  for (let i = 0; i < 50; i++) await s.handle();
  const cached = JSON.parse((await s.handle()).body) as DiagnoseDocument;
  assert.deepEqual([runs, cached.ageSeconds, cached.generatedAt], [1, 29, first.generatedAt], 'fifty requests, no new probes');
  advance(1_000);
  await s.handle();
  assert.equal(runs, 2);
});

test('concurrent requests share one running diagnosis', async () => {
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const { s } = service(async () => { runs++; await gate; return [FINDING]; });
  const answers = Promise.all(Array.from({ length: 10 }, () => s.handle()));
  release();
  const all = await answers;
  assert.equal(runs, 1);
  assert.ok(all.every((a) => a.status === 200));
});

test('a diagnosis that throws answers 500 and is cached too (failures cannot be used to make it probe more often)', async () => {
  let runs = 0;
  const { s, advance } = service(async () => { runs++; throw new Error('netlink gone'); });
  const answer = await s.handle();
  assert.equal(answer.status, 500);
  assert.deepEqual(JSON.parse(answer.body), { node: 'n', error: 'netlink gone' });
  advance(10_000);
  await s.handle();
  assert.equal(runs, 1);
});
