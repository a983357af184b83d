/**
 * Drives ipsec-gateway-child.ts inside a gateway namespace: start it with a config, send it
 * commands, stop it (stdin closed: it stops charon and exits) or kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CableEndpoint, CableStatus } from '../../src/cable/cable.ts';
import type { IpsecGatewayConfig } from './ipsec-gateway-child.ts';

/** One IKE SA as list-sas reports it (the fields the tests read). */
export interface SaEvent {
  uniqueid: string;
  state: string;
  'child-sas'?: Record<string, { name: string; uniqueid: string; state: string; 'spi-in': string; 'bytes-in': string; 'bytes-out': string }>;
}

const CHILD = fileURLToPath(new URL('./ipsec-gateway-child.ts', import.meta.url));

export interface IpsecGateway {
  espMode: string;
  connect(endpoint: CableEndpoint): Promise<void>;
  disconnect(cableName: string): Promise<void>;
  status(): Promise<CableStatus[]>;
  waitConnected(cableName: string, timeoutMs: number): Promise<void>;
  refreshKeys(): Promise<boolean>;
  info(): Promise<{ charonPid: number | undefined; restarts: number }>;
  reauthenticate(cableName: string): Promise<void>;
  /** Rekeys a child now (charon's make-before-break rekey, as its timer would). */
  rekeyChild(cableName: string, child: string): Promise<void>;
  /** The cable's metrics (Prometheus text), its status recorded first. */
  metrics(): Promise<string>;
  /** charon's SAs as list-sas streams them (one event per IKE SA). */
  sas(): Promise<Array<Record<string, SaEvent>>>;
  /** The ids of the shared keys charon holds. */
  sharedKeys(): Promise<string[]>;
  /** Closes stdin: the child stops charon (SIGTERM) and exits; resolves on its exit. */
  stop(): Promise<void>;
  /** What the child wrote on stderr (its log, as pino JSON lines). */
  log(): string;
}

export async function startIpsecGateway(ns: string, config: IpsecGatewayConfig, startTimeoutMs = 20_000): Promise<IpsecGateway> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  const configFile = join(config.stateDir, 'gateway.json');
  await writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, CHILD, configFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let readyResolve: (v: { espMode: string }) => void;
  const ready = new Promise<{ espMode: string }>((resolve) => { readyResolve = resolve; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as { ready?: boolean; espMode?: string; id?: number; ok?: boolean; result?: unknown; error?: string };
    if (message.ready) return readyResolve({ espMode: message.espMode ?? '' });
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(message.error));
  });
  void exited.then(() => { for (const w of pending.values()) w.reject(new Error(`gateway child exited; its log:\n${stderr.slice(-3000)}`)); pending.clear(); });
  const started = await Promise.race([
    ready,
    exited.then(() => { throw new Error(`gateway child exited before it was ready; its log:\n${stderr.slice(-3000)}`); }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`gateway child not ready after ${startTimeoutMs} ms; its log:\n${stderr.slice(-3000)}`)), startTimeoutMs).unref()),
  ]).catch((error: Error) => { child.kill('SIGKILL'); throw error; });
  // Every command has a deadline (a hung child must fail the test, not hang it); waits carry their own, plus slack.
  const call = <T>(request: Record<string, unknown>): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++;
    const timeoutMs = (typeof request.timeoutMs === 'number' ? request.timeoutMs : 0) + 30_000;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`gateway child did not answer ${String(request.op)} within ${timeoutMs} ms; its log:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (v) => { clearTimeout(timer); (resolve as (v: unknown) => void)(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
  });
  return {
    espMode: started.espMode,
    connect: (endpoint) => call({ op: 'connect', endpoint }),
    disconnect: (cableName) => call({ op: 'disconnect', cableName }),
    status: () => call({ op: 'status' }),
    waitConnected: (cableName, timeoutMs) => call({ op: 'wait-connected', cableName, timeoutMs }),
    refreshKeys: () => call({ op: 'refresh-keys' }),
    info: () => call({ op: 'info' }),
    reauthenticate: (cableName) => call({ op: 'reauthenticate', cableName }),
    rekeyChild: (cableName, child) => call({ op: 'rekey-child', cableName, child }),
    metrics: () => call({ op: 'metrics' }),
    sas: () => call({ op: 'sas' }),
    sharedKeys: () => call({ op: 'shared-keys' }),
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    log: () => stderr,
  };
}
