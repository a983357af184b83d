/**
 * The footprint benchmark's pure parts (test/bench/footprint.ts does the I/O): the objects it loads the
 * cluster with (realistic Nodes, remote clusters' Endpoints), the check that their subnets are valid and
 * clear of the lab's own, /proc parsers, bounded concurrency, and the figures table.
 */
import { createHash } from 'node:crypto';
import { compareCidrs, lastAddress, parseCidr, type Cidr } from '../../src/model/cidr.ts';
import { median } from './bench-support.ts';

const pad4 = (n: number) => String(n).padStart(4, '0');

/** A stable fake digest: the same image has the same digest on every node, as on a real cluster. */
const digest = (seed: string) => createHash('sha256').update(seed).digest('hex');

/** Images a worker typically holds (CNI, CSI, monitoring, app images): 40, with two names each as the kubelet lists them. */
const IMAGE_REPOS = [
  'registry.k8s.io/kube-proxy', 'registry.k8s.io/pause', 'registry.k8s.io/coredns/coredns', 'docker.io/calico/node', 'docker.io/calico/cni',
  'docker.io/calico/kube-controllers', 'docker.io/calico/pod2daemon-flexvol', 'registry.k8s.io/sig-storage/csi-node-driver-registrar',
  'registry.k8s.io/sig-storage/livenessprobe', 'public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver', 'quay.io/prometheus/node-exporter',
  'quay.io/prometheus-operator/prometheus-config-reloader', 'quay.io/prometheus/prometheus', 'docker.io/grafana/promtail', 'docker.io/grafana/loki',
  'quay.io/jetstack/cert-manager-controller', 'quay.io/jetstack/cert-manager-webhook', 'registry.k8s.io/ingress-nginx/controller',
  'registry.k8s.io/metrics-server/metrics-server', 'quay.io/submariner/submariner-gateway', 'quay.io/submariner/submariner-route-agent',
  'quay.io/submariner/lighthouse-agent', 'quay.io/submariner/lighthouse-coredns', 'quay.io/seaway/seaway', 'docker.io/library/nginx',
  'docker.io/library/redis', 'docker.io/library/postgres', 'docker.io/bitnami/kafka', 'docker.io/bitnami/zookeeper', 'ghcr.io/fluxcd/source-controller',
  'ghcr.io/fluxcd/kustomize-controller', 'ghcr.io/fluxcd/helm-controller', 'docker.io/istio/proxyv2', 'docker.io/istio/pilot',
  'docker.io/library/busybox', 'docker.io/curlimages/curl', 'gcr.io/distroless/static', 'docker.io/envoyproxy/envoy', 'quay.io/argoproj/argocd',
  'docker.io/library/python',
] as const;

/** The fake Nodes' name, InternalIP (172.20.0.0/16, outside every lab range) and pod CIDR (a /29 in 10.1.64.0/18, clear of the lab nodes' 10.1.n.0/24). */
export function benchNodeName(index: number): string {
  return `fp-node-${pad4(index)}`;
}

export function benchNodeIp(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 65_000) throw new RangeError(`node index ${index} out of 1..65000`);
  return `172.20.${1 + Math.floor((index - 1) / 250)}.${((index - 1) % 250) + 1}`;
}

export function benchNodePodCidr(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 8191) throw new RangeError(`node index ${index} out of 1..8191`);
  return `10.1.${64 + (index >> 5)}.${(index & 31) << 3}/29`;
}

