import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/kernel/exec.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/hangs-in-netns.ts', import.meta.url));
const DEADLINE_MS = 5000;

test('a file run inside its namespace that hangs is killed at the deadline: the file fails saying so, and its namespace is removed', async () => {
  // Not inside a test namespace already (the fixture would then run where it is, with no deadline).
  const { SEAWAY_TEST_NETNS: _inside, ...env } = process.env;
  const result = await run(process.execPath, [FIXTURE], { env: { ...env, HANG_TIMEOUT_MS: String(DEADLINE_MS) }, allowFailure: true, timeoutMs: 60_000 });
  assert.match(result.stdout, /^inside \S+$/m, 'the fixture ran inside a namespace before its deadline');
  const namespace = new RegExp(`in (\\S+) ended by SIGKILL \\(still running after ${DEADLINE_MS} ms`).exec(result.stderr)?.[1];
  assert.ok(namespace, `the file says it was killed at the deadline: ${result.stderr}`);
  assert.equal(result.code, 1, 'the file failed');
  assert.equal(existsSync(`/run/netns/${namespace}`), false, `${namespace} removed`);
});
