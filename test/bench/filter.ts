/**
 * Benchmark: seaway's packet filter at 1,000 remote clusters x 10 subnets. For each backend, in
 * fresh network namespaces in the same run, each first empty, then holding kubelet's and
 * kube-proxy's rules (see Host): seaway's full apply from empty (observe, plan, write)
 * next to the bare kernel tools loading the same rules and sets (`ipset restore` + one
 * `iptables-restore`, or one `nft -f`), as a ratio (goal, issue 16: within 1.2x); then a pass with nothing
 * to change (time, and its writes: goal 0), one cluster's subnets changed, and a drift check. seaway
 * makes its ipsets and writes their members over netlink, and a change of nft set elements too;
 * each such netlink call counts as a write and shows on the timeline.
 *
 *   node test/bench/filter.ts [--clusters 1000] [--subnets 10] [--trials 5]
 *   FILTER_BENCH_ONLY=legacy FILTER_BENCH_TIMELINE=1 ...   one variant; each process's start and end in the median runs
 *   FILTER_BENCH_SPAWN=child_process ...   both sides start the tools with Node's spawn, not the addon's posix_spawn the agent uses
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { run, type ExecOptions } from '../../src/kernel/exec.ts';
import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { nodeSpawner, posixSpawner, type Spawner } from '../../src/kernel/spawner.ts';
import { createFilterDriver, detectIptablesMode, KERNEL_FILTER_NETLINK, type FilterBackend } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import type { IptablesMode, ProcessRunner } from '../../src/kernel/iptables.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';
import { validateFilter } from '../../src/plan/filter-input.ts';
import { IPTABLES_TABLES, renderIptables } from '../../src/plan/filter-iptables.ts';
import { planIpsetRestore, renderIpsets } from '../../src/plan/filter-ipset.ts';
import { parseNftJson, renderNft, renderNftTable } from '../../src/plan/filter-nft.ts';
import { median, percentile, scaleArgs } from './bench-support.ts';

const scale = scaleArgs();
const { clusters, subnetsPerCluster, trials } = scale;

/** Remote cluster c's subnet s: distinct /24s in 100.64.0.0/10 onwards, none covering another. */
function remoteCidrs(changedCluster = -1): string[] {
  const cidrs: string[] = [];
  for (let c = 0; c < clusters; c++) {
    for (let s = 0; s < subnetsPerCluster; s++) {
      const i = c * subnetsPerCluster + s;
      cidrs.push(c === changedCluster ? `172.16.${s}.0/24` : `100.${64 + (i >> 8)}.${i & 255}.0/24`);
    }
  }
  return cidrs;
}

const NODES = 100;
const desired = (changedCluster = -1): DesiredFilter => ({
  localCidrs: ['10.1.0.0/16', '10.101.0.0/16'],
  remoteCidrs: remoteCidrs(changedCluster),
  nodeAddresses: Array.from({ length: NODES }, (_, i) => `192.168.${i >> 8}.${i & 255}/32`),
  cniAddress: '10.1.1.1',
  vxlanDevice: 'vx-submariner',
  vxlanPort: 4800,
  mssClamp: { mode: 'pmtu' },
});

type Variant = { name: string; backend: FilterBackend; mode: IptablesMode };
const VARIANTS: Variant[] = [
  { name: 'iptables (nft flavour)', backend: 'iptables', mode: 'nft' },
  { name: 'iptables (legacy flavour)', backend: 'iptables', mode: 'legacy' },
  { name: 'nftables', backend: 'nftables', mode: 'nft' },
];