/** The four conditions a kubelet posts, all with this heartbeat. */
export function nodeConditions(heartbeat: Date, since: Date): Array<Record<string, string>> {
  const at = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string, status: string, reason: string, message: string) =>
    ({ type, status, lastHeartbeatTime: at(heartbeat), lastTransitionTime: at(since), reason, message });
  return [
    condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/**
 * A Node as a real kubelet on a cloud VM writes it (about 10 KB of JSON): topology and instance labels,
 * the CNI's, CSI's and kubeadm's annotations, addresses, capacity and allocatable, four conditions with
 * heartbeat times, nodeInfo, the daemon endpoint and 40 images with their names and sizes.
 */
export function benchNode(index: number, now: Date): Record<string, unknown> {
  const name = benchNodeName(index);
  const ip = benchNodeIp(index);
  const zone = `eu-west-1${'abc'[index % 3]}`;
  const instance = `i-0${digest(`instance-${index}`).slice(0, 16)}`;
  const images = IMAGE_REPOS.map((repo, k) => {
    const tag = `v1.${(k * 7 + index) % 30}.${k % 10}`;
    return { names: [`${repo}@sha256:${digest(`${repo}:${tag}`)}`, `${repo}:${tag}`], sizeBytes: 5_000_000 + ((k * 7_919_993 + index * 104_729) % 900_000_000) };
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/instance-type': 'm6i.2xlarge', 'beta.kubernetes.io/os': 'linux',
        'failure-domain.beta.kubernetes.io/region': 'eu-west-1', 'failure-domain.beta.kubernetes.io/zone': zone,
        'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'm6i.2xlarge', 'node-role.kubernetes.io/worker': '',
        'topology.ebs.csi.aws.com/zone': zone, 'topology.kubernetes.io/region': 'eu-west-1', 'topology.kubernetes.io/zone': zone,
        'k8s.io/cloud-provider-aws': digest('cluster').slice(0, 32), 'nodepool': `pool-${index % 8}`,
      },
      annotations: {
        'alpha.kubernetes.io/provided-node-ip': ip,
        'csi.volume.kubernetes.io/nodeid': JSON.stringify({ 'ebs.csi.aws.com': instance }),
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        'node.alpha.kubernetes.io/ttl': '0',
        'projectcalico.org/IPv4Address': `${ip}/16`,
        'projectcalico.org/IPv4VXLANTunnelAddr': benchNodePodCidr(index).replace(/\/29$/, '').replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) + 1}`),
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: { podCIDR: benchNodePodCidr(index), podCIDRs: [benchNodePodCidr(index)], providerID: `aws:///${zone}/${instance}` },
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'InternalDNS', address: `ip-${ip.replaceAll('.', '-')}.eu-west-1.compute.internal` },
        { type: 'Hostname', address: name },
      ],
      allocatable: { cpu: '7910m', 'ephemeral-storage': '95551679124', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '31619540Ki', pods: '110' },
      capacity: { cpu: '8', 'ephemeral-storage': '104845292Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '32332244Ki', pods: '110' },
      conditions: nodeConditions(now, new Date(now.getTime() - 86_400_000)),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      images,
      nodeInfo: {
        architecture: 'amd64', bootID: digest(`boot-${index}`).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
        containerRuntimeVersion: 'containerd://1.7.22', kernelVersion: '6.1.112-122.189.amzn2023.x86_64', kubeProxyVersion: 'v1.31.2',
        kubeletVersion: 'v1.31.2', machineID: digest(`machine-${index}`).slice(0, 32), operatingSystem: 'linux', osImage: 'Amazon Linux 2023.6.20241010',
        systemUUID: digest(`uuid-${index}`).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
      },
    },
  };
}

/** Remote cluster `index` (1-based): cluster-0001 ... */
export function remoteClusterId(index: number): string {
  return `cluster-${pad4(index)}`;
}

/** Subnet j (0-based) of remote cluster `index` (1-based): /28s in 10.128.0.0/10, clear of the lab's 10.1/16 and 10.101/16. */
export function remoteSubnet(index: number, j: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 16_384) throw new RangeError(`remote cluster index ${index} out of 1..16384`);
  if (!Number.isInteger(j) || j < 0 || j > 15) throw new RangeError(`subnet ${j} out of 0..15`);
  const k = index - 1;
  return `10.${128 + (k >> 8)}.${k & 255}.${j * 16}/28`;
}

