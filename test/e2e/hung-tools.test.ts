/**
 * A packet filter tool that never exits (a held xtables lock, a stuck kernel call) fails its
 * object within the exec deadline: the agent stays live, routes stay programmed, readiness and
 * `seaway status` name the filter with ETIMEDOUT, and the filter is programmed once the tool
 * answers again. A stop while a tool hangs kills it and exits at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startAgent, type AgentProcess } from '../helpers/agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpUnix } from '../lab/http-unix.ts';
import { run } from '../../src/kernel/exec.ts';
import type { StatusDocument } from '../../src/server/status.ts';
import { addUnderlay, startInitFixture, type InitFixture } from './init-support.ts';
import { remoteSpec } from './routing-support.ts';

const RESTORE_TOOLS = ['iptables-nft-restore', 'iptables-legacy-restore'] as const;
requireTools('ip', 'iptables-nft-save', 'iptables-legacy-save', 'nft', 'ipset', ...RESTORE_TOOLS);
await runInsideNetns(import.meta.url, 'hung');

await addUnderlay();
await run('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
await run('ip', ['addr', 'add', '10.1.3.1/24', 'dev', 'cni0']);
await run('ip', ['link', 'set', 'cni0', 'up']);

function realTool(name: string): string {
  for (const entry of (process.env.PATH ?? '').split(':')) {
    if (entry && existsSync(join(entry, name))) return join(entry, name);
  }
  throw new Error(`${name} not found on PATH`);
}

/** Wrappers ahead of the real restore tools: while the flag file exists they never exit (and note their pid). */
async function hangingTools(dir: string, flag: string): Promise<void> {
  for (const tool of RESTORE_TOOLS) {
    const script = [
      '#!/bin/sh',
      `if [ -e '${flag}' ]; then echo $$ >> '${join(dir, 'hung-pids')}'; exec sleep 1000; fi`,
      `exec '${realTool(tool)}' "$@"`,
      '',
    ].join('\n');
    await writeFile(join(dir, tool), script);
    await chmod(join(dir, tool), 0o755);
  }
}

