import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/kernel/exec.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/hangs-in-netns.ts', import.meta.url));

test('a file run inside its namespace that hangs is killed at the deadline: the file fails saying so, and its namespace is removed', async () => {
  const result = await run(process.execPath, [FIXTURE], { env: { ...process.env, HANG_TIMEOUT_MS: '1500' }, allowFailure: true, timeoutMs: 60_000 });
  const namespace = /^inside (\S+)$/m.exec(result.stdout)?.[1];
  assert.ok(namespace, `the fixture ran inside a namespace: ${result.stdout}${result.stderr}`);
  assert.equal(result.code, 1, `failed: ${result.stderr}`);
  assert.match(result.stderr, /ended by SIGKILL \(still running after 1500 ms/);
  assert.equal(existsSync(`/run/netns/${namespace}`), false, `${namespace} removed`);
});
