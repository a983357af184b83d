/**
 * The kubeconfig is configuration: one that cannot be loaded ends `seaway run` with exit 2 and a
 * message naming the setting, before the kernel or the API is touched. A state directory that
 * cannot be created is a condition of the node: retried, reported, recovered from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startAgent, type AgentProcess } from '../helpers/agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { addUnderlay, startInitFixture } from './init-support.ts';

requireTools('ip', 'iptables-nft-save', 'nft');
await runInsideNetns(import.meta.url, 'startcfg');

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const GOOD = { NODE_NAME: 'node-a', SUBMARINER_CLUSTERID: 'c1', SUBMARINER_CLUSTERCIDR: '10.1.0.0/16', SUBMARINER_SERVICECIDR: '10.101.0.0/16' };
const kernelState = async () => (await Promise.all([
  run('ip', ['-j', 'link']), run('ip', ['-j', 'route', 'show', 'table', 'all']), run('ip', ['-j', 'rule']),
  run('iptables-nft-save', []), run('nft', ['list', 'ruleset']),
])).map((r) => r.stdout.replace(/^#.*$/gm, '')).join('\n');

const cases: Array<{ name: string; file: string | null; content?: string; expect: RegExp }> = [
  { name: 'missing', file: 'absent', expect: /cannot load ".*\/absent": ENOENT: no such file or directory/ },
  { name: 'empty', file: 'kubeconfig', content: '', expect: /cannot load ".*\/kubeconfig": expected a document, but the input is empty/ },
  { name: 'without a current-context', file: 'kubeconfig', content: 'kind: Config\n', expect: /".*\/kubeconfig" has no current-context/ },
];

for (const c of cases) {
  test(`a kubeconfig that is ${c.name}: exit 2 naming --kubeconfig, nothing touched`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seaway-startcfg-'));
    const socket = join(dir, 'sock');
    try {
      const path = join(dir, c.file ?? 'none');
      if (c.content !== undefined) await writeFile(path, c.content);
      const before = await kernelState();
      const result = await run(process.execPath, [MAIN, 'run'], {
        allowFailure: true,
        env: { PATH: process.env.PATH ?? '', KUBECONFIG: path, SEAWAY_LISTEN: `unix:${socket}`, SEAWAY_STATE_DIR: join(dir, 'state'), ...GOOD },
      });
      assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
      assert.match(result.stderr, /^seaway: invalid configuration: --kubeconfig \(env SEAWAY_KUBECONFIG or KUBECONFIG\): /);
      assert.match(result.stderr, c.expect);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(result.stdout, '', 'nothing logged: the agent did not start');
      assert.equal(await kernelState(), before);
      await assert.rejects(run('test', ['-e', socket]), 'no HTTP server was started');
      await assert.rejects(run('test', ['-e', join(dir, 'state')]), 'no state directory was made');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('no kubeconfig and no service account: exit 2 naming --kubeconfig, no request to the default localhost:8080', async () => {
  const requests: string[] = [];
  const spy = createServer((req, res) => { requests.push(req.url ?? ''); res.end(); });
  const dir = await mkdtemp(join(tmpdir(), 'seaway-startcfg-'));
  try {
    // client-node's fallback for "no configuration" is http://localhost:8080; a spy there proves it is never used.
    await new Promise<void>((resolve, reject) => { spy.once('error', reject); spy.listen(8080, '127.0.0.1', resolve); });
    const result = await run(process.execPath, [MAIN, 'run'], {
      allowFailure: true,
      env: { PATH: process.env.PATH ?? '', HOME: dir, SEAWAY_LISTEN: `unix:${join(dir, 'sock')}`, SEAWAY_STATE_DIR: join(dir, 'state'), ...GOOD },
    });
    assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
    assert.match(result.stderr, /^seaway: invalid configuration: --kubeconfig \(env SEAWAY_KUBECONFIG or KUBECONFIG\): not set, and there is neither a service account token/);
    assert.deepEqual(requests, []);
  } finally {
    spy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a state directory that cannot be made is retried and reported; the agent becomes ready once it can', async () => {
  await addUnderlay();
  await run('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
  await run('ip', ['addr', 'add', '10.1.3.1/24', 'dev', 'cni0']);
  await run('ip', ['link', 'set', 'cni0', 'up']);
  const fixture = await startInitFixture();
  const dir = await mkdtemp(join(tmpdir(), 'seaway-startcfg-'));
  // A file where a directory must go: mkdir fails the way a missing or broken mount does.
  const blocker = join(dir, 'mount');
  const stateDir = join(blocker, 'seaway');
  let agent: AgentProcess | undefined;
  try {
    await writeFile(blocker, '');
    await fixture.createNode(true);
    agent = await startAgent({ env: { ...fixture.agentEnv, SEAWAY_STATE_DIR: stateDir } });
    const running = agent;
    const reason = await waitFor('readiness naming the state directory', async () => {
      const response = await running.readyz();
      return response.status === 503 && response.body.split('\n').find((l) => l.startsWith('state-dir: '));
    }, { timeoutMs: 20_000 });
    assert.match(reason, new RegExp(`^state-dir: preparing the state directory ${stateDir} failed: ENOTDIR: not a directory, mkdir '${stateDir}'; retrying`));
    assert.equal((await agent.healthz()).status, 200);
    await waitFor('a second failed attempt', async () => /seaway_component_failures_total\{component="state-dir"\} [2-9]/.test(await running.metrics()));
    assert.equal((await agent.logs()).filter((l) => l.step === 'state-dir' && l.level === 40).length, 1, 'one warning');
    await rm(blocker);
    await agent.waitReady(45_000);
    await agent.waitForLog('the recovery line', (l) => l.step === 'state-dir' && l.msg === `preparing the state directory ${stateDir} recovered`);
    assert.equal(agent.exitCode(), null);
  } finally {
    await agent?.stop();
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
});
