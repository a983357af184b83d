import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
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

for (const args of [['--port', 'eighty'], ['--port', '70000'], ['--frobnicate'], ['--host', ''], ['extra']]) {
  test(`invalid flags (${args.join(' ')}) exit 2 with a clear message`, async () => {
    const proc = start(args);
    const [code] = await proc.exited;
    assert.equal(code, 2);
    assert.match(proc.stderr(), /^apiserver: .+\nusage: apiserver/);
  });
}
