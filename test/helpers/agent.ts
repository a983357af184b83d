import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpUnix, type HttpResponse } from '../lab/http-unix.ts';
import { waitFor } from './wait.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface AgentProcess {
  pid: number;
  socket: string;
  logPath: string;
  readyz(): Promise<HttpResponse>;
  healthz(): Promise<HttpResponse>;
  metrics(): Promise<string>;
  /** Parsed JSON log lines so far. */
  logs(): Promise<Array<Record<string, unknown>>>;
  waitForLog(what: string, predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  waitReady(timeoutMs?: number): Promise<void>;
  exitCode(): number | null;
  /** SIGTERM (or the given signal), wait for exit, remove its files. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `seaway run` as a real process (inside the netns given, or the caller's own), with its
 * HTTP server on a unix socket the test can reach from anywhere and JSON logs to a file.
 */
export async function startAgent(options: { env: Record<string, string>; args?: string[]; netns?: string }): Promise<AgentProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-agent-'));
  const socket = join(dir, 'agent.sock');
  const logPath = join(dir, 'agent.log');
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logPath, 'a');
  const argv = [process.execPath, MAIN, 'run', ...(options.args ?? [])];
  const [file, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...argv] : argv;
  const child: ChildProcess = spawn(file!, args, {
    stdio: ['ignore', logFd, logFd],
    env: { PATH: process.env.PATH ?? '', SEAWAY_LISTEN: `unix:${socket}`, SEAWAY_STATE_DIR: join(dir, 'state'), SEAWAY_LOG_LEVEL: 'debug', ...options.env },
  });
  closeSync(logFd);
  let exit: number | null = null;
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => { exit = code ?? (signal ? 128 : 1); resolve(); }));

  const logs = async () => (await readFile(logPath, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const agent: AgentProcess = {
    pid: child.pid!,
    socket,
    logPath,
    readyz: () => httpUnix(socket, '/readyz', { timeoutMs: 2000 }),
    healthz: () => httpUnix(socket, '/healthz', { timeoutMs: 2000 }),
    metrics: async () => (await httpUnix(socket, '/metrics', { timeoutMs: 2000 })).body,
    logs,
    waitForLog: (what, predicate, timeoutMs = 10_000) =>
      waitFor(`agent log: ${what}`, async () => (await logs()).find(predicate), { timeoutMs, intervalMs: 25 }),
    async waitReady(timeoutMs = 10_000) {
      await waitFor('/readyz to answer 200', async () => {
        if (exit !== null) throw new Error(`agent exited with ${exit}: ${await readFile(logPath, 'utf8')}`);
        return (await agent.readyz()).status === 200;
      }, { timeoutMs, intervalMs: 10 });
    },
    exitCode: () => exit,
    async stop(signal = 'SIGTERM') {
      if (exit === null) {
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return agent;
}
