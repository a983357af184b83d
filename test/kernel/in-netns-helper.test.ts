import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { run } from '../../src/kernel/exec.ts';

const netns = await runInsideNetns(import.meta.url, 'selftest');

test('the test body runs inside its own network namespace', async () => {
  const named = (await run('ip', ['netns', 'identify', String(process.pid)])).stdout.trim();
  assert.equal(named, netns);
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  assert.doesNotMatch(links, /eth0/);
});