/** The same rules and sets the driver writes, as the kernel tools' own input, one invocation per tool. */
function bareScripts(variant: Variant, defaultHash = false): { file: string; args: string[]; input: string }[] {
  const input = validateFilter(desired());
  if (variant.backend === 'nftables') return [{ file: 'nft', args: ['-f', '-'], input: renderNftTable(renderNft(input)) }];
  const rendered = renderIptables(input);
  const tables = IPTABLES_TABLES.map((table) => {
    const plan = rendered[table];
    const lines = [`*${table}`, ...plan.chains.map((c) => `:${c.name} - [0:0]`)];
    for (const j of plan.jumps) lines.push(j.position === 'first' ? `-I ${j.hook} 1 ${j.text.slice(`-A ${j.hook} `.length)}` : j.text);
    for (const c of plan.chains) lines.push(...c.rules.map((r) => r.text));
    return `${lines.join('\n')}\nCOMMIT\n`;
  }).join('');
  return [
    {
      file: 'ipset', args: ['-exist', 'restore'],
      input: planIpsetRestore(renderIpsets(input), new Map())!.replace(/hashsize \d+/g, defaultHash ? 'hashsize 1024' : '$&'),
    },
    { file: `iptables-${variant.mode}-restore`, args: ['--noflush'], input: tables },
  ];
}

interface TrialResult {
  ms: number;
  noChangeMs?: number;
  noChangeWrites?: number;
  oneClusterMs?: number;
  oneClusterWrites?: number;
  observeMs?: number;
  /** The full apply's processes: name, start and end in ms since the apply began. */
  timeline?: Span[];
}

interface Span { what: string; start: number; end: number }

/** How both sides start the tools: as the agent does (the addon's posix_spawn), or with Node's spawn. */
const SPAWN = process.env.FILTER_BENCH_SPAWN === 'child_process' ? 'child_process' : 'posix_spawn';

/** Runs inside a fresh namespace: times the work in this process, prints one JSON line. */
async function inside(spec: string): Promise<void> {
  const [which, index] = spec.split(':');
  const variant = VARIANTS[Number(index)]!;
  const spawner: Spawner = SPAWN === 'child_process' ? nodeSpawner : posixSpawner(loadIcmpAddon());
  const exec = (file: string, args: readonly string[], options: ExecOptions = {}) => run(file, args, { spawner, ...options });
  if (which === 'bare' || which === 'bare-default-hash') {
    const scripts = bareScripts(variant, which === 'bare-default-hash');
    const start = performance.now();
    const timeline: Span[] = [];
    for (const s of scripts) {
      const begun = performance.now() - start;
      await exec(s.file, s.args, { input: s.input });
      timeline.push({ what: [s.file, ...s.args.filter((a) => !a.startsWith('-'))].join(' '), start: begun, end: performance.now() - start });
    }
    console.log(JSON.stringify({ ms: performance.now() - start, timeline } satisfies TrialResult));
    return;
  }
  let writingCalls = 0;
  let spans: Span[] | null = null;
  let origin = 0;
  const counting: ProcessRunner = async (file, args, options) => {
    if (/-restore$/.test(file) || (file === 'nft' && args.includes('-f')) || (file === 'ipset' && args.includes('restore'))) writingCalls++;
    const start = performance.now() - origin;
    try {
      return await exec(file, args, options);
    } finally {
      spans?.push({ what: [file, ...args.filter((a) => !a.startsWith('-') && a !== '5')].join(' '), start, end: performance.now() - origin });
    }
  };
  const full = desired();
  const changed = desired(0);
  // As the agent makes its driver: it detects the host's iptables flavour first (two iptables-save
  // processes), so its first apply is not the process's first spawn, which costs Node a few ms more.
  // The flavour is then named, for the variant's sake (detection picks nft on an empty host).
  await detectIptablesMode(counting);
  // Sets and their members go over netlink: each such call is a write too, timed on the timeline.
  const counted = async (what: string, call: () => Promise<boolean>): Promise<boolean> => {
    writingCalls++;
    const start = performance.now() - origin;
    try {
      return await call();
    } finally {
      spans?.push({ what, start, end: performance.now() - origin });
    }
  };
  const netlink: FilterNetlink = {
    ...KERNEL_FILTER_NETLINK,
    ipsetCreate: (sets) => counted('netlink ipset create', () => KERNEL_FILTER_NETLINK.ipsetCreate(sets)),
    ipsetChangeMembers: (set, add, del) => counted(`netlink ipset members ${set}`, () => KERNEL_FILTER_NETLINK.ipsetChangeMembers(set, add, del)),
    nftChangeElements: (changes) => counted('netlink nft elements', () => KERNEL_FILTER_NETLINK.nftChangeElements(changes)),
    nftFillAndWake: (fill, tableMade) => counted('netlink nft fill and wake (encoded while nft runs)', () => KERNEL_FILTER_NETLINK.nftFillAndWake(fill, tableMade)),
  };
  const driver = await createFilterDriver(variant.backend, { run: counting, iptablesMode: variant.mode, netlink });
  spans = [];
  let start = origin = performance.now();
  await driver.apply(full);
  const ms = performance.now() - start;
  const timeline = spans;
  spans = null;
  writingCalls = 0;
  start = performance.now();
  const noChange = await driver.apply(full);
  const noChangeMs = performance.now() - start;
  if (noChange.writes !== writingCalls) throw new Error(`driver counted ${noChange.writes} writes, the runner saw ${writingCalls}`);
  const noChangeWrites = writingCalls;
  writingCalls = 0;
  start = performance.now();
  await driver.apply(changed);
  const oneClusterMs = performance.now() - start;
  const oneClusterWrites = writingCalls;
  start = performance.now();
  await driver.observe();
  const observeMs = performance.now() - start;
  console.log(JSON.stringify({ ms, noChangeMs, noChangeWrites, oneClusterMs, oneClusterWrites, observeMs, timeline } satisfies TrialResult));
}

