/**
 * Start-up failures after configuration are states, not crashes: the agent keeps running, says what
 * fails (readiness, metric, one log line), programs what it can meanwhile, and recovers by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startAgent, type AgentProcess } from '../helpers/agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpUnix } from '../lab/http-unix.ts';
import { run } from '../../src/kernel/exec.ts';
import { addUnderlay, startInitFixture, type InitFixture } from './init-support.ts';
import { remoteSpec } from './routing-support.ts';

const FILTER_TOOLS = ['iptables-legacy-save', 'iptables-nft-save', 'nft'] as const;
requireTools('ip', ...FILTER_TOOLS, 'iptables-nft-restore', 'iptables-legacy-restore', 'ipset');
await runInsideNetns(import.meta.url, 'startup');

const ip = (...args: string[]) => run('ip', args);
await addUnderlay();
await ip('link', 'add', 'cni0', 'type', 'bridge');
await ip('addr', 'add', '10.1.3.1/24', 'dev', 'cni0');
await ip('link', 'set', 'cni0', 'up');

const metricValue = (text: string, sample: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
};
/** The reasons in a /readyz body. */
const pendingLines = (body: string) => body.split('\n').filter((l) => l !== '' && l !== 'not ready' && l !== 'ok');
const warningsOf = async (agent: AgentProcess, step: string) => (await agent.logs()).filter((l) => l.step === step && l.level === 40);

