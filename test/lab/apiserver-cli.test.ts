import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('./apiserver/cli.ts', import.meta.url));

function start(args: string[]) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stderr: () => stderr };
}

test('standalone: prints one JSON line once listening, serves, and exits 0 on SIGTERM', async () => {
  const socket = `/tmp/swa-cli-${process.pid}.sock`;
  const proc = start(['--host', '127.0.0.1', '--port', '0', '--socket', socket]);
  try {
    const [line] = await once(createInterface(proc.child.stdout), 'line') as [string];
    const ready = JSON.parse(line) as { url: string; socket: string | null; pid: number };
    assert.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.socket, socket);
    assert.equal(ready.pid, proc.child.pid);
    assert.equal(await (await fetch(`${ready.url}/healthz`)).text(), 'ok');
    proc.child.kill('SIGTERM');
    const [code] = await proc.exited;
    assert.equal(code, 0, proc.stderr());
    assert.equal(existsSync(socket), false, 'the socket file is removed');
    assert.match(proc.stderr(), /GET \/healthz 200/);
  } finally {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  }
});

/** Starts the CLI with `args`, waits for its ready line, runs `body` against its URL, then stops it. */
async function withCli(args: string[], body: (url: string) => Promise<void>): Promise<void> {
  const proc = start(['--port', '0', ...args]);
  try {
    const [line] = await once(createInterface(proc.child.stdout), 'line') as [string];
    await body((JSON.parse(line) as { url: string }).url);
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
}

const groupsOf = async (url: string) => ((await (await fetch(`${url}/apis`)).json()) as { groups: Array<{ name: string }> }).groups.map((g) => g.name);

test('CRDs at start: Submariner\'s by default, none with --no-crds, exactly those of --crds DIR', async () => {
  await withCli([], async (url) => {
    assert.ok((await groupsOf(url)).includes('submariner.io'));
  });
  await withCli(['--no-crds'], async (url) => {
    assert.ok(!(await groupsOf(url)).includes('submariner.io'));
    assert.equal((await fetch(`${url}/apis/submariner.io/v1/endpoints`)).status, 404);
  });
  const dir = mkdtempSync(join(tmpdir(), 'swa-crds-'));
  try {
    writeFileSync(join(dir, 'things.yaml'), [
      'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', 'metadata: {name: things.example.com}',
      'spec: {group: example.com, scope: Cluster, names: {kind: Thing, plural: things},',
      '  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]}',
    ].join('\n'));
    await withCli(['--crds', dir], async (url) => {
      const groups = await groupsOf(url);
      assert.ok(groups.includes('example.com') && !groups.includes('submariner.io'), groups.join(' '));
      assert.equal((await fetch(`${url}/apis/example.com/v1/things`)).status, 200);
    });
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: broken.example.com}\nspec: {group: example.com}\n');
    const broken = start(['--port', '0', '--crds', dir]);
    const [code] = await broken.exited;
    assert.equal(code, 1, 'a CRD the server refuses stops the start');
    assert.match(broken.stderr(), /cannot start: CustomResourceDefinition\.apiextensions\.k8s\.io "broken\.example\.com" is invalid/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const args of [['--port', 'eighty'], ['--port', '70000'], ['--frobnicate'], ['--host', ''], ['extra'], ['--crds', '/nonexistent-crds'], ['--no-crds', '--crds', '/tmp']]) {
  test(`invalid flags (${args.join(' ')}) exit 2 with a clear message`, async () => {
    const proc = start(args);
    const [code] = await proc.exited;
    assert.equal(code, 2);
    assert.match(proc.stderr(), /^apiserver: .+\nusage: apiserver/);
  });
}