/**
 * The host a trial's namespace starts as: `fresh` holds nothing (seaway reads no iptables flavour
 * that holds no table, so no iptables-save runs); `kube-proxy` holds what a node's own agents left
 * before seaway's first start, for both sides alike: kubelet's canary chains (iptables, in the
 * flavour's tables) and kube-proxy's rules, in iptables for the iptables variants and as its own nft
 * table for nftables (kube-proxy's nftables mode). seaway then reads iptables as it would on a node.
 */
type Host = 'fresh' | 'kube-proxy';
const HOSTS: readonly Host[] = ['fresh', 'kube-proxy'];

const KUBELET_CANARIES = ['mangle', 'nat', 'filter'].map((table) => `*${table}\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n`).join('');
/** About what kube-proxy's iptables mode holds with a handful of Services (the chains' shape, not their number). */
const KUBE_PROXY_IPTABLES = `*filter
:KUBE-FORWARD - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-DNS - [0:0]
:KUBE-SEP-DNS1 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS
-A KUBE-SVC-DNS -j KUBE-SEP-DNS1
-A KUBE-SEP-DNS1 -s 10.1.0.5/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-DNS1 -p udp -m udp -j DNAT --to-destination 10.1.0.5:53
COMMIT
`;
/** About what kube-proxy's nftables mode holds with a handful of Services. */
const KUBE_PROXY_NFT = `table ip kube-proxy {
  chain filter-forward {
    type filter hook forward priority -101; policy accept;
    ct state invalid drop
  }
  chain nat-prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump services
  }
  chain nat-output {
    type nat hook output priority -100; policy accept;
    jump services
  }
  chain nat-postrouting {
    type nat hook postrouting priority 100; policy accept;
    meta mark & 0x4000 == 0x4000 masquerade fully-random
  }
  chain services {
    ip daddr 10.96.0.10 udp dport 53 jump svc-dns
  }
  chain svc-dns {
    meta mark set meta mark | 0x4000
    meta l4proto udp dnat to 10.1.0.5:53
  }
}
`;

