/**
 * Runs a cable's child script (ipsec-gateway-child.ts, wireguard-gateway-child.ts) inside a
 * gateway namespace and talks to it: the config as a JSON file, commands as JSON lines on stdin,
 * answers as JSON lines on stdout (`{ready: true, ...}` first), its log on stderr. Closing stdin
 * stops it; every command has a deadline so a hung child fails the test instead of hanging it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface CableChild<Ready> {
  /** What the child said when it was ready (besides `ready: true`). */
  ready: Ready;
  pid: number | undefined;
  call<T>(request: Record<string, unknown>): Promise<T>;
  /** Closes stdin: the child stops its daemon and exits; resolves on its exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the daemon it started is left running. */
  kill(): Promise<void>;
  log(): string;
}

export async function startCableChild<Ready>(ns: string, childFile: string, stateDir: string, config: object, startTimeoutMs = 20_000): Promise<CableChild<Ready>> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const configFile = join(stateDir, 'child.json');
  await writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, childFile, configFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let readyResolve: (v: Ready) => void;
  const ready = new Promise<Ready>((resolve) => { readyResolve = resolve; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string };
    if (message.ready) return readyResolve(message as Ready);
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(message.error));
  });
  void exited.then(() => { for (const w of pending.values()) w.reject(new Error(`cable child exited; its log:\n${stderr.slice(-3000)}`)); pending.clear(); });
  const started = await Promise.race([
    ready,
    exited.then(() => { throw new Error(`cable child exited before it was ready; its log:\n${stderr.slice(-3000)}`); }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cable child not ready after ${startTimeoutMs} ms; its log:\n${stderr.slice(-3000)}`)), startTimeoutMs).unref()),
  ]).catch((error: Error) => { child.kill('SIGKILL'); throw error; });
  // Waits carry their own deadline, plus slack.
  const call = <T>(request: Record<string, unknown>): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++;
    const timeoutMs = (typeof request.timeoutMs === 'number' ? request.timeoutMs : 0) + 30_000;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`cable child did not answer ${String(request.op)} within ${timeoutMs} ms; its log:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (v) => { clearTimeout(timer); (resolve as (v: unknown) => void)(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
  });
  return {
    ready: started, pid: child.pid, call,
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    log: () => stderr,
  };
}

/** The child's side: answers each JSON line on stdin with handle's result; stdin closed or SIGTERM runs shutdown. */
export function serveCableChild<R extends { id: number }>(handle: (request: R) => Promise<unknown>, shutdown: () => Promise<void>): void {
  const reply = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await shutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => { void stop(); });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const request = JSON.parse(line) as R;
    handle(request).then(
      (result) => reply({ id: request.id, ok: true, result: result ?? null }),
      (error: Error) => reply({ id: request.id, ok: false, error: error.message, name: error.name }),
    );
  });
  lines.on('close', () => { void stop(); });
}

export const announceReady = (details: object): void => { process.stdout.write(`${JSON.stringify({ ready: true, ...details })}\n`); };
