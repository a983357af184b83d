/**
 * The datapath half of the demo: per node, what seaway programmed (read back with ip, bridge,
 * iptables-save, ipset and nft, not from seaway), then cross-cluster pod traffic proved with ping and
 * a TCP exchange whose server reports the peer address it saw.
 */
import { readFile } from 'node:fs/promises';
import { run } from '../../src/kernel/exec.ts';
import { probeAll, startEchoServer, type Probe, type ProbeResult } from '../e2e/datapath-support.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from './state.ts';

const ROUTE_PROTOCOL = '147';

async function inNode(node: NodeStatus, file: string, args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', node.namespace, file, ...args], { allowFailure: true })).stdout;
}

async function filterBackend(node: NodeStatus): Promise<string | null> {
  if (!node.agent) return null;
  const log = await readFile(node.agent.log, 'utf8').catch(() => '');
  for (const line of log.split('\n')) {
    if (!line.includes('packet filter backend chosen')) continue;
    try {
      const entry = JSON.parse(line) as { backend?: string; iptablesMode?: string };
      return entry.backend === 'iptables' ? `iptables-${entry.iptablesMode}` : entry.backend ?? null;
    } catch { /* not a log record */ }
  }
  return null;
}

/** One node's seaway state in a few lines. */
export async function describeProgrammed(node: NodeStatus): Promise<string[]> {
  const [routesJson, rulesJson, linkJson, addrJson, fdbText, save, sets, nft, rpCni, backend] = await Promise.all([
    inNode(node, 'ip', ['-j', 'route', 'show', 'table', 'all', 'proto', ROUTE_PROTOCOL]),
    inNode(node, 'ip', ['-j', 'rule', 'show']),
    inNode(node, 'ip', ['-j', '-d', 'link', 'show', 'vx-submariner']),
    inNode(node, 'ip', ['-j', '-4', 'addr', 'show', 'dev', 'vx-submariner']),
    inNode(node, 'bridge', ['fdb', 'show', 'dev', 'vx-submariner']),
    inNode(node, 'iptables-save', []),
    inNode(node, 'ipset', ['save']),
    inNode(node, 'nft', ['list', 'table', 'ip', 'seaway']),
    inNode(node, 'sysctl', ['-n', `net.ipv4.conf.${node.cniInterface}.rp_filter`]),
    filterBackend(node),
  ]);
  const parse = <T>(text: string): T[] => (text.trim() ? JSON.parse(text) as T[] : []);
  const routes = parse<{ type?: string; dst: string; gateway?: string; dev?: string; prefsrc?: string; table?: string }>(routesJson);
  const rules = parse<{ priority: number; table: string; protocol?: string }>(rulesJson).filter((r) => r.protocol === ROUTE_PROTOCOL);
  const link = parse<{ mtu: number; linkinfo?: { info_data?: { id?: number; remote?: string; port?: number } } }>(linkJson)[0];
  const address = parse<{ addr_info: Array<{ local: string; prefixlen: number }> }>(addrJson)[0]?.addr_info[0];
  const lines: string[] = [];
  if (!link) return ['nothing programmed (no vx-submariner)'];
  const info = link.linkinfo?.info_data ?? {};
  lines.push(`vx-submariner ${address ? `${address.local}/${address.prefixlen}` : 'no address'}, vni ${info.id}, port ${info.port}, mtu ${link.mtu}, ${info.remote ? `remote ${info.remote} (the gateway)` : 'no remote (this is the gateway)'}`);
  for (const rule of rules) {
    const inTable = routes.filter((r) => r.table === rule.table);
    lines.push(`rule ${rule.priority} -> table ${rule.table}: ${inTable.map((r) => `${r.type === 'blackhole' ? 'blackhole ' : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}${r.prefsrc ? ` src ${r.prefsrc}` : ''}`).join('; ') || 'no routes'}`);
  }
  const fdb = fdbText.split('\n').filter((l) => l.startsWith('00:00:00:00:00:00') && !l.includes(`dst ${info.remote} `));
  if (!info.remote) lines.push(`fdb: ${fdb.length} entries (one per other node: ${fdb.map((l) => / dst (\S+)/.exec(l)?.[1]).join(', ')})`);
  const chains = save.split('\n').filter((l) => /^-A SUBMARINER-/.test(l));
  const members = (name: string) => sets.split('\n').filter((l) => l.startsWith(`add ${name} `)).length;
  const filter = [`backend ${backend ?? 'unknown'}`];
  if (chains.length) filter.push(`${chains.length} rules in SUBMARINER-* chains, sets LOCALCIDRS ${members('SUBMARINER-LOCALCIDRS')} / REMOTECIDRS ${members('SUBMARINER-REMOTECIDRS')} members`);
  if (nft.trim()) filter.push(`nft table ip seaway with ${nft.split('\n').filter((l) => /^\s+chain /.test(l)).length} chains`);
  lines.push(`packet filter: ${filter.join('; ')}; rp_filter on ${node.cniInterface} = ${rpCni.trim()}`);
  return lines;
}

/** Starts an echo server in every pod, probes every pod of one cluster against every pod of the other both ways, stops the servers. */
export async function crossClusterTraffic(a: ClusterStatus, b: ClusterStatus): Promise<ProbeResult[]> {
  const servers = await Promise.all([...a.pods, ...b.pods].map((pod) => startEchoServer(pod.namespace)));
  try {
    const probes: Probe[] = [];
    for (const [src, dst] of [[a, b], [b, a]] as const) for (const from of src.pods) for (const to of dst.pods) probes.push({ from, to });
    return await probeAll(probes);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/** The demo's datapath section as text; false when any probe failed. */
export async function datapathReport(status: LabStatus, write: (text: string) => void): Promise<boolean> {
  write('\nwhat seaway programmed (read back from the kernel):\n');
  for (const cluster of status.clusters) {
    for (const node of cluster.nodes) {
      write(`  ${node.name}\n${(await describeProgrammed(node)).map((l) => `      ${l}\n`).join('')}`);
    }
  }
  const [a, b] = status.clusters;
  if (!a || !b || a.pods.length === 0 || b.pods.length === 0) return true;
  write(`\ncross-cluster pod traffic, ${a.id} <-> ${b.id} (ping, and a TCP server in each pod that answers with the peer address it saw):\n`);
  const results = await crossClusterTraffic(a, b);
  let ok = true;
  for (const r of results) {
    const sameSource = r.seenAs === r.from.ip;
    ok &&= r.ping && sameSource;
    write(`  ${r.from.name.padEnd(20)} ${r.from.ip.padEnd(10)} -> ${r.to.name.padEnd(20)} ${r.to.ip.padEnd(10)} ping ${r.ping ? 'ok' : 'FAILED'}, TCP ${sameSource ? `ok, server saw ${r.seenAs}` : `FAILED (${r.seenAs})`}\n`);
  }
  write(ok ? `all ${results.length} pod pairs talk, and every server saw the sending pod's own address\n` : 'some pod pairs FAILED (see above)\n');
  return ok;
}