/** Remote cluster `index`'s Endpoint as the broker sync writes it into submariner-operator (test/lab/submariner-sim.ts). */
export function remoteEndpoint(index: number, subnets: number, namespace: string): Record<string, unknown> {
  const id = remoteClusterId(index);
  const k = index - 1;
  const privateIp = `172.24.${Math.floor(k / 250)}.${(k % 250) + 1}`;
  const publicIp = `100.100.${Math.floor(k / 250)}.${(k % 250) + 1}`;
  const cable = `submariner-cable-${id}-${privateIp.replaceAll('.', '-')}`;
  const list = Array.from({ length: subnets }, (_, j) => remoteSubnet(index, j));
  return {
    apiVersion: 'submariner.io/v1',
    kind: 'Endpoint',
    metadata: { name: `${id}-${cable}`, namespace, labels: { 'submariner-io/clusterID': id } },
    spec: {
      cluster_id: id, cable_name: cable, healthCheckIP: (list[0] as string).replace(/\.(\d+)\/28$/, (_, last: string) => `.${Number(last) + 1}`),
      hostname: `${id}-gw-1`, subnets: list, private_ip: privateIp, public_ip: publicIp, nat_enabled: false, backend: 'libreswan',
      backend_config: { 'natt-discovery-port': '4490', 'preferred-server': 'false', 'public-ip': `ipv4:${publicIp}`, 'udp-port': '4500' },
    },
  };
}

/**
 * Why the subnets are unusable (not canonical CIDRs, overlapping each other or a reserved range), or
 * null. Sorted by network then by breadth, a CIDR overlaps an earlier one exactly when it starts before
 * the furthest end seen so far (CIDRs nest or are disjoint), so one pass suffices.
 */
export function checkSubnets(subnets: readonly string[], reserved: readonly string[]): string | null {
  const parsed: Array<{ cidr: Cidr; text: string; reserved: boolean }> = [];
  for (const [list, isReserved] of [[subnets, false], [reserved, true]] as const) {
    for (const text of list) {
      const result = parseCidr(text);
      if (!result.ok) return result.message;
      if (result.hostBitsSet) return `"${text}" has host bits set`;
      parsed.push({ cidr: result.cidr, text, reserved: isReserved });
    }
  }
  parsed.sort((a, b) => compareCidrs(a.cidr, b.cidr) || a.cidr.prefixLength - b.cidr.prefixLength);
  let furthest: { end: number; text: string; reserved: boolean } | undefined;
  for (const entry of parsed) {
    if (furthest !== undefined && entry.cidr.network <= furthest.end && !(entry.reserved && furthest.reserved)) {
      return `${entry.text} overlaps ${furthest.reserved ? 'the lab\'s ' : ''}${furthest.text}`;
    }
    const end = lastAddress(entry.cidr);
    if (furthest === undefined || end > furthest.end) furthest = { end, text: entry.text, reserved: entry.reserved };
  }
  return null;
}

/** VmRSS and RssAnon from /proc/<pid>/status, in KiB. */
export function parseProcStatus(text: string): { vmRssKiB: number; rssAnonKiB: number } {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!match) throw new Error(`/proc/<pid>/status has no ${name} line (a kernel thread, or not a status file)`);
    return Number(match[1]);
  };
  return { vmRssKiB: field('VmRSS'), rssAnonKiB: field('RssAnon') };
}

/** utime + stime (clock ticks) from /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields count from the last ")". */
export function parseProcStatTicks(text: string): number {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('/proc/<pid>/stat has no ")" after the command name');
  // After ")": state (field 3) ... utime is field 14, stime field 15.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (fields.length < 13 || !Number.isSafeInteger(utime) || !Number.isSafeInteger(stime) || utime < 0 || stime < 0) {
    throw new Error(`/proc/<pid>/stat: no utime/stime numbers in "${text.slice(0, 120)}"`);
  }
  return utime + stime;
}

/** Runs `work` on every item, at most `limit` at a time; the first failure rejects (the others still in flight are awaited). */
export async function boundedAll<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a whole number >= 1, got ${limit}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

