/** Traffic probes for the datapath e2e test and the demo: ping, and a TCP exchange that tells who the receiver saw. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { run } from '../../src/kernel/exec.ts';

export const ECHO_PORT = 7007;

/** Listens on every IPv4 address of its namespace (IPv4 only, so peers are not shown as ::ffff:a.b.c.d); to each connection it writes the peer address it sees, then closes. */
const SERVER = `require('net').createServer((s) => { console.log('peer ' + s.remoteAddress); s.end(s.remoteAddress); })
  .listen(${ECHO_PORT}, '0.0.0.0', () => console.log('listening'));`;

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
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  const peers: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit');
  const listening = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'listening') resolve();
      else if (line.startsWith('peer ')) peers.push(line.slice(5));
    });
    void exited.then(() => reject(new Error(`echo server in ${namespace} exited before listening`)));
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
