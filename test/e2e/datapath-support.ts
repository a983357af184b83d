/** Traffic probes for the datapath e2e test and the demo: ping, and a TCP exchange that tells who the receiver saw. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { run } from '../../src/kernel/exec.ts';
import { SERVICE_PORT } from '../lab/addressing.ts';

/** The lab's Service targets it too (test/lab/addressing.ts). */
export const ECHO_PORT = SERVICE_PORT;
export const BULK_PORT = 7008;

/** Listens on every IPv4 address of its namespace (IPv4 only, so peers are not shown as ::ffff:a.b.c.d); to each connection it writes the peer address it sees, then closes. */
const SERVER = `require('net').createServer((s) => { s.on('error', () => {}); console.log('peer ' + s.remoteAddress); s.end(s.remoteAddress); })
  .listen(${ECHO_PORT}, '0.0.0.0', () => console.log('listening'));`;

/**
 * Bulk TCP both ways: the server reads the client's bytes to their end, then answers with as many
 * bytes as the first line of its input asked for (a count it reports back first).
 */
const BULK_SERVER = `require('net').createServer((s) => {
  let got = 0; let want = -1; let head = '';
  s.on('data', (c) => {
    if (want < 0) { head += c.toString('latin1'); const nl = head.indexOf('\\n'); if (nl < 0) return; want = Number(head.slice(0, nl)); got += head.length - nl - 1; return; }
    got += c.length;
  });
  s.on('end', () => { s.write(got + '\\n'); s.end(Buffer.alloc(want, 0x5a)); });
  s.on('error', () => {});
}).listen(${BULK_PORT}, '0.0.0.0', () => console.log('listening'));`;

/** argv: target, bytes each way, timeout ms; prints {sent, serverGot, received} or {error}. */
const BULK_CLIENT = `const [host, bytes, timeout] = process.argv.slice(1);
const n = Number(bytes);
const s = require('net').connect({ host, port: ${BULK_PORT} });
const t = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(0); }, Number(timeout));
let reply = Buffer.alloc(0);
s.on('connect', () => { s.write(n + '\\n'); s.end(Buffer.alloc(n, 0x61)); });
s.on('data', (c) => { reply = Buffer.concat([reply, c]); });
s.on('end', () => { clearTimeout(t); const nl = reply.indexOf(10); console.log(JSON.stringify({ sent: n, serverGot: Number(reply.subarray(0, nl).toString()), received: reply.length - nl - 1 })); });
s.on('error', (e) => { clearTimeout(t); console.log(JSON.stringify({ error: e.code })); });`;

/** Starts the bulk server in a namespace; resolves once it listens. */
export async function startBulkServer(namespace: string): Promise<EchoServer> {
  return startServer(namespace, BULK_SERVER);
}

/** `bytes` to the target's bulk server and `bytes` back, over one TCP connection. */
export async function bulkTcp(namespace: string, target: string, bytes: number, timeoutMs = 30_000): Promise<{ sent?: number; serverGot?: number; received?: number; error?: string }> {
  const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '-e', BULK_CLIENT, target, String(bytes), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { sent?: number; serverGot?: number; received?: number; error?: string };
}

/** Connects to every target at once (argv: timeout ms, then addresses); prints {target: what the server saw | "error ..."} as JSON. */
const CLIENT = `const [timeout, ...targets] = process.argv.slice(1);
Promise.all(targets.map((host) => new Promise((resolve) => {
  const s = require('net').connect({ host, port: ${ECHO_PORT}, timeout: Number(timeout) });
  let seen = '';
  s.on('data', (c) => { seen += c; });
  s.on('end', () => resolve([host, seen]));
  s.on('timeout', () => { s.destroy(); resolve([host, 'error timeout']); });
  s.on('error', (e) => resolve([host, 'error ' + e.code]));
}))).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));`;

export interface EchoServer {
  namespace: string;
  /** Peer addresses the server printed so far. */
  peers: string[];
  stop(): Promise<void>;
}

/** Starts the echo server in a namespace; resolves once it listens. */
export async function startEchoServer(namespace: string): Promise<EchoServer> {
  return startServer(namespace, SERVER);
}

async function startServer(namespace: string, script: string): Promise<EchoServer> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const peers: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  const listening = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'listening') resolve();
      else if (line.startsWith('peer ')) peers.push(line.slice(5));
    });
    void exited.then(() => reject(new Error(`server in ${namespace} exited before listening`)));
  });
  await listening;
  return {
    namespace,
    peers,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** From one namespace to each target: the address the echo server saw, or "error <code>". */
export async function tcpSeenAs(namespace: string, targets: readonly string[], timeoutMs = 3000): Promise<Record<string, string>> {
  const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '-e', CLIENT, String(timeoutMs), ...targets]);
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
}

/** One echo reply within the deadline (ping keeps sending until one comes back or the deadline passes). */
export async function pings(namespace: string, target: string, deadlineSeconds = 3): Promise<boolean> {
  const result = await run('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-c', '1', '-i', '0.2', '-w', String(deadlineSeconds), target], { allowFailure: true });
  return result.code === 0;
}

export interface Probe {
  from: { name: string; namespace: string; ip: string };
  to: { name: string; ip: string };
}

export interface ProbeResult extends Probe {
  ping: boolean;
  seenAs: string;
}

/** Runs ping and the TCP exchange for every probe, sources in parallel. */
export async function probeAll(probes: readonly Probe[]): Promise<ProbeResult[]> {
  const bySource = new Map<string, Probe[]>();
  for (const p of probes) bySource.set(p.from.namespace, [...(bySource.get(p.from.namespace) ?? []), p]);
  const results = await Promise.all([...bySource.values()].map(async (group) => {
    const [seen, pinged] = await Promise.all([
      tcpSeenAs(group[0]!.from.namespace, group.map((p) => p.to.ip)),
      Promise.all(group.map((p) => pings(p.from.namespace, p.to.ip))),
    ]);
    return group.map((p, i) => ({ ...p, ping: pinged[i]!, seenAs: seen[p.to.ip] ?? 'error no result' }));
  }));
  return results.flat();
}

/** Lines describing every probe that did not both ping and arrive with the expected source; empty when all did. */
export function failures(results: readonly ProbeResult[], expectedSource: (r: ProbeResult) => string): string[] {
  return results
    .filter((r) => !r.ping || r.seenAs !== expectedSource(r))
    .map((r) => `${r.from.name} (${r.from.ip}) -> ${r.to.name} (${r.to.ip}): ping ${r.ping ? 'ok' : 'FAILED'}, TCP seen as ${r.seenAs}, expected ${expectedSource(r)}`);
}

/** Every pod of one cluster to every pod of the other, both ways. */
export function podProbes(a: { pods: readonly Probe['from'][] }, b: { pods: readonly Probe['from'][] }): Probe[] {
  const probes: Probe[] = [];
  for (const [src, dst] of [[a, b], [b, a]] as const) {
    for (const from of src.pods) for (const to of dst.pods) probes.push({ from, to });
  }
  return probes;
}

/** What a probe's server must have seen: the sending pod's own address (no masquerade on the way). */
export const fromItself = (r: ProbeResult): string => r.from.ip;