export interface MemorySample { vmRssKiB: number; rssAnonKiB: number }

export interface PhaseFigures {
  phase: string;
  samples: number;
  vmRssMedianMiB: number;
  vmRssMaxMiB: number;
  rssAnonMedianMiB: number;
  rssAnonMaxMiB: number;
  /** Of one core; null when not measured. */
  cpuPercent: number | null;
  /** V8's heap at the phase's end, from the agent's own /metrics: used and total (committed), MiB; null when not read. */
  heap: { usedMiB: number; totalMiB: number } | null;
}

/** The sum of a metric's samples over all its labels in a Prometheus text exposition (0 when absent). */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}

/** V8's heap used and total from a Prometheus text exposition (prom-client's default metrics), in MiB; null when absent. */
export function parseHeapMetrics(text: string): { usedMiB: number; totalMiB: number } | null {
  const value = (name: string) => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return match ? Number(match[1]) / 1024 / 1024 : null;
  };
  const usedMiB = value('nodejs_heap_size_used_bytes');
  const totalMiB = value('nodejs_heap_size_total_bytes');
  return usedMiB === null || totalMiB === null ? null : { usedMiB, totalMiB };
}

const mib = (kib: number) => kib / 1024;

/** Medians and maxima of a phase's samples, in MiB (NaN without samples). */
export function phaseFigures(phase: string, samples: readonly MemorySample[], cpuPercent: number | null, heap: PhaseFigures['heap'] = null): PhaseFigures {
  const vm = samples.map((s) => s.vmRssKiB);
  const anon = samples.map((s) => s.rssAnonKiB);
  return {
    phase, samples: samples.length, cpuPercent, heap,
    vmRssMedianMiB: mib(median(vm)), vmRssMaxMiB: samples.length ? mib(Math.max(...vm)) : Number.NaN,
    rssAnonMedianMiB: mib(median(anon)), rssAnonMaxMiB: samples.length ? mib(Math.max(...anon)) : Number.NaN,
  };
}

/** CPU time over a wall-clock window, as a percentage of one core. */
export function cpuPercent(ticks: number, ticksPerSecond: number, wallMs: number): number {
  if (!(ticksPerSecond > 0) || !(wallMs > 0) || !(ticks >= 0)) throw new RangeError(`cannot compute CPU % from ${ticks} ticks at ${ticksPerSecond}/s over ${wallMs} ms`);
  return (ticks / ticksPerSecond) / (wallMs / 1000) * 100;
}

export const GOALS = { vmRssMiB: 100, rssAnonMiB: 56 } as const;

/** The figures as a text table, each loaded phase's median against the issue's goals. */
export function formatTable(rows: readonly PhaseFigures[], goals: { vmRssMiB: number; rssAnonMiB: number } = GOALS): string {
  const header = ['phase', 'samples', 'VmRSS median', 'VmRSS max', 'RssAnon median', 'RssAnon max', 'CPU %', 'V8 heap used/total at end'];
  const body = rows.map((r) => [
    r.phase, String(r.samples), `${r.vmRssMedianMiB.toFixed(1)} MiB`, `${r.vmRssMaxMiB.toFixed(1)} MiB`,
    `${r.rssAnonMedianMiB.toFixed(1)} MiB`, `${r.rssAnonMaxMiB.toFixed(1)} MiB`, r.cpuPercent === null ? '-' : r.cpuPercent.toFixed(1),
    r.heap === null ? '-' : `${r.heap.usedMiB.toFixed(1)} / ${r.heap.totalMiB.toFixed(1)} MiB`,
  ]);
  const goal = ['goal (10k subnets, 5,000 Nodes)', '', `<= ${goals.vmRssMiB} MiB`, '', `<= ${goals.rssAnonMiB} MiB`, '', '', ''];
  const all = [header, ...body, goal];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] as string).length)));
  return all.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join('  ').trimEnd()).join('\n');
}