async function createEndpoint(fixture: InitFixture, name: string, spec: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${fixture.api.url}/apis/submariner.io/v1/namespaces/submariner-operator/endpoints`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name }, spec }),
  });
  assert.equal(response.status, 201, await response.text());
}

/**
 * A hung tool of this test still running: the stub (its script in the test's directory) or the
 * `sleep 1000` it becomes, with the test's PATH in its environment (as every process the test's
 * agent starts has). Not `kill(pid, 0)`: a killed tool's pid is soon another process's (pids wrap
 * within minutes under the suite), which that would call alive, and the cleanup would kill.
 */
async function hungToolRunning(pid: number, dir: string): Promise<boolean> {
  const [cmdline, environ] = await Promise.all([`/proc/${pid}/cmdline`, `/proc/${pid}/environ`].map((file) => readFile(file, 'utf8').catch(() => '')));
  const args = cmdline!.split('\0');
  const stub = (args[0] === 'sleep' && args[1] === '1000') || args.some((arg) => arg.startsWith(`${dir}/`));
  return stub && environ!.split('\0').some((entry) => entry.startsWith(`PATH=${dir}:`));
}
const hungPids = async (dir: string) => (await readFile(join(dir, 'hung-pids'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').map(Number);

async function withHangingFilter(env: Record<string, string>, body: (agent: AgentProcess, dir: string, flag: string) => Promise<void>): Promise<void> {
  const fixture = await startInitFixture();
  const dir = await mkdtemp(join(tmpdir(), 'seaway-hung-'));
  const flag = join(dir, 'hang');
  let agent: AgentProcess | undefined;
  try {
    // What an earlier test of this file programmed would leave the new agent nothing to restore.
    await run(process.execPath, ['src/main.ts', 'cleanup', '--state-dir', join(dir, 'state')], { timeoutMs: 30_000 });
    await hangingTools(dir, flag);
    await writeFile(flag, '');
    await createEndpoint(fixture, 'c1-local', remoteSpec('c1', ['10.1.0.0/16'], { hostname: 'node-gw', private_ip: '192.168.1.20' }));
    await fixture.createGatewayNode();
    await createEndpoint(fixture, 'c2-remote', remoteSpec('c2', ['10.2.0.0/16']));
    await fixture.createNode(true);
    agent = await startAgent({ env: { ...fixture.agentEnv, PATH: `${dir}:${process.env.PATH ?? ''}`, SEAWAY_RETRY_MAX_MS: '2000', ...env } });
    await body(agent, dir, flag);
  } finally {
    await agent?.stop('SIGKILL');
    for (const pid of await hungPids(dir)) if (await hungToolRunning(pid, dir)) process.kill(pid, 'SIGKILL');
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('a hung iptables-restore fails the packet filter object with ETIMEDOUT within the deadline; the agent stays live and recovers when the tool answers', () =>
  withHangingFilter({ SEAWAY_EXEC_TIMEOUT_SECONDS: '1' }, async (agent, dir, flag) => {
    const status = async () => JSON.parse((await httpUnix(join(agent.socket, '..', 'state', 'seaway.sock'), '/status', { timeoutMs: 2000 })).body) as StatusDocument;
    const filter = await waitFor('the packet filter object failed after two timed-out attempts', async () => {
      const found = (await status()).objects.find((o) => o.kind === 'filter');
      return found?.state === 'failed' && found.attempts >= 2 ? found : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(filter.code, 'ETIMEDOUT');
    assert.match(filter.reason!, /iptables-(nft|legacy)-restore .* after 1000 ms/);
    // Every hung tool was killed at its deadline: none is left running.
    const pids = await hungPids(dir);
    assert.ok(pids.length >= 2, `${pids.length} hung runs`);
    await waitFor('every timed-out tool gone', async () => (await Promise.all(pids.slice(0, -1).map((pid) => hungToolRunning(pid, dir)))).every((running) => !running), { timeoutMs: 5000 });
    const readyz = await agent.readyz();
    assert.equal(readyz.status, 503);
    assert.match(readyz.body, /packet filter \(iptables-\w+\) for \d+ local and 1 remote CIDRs failed: .*after 1000 ms/);
    assert.equal((await agent.healthz()).status, 200, 'the loop keeps turning while the tool hangs');
    const routes = JSON.parse((await run('ip', ['-j', 'route', 'show', 'table', 'all'])).stdout) as Array<{ dst: string; dev?: string }>;
    assert.ok(routes.some((r) => r.dst === '10.2.0.0/16' && r.dev === 'vx-submariner'), 'routing is programmed meanwhile');

    await rm(flag);
    await agent.waitReady(30_000);
    const saved = (await run(realTool('iptables-nft-save'), [])).stdout + (await run(realTool('iptables-legacy-save'), [])).stdout;
    assert.match(saved, /-A SUBMARINER-POSTROUTING/);
    assert.equal((await status()).objects.find((o) => o.kind === 'filter')?.state, 'programmed');
    assert.equal(agent.exitCode(), null);
  }));

test('SIGTERM while iptables-restore hangs (deadline far away): the tool is killed and the agent exits 0 promptly', () =>
  // The shutdown deadline is far too: the agent exits 0 only if the stop itself kills the tool, since the
  // test's stop sends SIGKILL after 5 s (which would make the exit code 137).
  withHangingFilter({ SEAWAY_EXEC_TIMEOUT_SECONDS: '300', SEAWAY_SHUTDOWN_TIMEOUT_SECONDS: '60' }, async (agent, dir) => {
    await waitFor('a restore hanging', async () => (await hungPids(dir)).length >= 1, { timeoutMs: 30_000 });
    const [pid] = await hungPids(dir);
    await agent.stop();
    assert.equal(agent.exitCode(), 0);
    assert.equal(await hungToolRunning(pid!, dir), false, 'the hung tool was killed with the agent\'s stop');
  }));
