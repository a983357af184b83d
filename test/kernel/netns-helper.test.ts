import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/kernel/exec.ts';
import { createNetns } from '../helpers/netns.ts';

test('a throwaway namespace is isolated and removed with its processes', async () => {
  const ns = await createNetns('helper');
  try {
    const links = await ns.exec('ip', ['-o', 'link', 'show']);
    assert.deepEqual(links.stdout.trim().split('\n').map((l) => l.split(': ')[1]), ['lo']);
    await ns.exec('ip', ['link', 'add', 'br-test', 'type', 'bridge']);
    const root = await run('ip', ['-o', 'link', 'show', 'br-test'], { allowFailure: true });
    assert.notEqual(root.code, 0, 'a link made in the namespace must not appear in the root namespace');
  } finally {
    await ns.destroy();
  }
  const list = await run('ip', ['netns', 'list']);
  assert.ok(!list.stdout.includes(ns.name), 'namespace must be gone after destroy');
});