async function createEndpoint(fixture: InitFixture, name: string, spec: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${fixture.api.url}/apis/submariner.io/v1/namespaces/submariner-operator/endpoints`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name }, spec }),
  });
  assert.equal(response.status, 201, await response.text());
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

test('a taken HTTP port: the agent keeps running and programming, says so once, and serves once the port frees', async () => {
  const fixture = await startInitFixture();
  const blocker = createServer();
  const port = await listen(blocker, 0);
  const dir = await mkdtemp(join(tmpdir(), 'seaway-startup-'));
  const socket = join(dir, 'agent.sock');
  const address = `127.0.0.1:${port}`;
  const component = `http-listen ${address}`;
  let agent: AgentProcess | undefined;
  try {
    await fixture.createNode(true);
    agent = await startAgent({ env: { ...fixture.agentEnv, SEAWAY_LISTEN: `unix:${socket},${address}` } });
    const get = (path: string) => httpUnix(socket, path, { timeoutMs: 2000 });
    // Programming goes on while the port is taken: only the listener is missing from readiness.
    const notReady = await waitFor('readiness naming only the taken port', async () => {
      const response = await get('/readyz');
      const lines = pendingLines(response.body);
      return response.status === 503 && lines.length === 1 && lines[0]!.startsWith(`${component}: `) && lines[0];
    }, { timeoutMs: 20_000 });
    assert.match(notReady, new RegExp(`${component}: listening on ${address} failed: listen EADDRINUSE: address already in use ${address}; retrying \\(attempt \\d+, next in [\\d.]+ s\\)`));
    assert.equal((await get('/healthz')).status, 200);
    const failures = await waitFor('three failed listen attempts', async () => {
      const value = metricValue((await get('/metrics')).body, `seaway_component_failures_total{component="${component}"}`);
      return value !== undefined && value >= 3 ? value : undefined;
    }, { timeoutMs: 20_000 });
    const metrics = (await get('/metrics')).body;
    assert.equal(metricValue(metrics, `seaway_component_failing{component="${component}"}`), 1);
    const warnings = await warningsOf(agent, component);
    assert.equal(warnings.length, 1, `one warning for ${failures} identical failures: ${JSON.stringify(warnings)}`);
    assert.equal(warnings[0]!.msg, `listening on ${address} failed; retrying with backoff`);
    assert.match(String(warnings[0]!.err), /EADDRINUSE/);

    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const readyOverTcp = await waitFor('/readyz 200 on the freed port', async () => {
      const response = await fetch(`http://${address}/readyz`);
      return response.status === 200 ? response.text() : undefined;
    }, { timeoutMs: 45_000, intervalMs: 100 });
    assert.equal(readyOverTcp, 'ok\n');
    await agent.waitForLog('the recovery line', (l) => l.step === component && l.msg === `listening on ${address} recovered`);
    assert.equal(metricValue((await get('/metrics')).body, `seaway_component_failing{component="${component}"}`), 0);
    assert.equal(agent.exitCode(), null);
    assert.equal((await agent.logs()).filter((l) => l.msg === 'seaway starting').length, 1, 'the agent never restarted');
  } finally {
    await agent?.stop();
    blocker.close();
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** The real tool behind a wrapper: the first match on PATH. */
function realTool(name: string): string {
  for (const entry of (process.env.PATH ?? '').split(':')) {
    if (entry && existsSync(join(entry, name))) return join(entry, name);
  }
  throw new Error(`${name} not found on PATH`);
}

test('packet filter tools failing at start: routing is programmed, readiness names the filter, and the filter joins once the tools work', async () => {
  const fixture = await startInitFixture();
  const dir = await mkdtemp(join(tmpdir(), 'seaway-startup-'));
  const failFlag = join(dir, 'fail');
  let agent: AgentProcess | undefined;
  try {
    // Wrappers ahead of the real tools on the agent's PATH: they fail while the flag file exists.
    for (const tool of FILTER_TOOLS) {
      const script = [
        '#!/bin/sh',
        `echo "$*" >> '${join(dir, `calls-${tool}`)}'`,
        `if [ -e '${failFlag}' ]; then echo '${tool}: made to fail by the test' >&2; exit 1; fi`,
        `exec '${realTool(tool)}' "$@"`,
        '',
      ].join('\n');
      await writeFile(join(dir, tool), script);
      await chmod(join(dir, tool), 0o755);
    }
    await writeFile(failFlag, '');
    await createEndpoint(fixture, 'c1-local', remoteSpec('c1', ['10.1.0.0/16', '10.101.0.0/16'], { hostname: 'node-gw', private_ip: '192.168.1.20' }));
    await fixture.createGatewayNode();
    await createEndpoint(fixture, 'c2-remote', remoteSpec('c2', ['10.2.0.0/16']));
    await fixture.createNode(true);
    agent = await startAgent({ env: { ...fixture.agentEnv, PATH: `${dir}:${process.env.PATH ?? ''}` } });
    const running = agent;

    // Routing is programmed; what is missing is the filter: its backend detection, and the filter object it holds up.
    const reason = await waitFor('readiness naming only the packet filter, after a routing pass', async () => {
      const response = await running.readyz();
      const lines = pendingLines(response.body);
      return response.status === 503 && lines.length === 2
        && lines[0] === 'programmed: 1 object(s) not programmed: packet filter pending: waiting for the packet filter backend (see packet-filter)'
        && lines[1]!.startsWith('packet-filter: ') && lines[1];
    }, { timeoutMs: 20_000 });
    assert.match(reason, /^packet-filter: detecting the packet filter backend \(auto\) failed: cannot tell which packet filter the host uses: /);
    assert.match(reason, /iptables-legacy-save exited 1: iptables-legacy-save: made to fail by the test/);
    assert.match(reason, /nft list tables exited 1: nft: made to fail by the test/);
    const routes = JSON.parse((await ip('-j', 'route', 'show', 'table', 'all')).stdout) as Array<{ dst: string; dev?: string }>;
    assert.ok(routes.some((r) => r.dst === '10.2.0.0/16' && r.dev === 'vx-submariner'), `remote route programmed: ${JSON.stringify(routes)}`);
    assert.doesNotMatch((await run(realTool('iptables-nft-save'), [])).stdout, /SUBMARINER/, 'no packet filter rules yet');
    const failing = await waitFor('three failed detection attempts', async () => {
      const metrics = await running.metrics();
      const count = metricValue(metrics, 'seaway_component_failures_total{component="packet-filter"}');
      return count !== undefined && count >= 3 ? metrics : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(metricValue(failing, 'seaway_component_failing{component="packet-filter"}'), 1);
    const warnings = await warningsOf(agent, 'packet-filter');
    assert.equal(warnings.length, 1, `one warning for repeated identical failures: ${JSON.stringify(warnings)}`);
    assert.equal(warnings[0]!.msg, 'detecting the packet filter backend (auto) failed; retrying with backoff');

    await rm(failFlag);
    await agent.waitReady(45_000);
    const chosen = await agent.waitForLog('the backend choice', (l) => l.msg === 'packet filter backend chosen');
    assert.equal(chosen.backend, 'iptables', 'an empty namespace gets the iptables backend');
    const saved = (await run(realTool(`iptables-${String(chosen.iptablesMode)}-save`), [])).stdout;
    assert.match(saved, /-A SUBMARINER-INPUT -p udp -m udp --dport 4800 -m set --match-set SEAWAY-NODEADDRS src -m comment --comment "seaway:[^"]+" -j ACCEPT/);
    assert.match(saved, /-A SUBMARINER-POSTROUTING -s 240\.0\.0\.0\/8 -o vx-submariner -m comment --comment "seaway:[^"]+" -j SNAT --to-source 10\.1\.3\.1/);
    assert.match((await run('ipset', ['list', 'SUBMARINER-REMOTECIDRS'])).stdout, /^10\.2\.0\.0\/16$/m, 'the remote subnet in the set');
    await agent.waitForLog('the recovery line', (l) => l.step === 'packet-filter' && l.msg === 'detecting the packet filter backend (auto) recovered');
    assert.equal(metricValue(await agent.metrics(), 'seaway_component_failing{component="packet-filter"}'), 0);
    assert.equal(agent.exitCode(), null);
    const calls = readFileSync(join(dir, 'calls-nft'), 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(calls.length >= 4, `nft was called by every detection attempt and after: ${calls.length}`);
  } finally {
    await agent?.stop();
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM while start-up steps are still retrying: the agent exits 0 at once, without waiting out the backoff', async () => {
  const fixture = await startInitFixture();
  const blocker = createServer();
  const port = await listen(blocker, 0);
  const component = `http-listen 127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'seaway-startup-'));
  const socket = join(dir, 'agent.sock');
  let agent: AgentProcess | undefined;
  try {
    agent = await startAgent({ env: { ...fixture.agentEnv, SEAWAY_LISTEN: `unix:${socket},127.0.0.1:${port}` } });
    const running = agent;
    // Five failures in, the next pause is at least 8 s (500 ms doubling, drawn from [d, 2d)).
    await waitFor('five failed listen attempts', async () => {
      const metrics = (await httpUnix(socket, '/metrics', { timeoutMs: 2000 })).body;
      const value = metricValue(metrics, `seaway_component_failures_total{component="${component}"}`);
      return value !== undefined && value >= 5;
    }, { timeoutMs: 60_000 });
    await running.stop();
    // The test's stop sends SIGKILL after 5 s, which would exit 137: exit 0 means the agent did not wait out that pause.
    assert.equal(running.exitCode(), 0);
  } finally {
    await agent?.stop();
    blocker.close();
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
});