/** Makes the namespace the host `host` says, before either side's timed run starts. */
async function prepareHost(ns: string, variant: Variant, host: Host): Promise<void> {
  if (host === 'fresh') return;
  const exec = (file: string, args: string[], input: string) => run('ip', ['netns', 'exec', ns, file, ...args], { input });
  if (variant.backend === 'iptables') {
    await exec(`iptables-${variant.mode}-restore`, ['--noflush'], KUBELET_CANARIES + KUBE_PROXY_IPTABLES);
  } else {
    await exec('iptables-nft-restore', ['--noflush'], KUBELET_CANARIES);
    await exec('nft', ['-f', '-'], KUBE_PROXY_NFT);
  }
}

/** What the namespace holds afterwards, to check both sides loaded the same thing. */
async function loaded(ns: string, variant: Variant): Promise<{ members: number; rules: number }> {
  const exec = (file: string, args: string[]) => run('ip', ['netns', 'exec', ns, file, ...args]);
  if (variant.backend === 'nftables') {
    const table = parseNftJson((await exec('nft', ['-j', 'list', 'table', 'ip', 'seaway'])).stdout);
    const members = [...table.sets.values()].reduce((sum, set) => sum + set.members.size, 0);
    return { members, rules: [...table.chains.values()].reduce((sum, chain) => sum + chain.rules.length, 0) };
  }
  const sets = (await exec('ipset', ['save'])).stdout.split('\n').filter((l) => l.startsWith('add ')).length;
  const rules = (await exec(`iptables-${variant.mode}-save`, [])).stdout.split('\n').filter((l) => l.startsWith('-A SUBMARINER-')).length;
  return { members: sets, rules };
}

async function trial(variant: Variant, index: number, which: 'bare' | 'bare-default-hash' | 'seaway', host: Host): Promise<TrialResult & { members: number; rules: number }> {
  const ns = `swg-bench-${randomBytes(3).toString('hex')}`;
  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await prepareHost(ns, variant, host);
    const out = await run('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url),
      '--inside', `${which}:${index}`, '--clusters', String(clusters), '--subnets', String(subnetsPerCluster)]);
    const result = JSON.parse(out.stdout.trim().split('\n').pop()!) as TrialResult;
    return { ...result, ...(await loaded(ns, variant)) };
  } finally {
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
  }
}

const showTimeline = process.env.FILTER_BENCH_TIMELINE === '1';
/** Only the variants whose name contains this, e.g. FILTER_BENCH_ONLY=legacy. */
const only = process.env.FILTER_BENCH_ONLY;

const medianRun = (runs: TrialResult[]) => [...runs].sort((a, b) => a.ms - b.ms)[Math.ceil(runs.length / 2) - 1]!;

/** Where the time of one run went: each process from its spawn to its exit, in ms since the run began. */
function printTimeline(title: string, result: TrialResult): void {
  console.log(`      ${title} (${result.ms.toFixed(1)} ms): process, start -> end`);
  for (const span of result.timeline ?? []) {
    console.log(`        ${span.what.padEnd(36)} ${span.start.toFixed(1).padStart(6)} -> ${span.end.toFixed(1).padStart(6)} ms`);
  }
}

async function main(): Promise<void> {
  if (scale.inside) return inside(scale.inside);
  if (process.getuid?.() !== 0) throw new Error('the filter benchmark needs root (it creates network namespaces)');
  for (const tool of ['ip', 'ipset', 'iptables-nft-restore', 'iptables-legacy-restore', 'nft']) {
    if ((await run('sh', ['-c', 'command -v "$1"', 'sh', tool], { allowFailure: true })).code !== 0) {
      throw new Error(`missing ${tool}: apt-get install --no-install-recommends iproute2 ipset iptables nftables`);
    }
  }
  const subnets = clusters * subnetsPerCluster;
  // The two local CIDRs, the remote subnets, and the node addresses VXLAN is accepted from.
  const expectedMembers = 2 + subnets + NODES;
  console.log(`filter benchmark: ${clusters} remote clusters x ${subnetsPerCluster} subnets = ${subnets} remote CIDRs, ${trials} trials each, medians (fresh namespace per run); both sides start the tools with ${SPAWN === 'posix_spawn' ? 'the addon\'s posix_spawn, as the agent does' : 'Node\'s child_process spawn'}`);
  let worst = 0;
  for (const host of HOSTS) {
    console.log(host === 'fresh'
      ? '\non a fresh namespace (no table of any agent: seaway reads no iptables flavour that holds none)'
      : '\non a node as kubelet and kube-proxy leave it (their chains there for both sides: seaway reads iptables as on a node)');
    for (const [index, variant] of VARIANTS.entries()) {
      if (only && !variant.name.includes(only)) continue;
      worst = Math.max(worst, await measureVariant(variant, index, host, expectedMembers));
    }
  }
  console.log(`\nworst full-apply ratio ${worst.toFixed(2)}x (goal <= 1.2x)`);
}

/** Trials of one variant on one host, printed; returns its full-apply ratio. */
async function measureVariant(variant: Variant, index: number, host: Host, expectedMembers: number): Promise<number> {
  const fmt = (ms: number) => `${ms.toFixed(1).padStart(7)} ms`;
  const bare: number[] = [], bareDefaultHash: number[] = [], seaway: TrialResult[] = [], bareRuns: TrialResult[] = [];
  // ipset's default hashsize, for scale, on the fresh host only.
  const sides = variant.backend === 'iptables' && host === 'fresh' ? (['bare', 'seaway', 'bare-default-hash'] as const) : (['bare', 'seaway'] as const);
  for (let t = 0; t < trials; t++) {
    // Rotate the order so no side always runs on a warmer machine.
    const order = sides.map((_, i) => sides[(i + t) % sides.length]!);
    for (const which of order) {
      const result = await trial(variant, index, which, host);
      if (result.members !== expectedMembers) throw new Error(`${variant.name} ${which}: ${result.members} set members loaded, expected ${expectedMembers}`);
      if (which === 'bare') { bare.push(result.ms); bareRuns.push(result); }
      else if (which === 'bare-default-hash') bareDefaultHash.push(result.ms);
      else seaway.push(result);
    }
  }
  const pick = (key: keyof TrialResult) => seaway.map((r) => r[key] as number);
  const ratio = median(pick('ms')) / median(bare);
  const baseline = variant.backend === 'nftables' ? 'nft -f' : `ipset restore + iptables-${variant.mode}-restore`;
  console.log(`\n  ${variant.name}`);
  console.log(`    bare ${baseline.padEnd(40)} ${fmt(median(bare))}`);
  console.log(`    seaway full apply from empty ${''.padEnd(16)} ${fmt(median(pick('ms')))}  ratio ${ratio.toFixed(2)}x (goal <= 1.2x)  p95 ${fmt(percentile(pick('ms'), 95))}`);
  if (bareDefaultHash.length) {
    console.log(`    (for scale: the same restore with ipset's default hashsize 1024 ${fmt(median(bareDefaultHash))}; seaway sizes the hash for its members)`);
  }
  console.log(`    seaway no-change pass ${''.padEnd(23)} ${fmt(median(pick('noChangeMs')))}  writes ${Math.max(...pick('noChangeWrites'))} (goal 0)`);
  console.log(`    one cluster's 10 subnets replaced ${''.padEnd(11)} ${fmt(median(pick('oneClusterMs')))}  writes ${median(pick('oneClusterWrites'))}`);
  console.log(`    drift check (observe only) ${''.padEnd(18)} ${fmt(median(pick('observeMs')))}`);
  if (showTimeline) {
    printTimeline('bare, median run', medianRun(bareRuns));
    printTimeline('seaway full apply, median run', medianRun(seaway));
  }
  return ratio;
}

await main();
