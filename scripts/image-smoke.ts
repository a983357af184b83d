/**
 * The image's smoke test, run by scripts/image.sh on what it exported (a failure fails the build):
 *   node scripts/image-smoke.ts ROOTFS CONFIG_JSON
 * Everything runs from the image's root filesystem, chrooted in a private mount namespace
 * (scripts/in-image.ts), inside a throwaway network namespace (swt-img-*, never the machine's own),
 * with the entry point and environment of the image's config:
 *  - the entry point answers --help and version;
 *  - both native addons load with the image's libraries (netlink's binding, the ICMP probe);
 *  - the tools seaway runs are there and run; the daemons it starts (charon-systemd, wireguard-go)
 *    and the strongSwan plugins it loads exist and ldd resolves all their libraries (the daemons
 *    are never run here: wireguard-go --help would create an interface);
 *  - `seaway run` starts with an API server that is not there: it serves /healthz, says it is not
 *    ready (/readyz 503), keeps trying (still running 10 s later, with new list attempts), loaded
 *    the ICMP addon from the bundle, and exits 0 on SIGTERM. Its VmRSS and RssAnon are printed.
 * Needs root (namespaces, chroot).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, type ExecResult } from '../src/kernel/exec.ts';
import { charonPlugins } from '../src/plan/strongswan-conf.ts';
import { createNetns, type TestNetns } from '../test/helpers/netns.ts';
import { waitFor, within } from '../test/helpers/wait.ts';
import { imageEnvironment, inImageArgv, type InImageOptions } from './in-image.ts';
import type { ImageRunConfig } from './image-spec.ts';

const CHECK_TIMEOUT_MS = 30_000;
/** Where the agent serves /healthz inside the smoke namespace. */
const LISTEN = '127.0.0.1:9082';
/** Nothing listens there in a fresh namespace: every API request is refused at once. */
const UNREACHABLE_API = 'https://127.0.0.1:6443';
/** How long the agent must keep running against the missing API server, and when its memory is read. */
const STEADY_MS = 10_000;

/** The programs seaway runs (src/kernel/*), resolved on the image's PATH. */
const TOOLS = [
  'iptables-legacy', 'iptables-legacy-save', 'iptables-legacy-restore',
  'iptables-nft', 'iptables-nft-save', 'iptables-nft-restore',
  'nft', 'ipset', 'ip', 'unshare', 'mount', 'sh', 'wg',
];
const VERSION_CHECKS: ReadonlyArray<readonly string[]> = [
  ['iptables-legacy', '--version'], ['iptables-nft', '--version'], ['nft', '--version'], ['ipset', '--version'], ['wg', '--version'],
];
/** Never executed, only resolved by ldd: what seaway starts, and what the entry point loads. */
const DAEMONS = ['/usr/sbin/charon-systemd', '/usr/bin/wireguard-go'];
const APP_ADDONS = ['/app/node_modules/netlink/build/Release/netlink_binding.node', '/app/seaway_icmp.node'];

const ADDON_CHECK = `
const { createRequire } = require('node:module');
const req = createRequire('/app/seaway.mjs');
const netlink = req('netlink/dist/raw.js');
if (typeof netlink.RawNetlinkSocket !== 'function') throw new Error('netlink/dist/raw.js (what the bundle imports) has no RawNetlinkSocket');
const icmp = req('/app/seaway_icmp.node');
if (typeof icmp.IcmpSocket !== 'function' || typeof icmp.ECHO_BYTES !== 'number') throw new Error('the ICMP addon exports no IcmpSocket');
if (typeof icmp.mallocTrim() !== 'boolean') throw new Error('mallocTrim of the ICMP addon did not answer (glibc malloc_trim)');
const binding = req('node-gyp-build').resolve('/app/node_modules/netlink');
if (binding !== '/app/node_modules/netlink/build/Release/netlink_binding.node') throw new Error('netlink loads ' + binding + ', not its patched build');
console.log('addons loaded: netlink (' + binding + '), ICMP probe (ECHO_BYTES ' + icmp.ECHO_BYTES + ', mallocTrim)');
`;

function fail(message: string): never {
  throw new Error(message);
}

function readConfig(path: string): ImageRunConfig {
  const config = JSON.parse(readFileSync(path, 'utf8')) as Partial<ImageRunConfig>;
  if (!Array.isArray(config.Entrypoint) || config.Entrypoint.length === 0 || !Array.isArray(config.Env) || typeof config.WorkingDir !== 'string') {
    fail(`${path} is not an image run configuration (Entrypoint, Env, WorkingDir): run scripts/image.sh`);
  }
  return config as ImageRunConfig;
}

async function main(rootfsArg: string, configPath: string): Promise<void> {
  if (process.getuid?.() !== 0) fail('the image smoke test needs root (mount namespaces, chroot, network namespaces)');
  const rootfs = resolve(rootfsArg);
  const config = readConfig(configPath);
  const scratch = mkdtempSync(join(tmpdir(), 'seaway-image-smoke-'));
  // Every program of the image runs in this namespace, even a --version: none in the machine's own.
  let ns: TestNetns | undefined;
  // Interrupted (Ctrl-C, CI's deadline, a closed pipe), the namespace, the agent in it and the
  // scratch directory go all the same: signals skip the finally below.
  const interrupted = (signal: NodeJS.Signals) => {
    void (ns?.destroy() ?? Promise.resolve()).finally(() => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, interrupted);
  // A reader that goes away (| head) must not kill the test before it cleans up.
  process.stdout.on('error', () => {});
  try {
    ns = await createNetns('img');
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  const netns = ns;
  const where: InImageOptions = { rootfs, scratch, workingDir: config.WorkingDir };
  const inImage = (argv: readonly string[], extraEnv: Record<string, string> = {}): Promise<ExecResult> => {
    return run('ip', ['netns', 'exec', netns.name, ...inImageArgv(where, argv)], { env: imageEnvironment(config.Env, extraEnv), timeoutMs: CHECK_TIMEOUT_MS, allowFailure: true });
  };
  const expectOk = async (what: string, argv: readonly string[]): Promise<ExecResult> => {
    const result = await inImage(argv);
    const shown = argv.map((a) => (a.length > 60 ? `${a.slice(0, 57).replace(/\s+/g, ' ')}...` : a)).join(' ');
    if (result.code !== 0) fail(`${what}: ${shown} exited ${result.code}: ${(result.stderr || result.stdout).trim()}`);
    return result;
  };
  const ok = (line: string) => process.stdout.write(`image-smoke: ok: ${line}\n`);
  try {
    for (const args of [['--help'], ['run', '--help'], ['gateway', '--help']]) {
      const help = await expectOk('the entry point', [...config.Entrypoint, ...args]);
      if (!help.stdout.startsWith('Usage: seaway ')) fail(`the entry point's ${args.join(' ')} printed no usage: ${help.stdout.slice(0, 200)}`);
    }
    ok(`${config.Entrypoint.join(' ')} --help, run --help, gateway --help`);
    const version = (await expectOk('the entry point', [...config.Entrypoint, 'version'])).stdout.trim();
    const labelled = config.Labels['org.opencontainers.image.version'];
    if (version !== `seaway ${labelled}`) fail(`the entry point says ${JSON.stringify(version)}, the image's version label is ${JSON.stringify(labelled)}`);
    ok(version);

    ok((await expectOk('loading the addons', ['/usr/local/bin/node', '-e', ADDON_CHECK])).stdout.trim());

    const missing = (await inImage(['/bin/sh', '-c', 'for t; do command -v "$t" >/dev/null || echo "$t"; done', 'sh', ...TOOLS])).stdout.trim();
    if (missing) fail(`tools missing from the image's PATH: ${missing.split('\n').join(', ')}`);
    ok(`on PATH: ${TOOLS.join(' ')}`);
    for (const argv of VERSION_CHECKS) ok(`${argv[0]}: ${(await expectOk('a tool seaway runs', argv)).stdout.trim().split('\n')[0]}`);

    const plugins = [...new Set([...charonPlugins('libipsec'), ...charonPlugins('xfrm')])];
    const libraries = [...DAEMONS, config.Entrypoint[0]!, ...APP_ADDONS, ...plugins.map((p) => `/usr/lib/ipsec/plugins/libstrongswan-${p}.so`)];
    for (const file of libraries) {
      // ldd of a missing file fails; of a present one lists its libraries without running it.
      const ldd = await inImage(['ldd', file]);
      if (ldd.code !== 0) fail(`ldd ${file} in the image exited ${ldd.code}: ${(ldd.stderr || ldd.stdout).trim()}`);
      const unresolved = ldd.stdout.split('\n').filter((l) => l.includes('not found'));
      if (unresolved.length > 0) fail(`${file} in the image lacks libraries: ${unresolved.map((l) => l.trim()).join('; ')}`);
    }
    ok(`present, all libraries resolved: ${DAEMONS.join(', ')}, ${config.Entrypoint[0]}, the two addons, plugins ${plugins.join(' ')}`);

    await agentInNetns(config, where, netns);
  } finally {
    await netns.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Starts `seaway run` from the image in a fresh network namespace and checks it as described above. */
async function agentInNetns(config: ImageRunConfig, where: InImageOptions, ns: TestNetns): Promise<void> {
  writeFileSync(join(where.scratch, 'kubeconfig'), [
    'apiVersion: v1', 'kind: Config', 'current-context: smoke',
    'clusters:', '- name: absent', '  cluster:', `    server: ${UNREACHABLE_API}`, '    insecure-skip-tls-verify: true',
    'contexts:', '- name: smoke', '  context:', '    cluster: absent', '    user: smoke',
    'users:', '- name: smoke', '  user:', '    token: smoke-test', '',
  ].join('\n'));
  mkdirSync(join(where.scratch, 'state'));
  const logPath = join(where.scratch, 'agent.log');
  const logFd = openSync(logPath, 'a');
  const env = imageEnvironment(config.Env, {
    SEAWAY_CLUSTER_ID: 'smoke', SEAWAY_NODE_NAME: 'smoke-node', SEAWAY_POD_CIDRS: '10.128.0.0/16', SEAWAY_SERVICE_CIDRS: '10.129.0.0/16',
    SEAWAY_KUBECONFIG: '/tmp/kubeconfig', SEAWAY_STATE_DIR: '/tmp/state', SEAWAY_LISTEN: LISTEN,
  });
  // ip netns exec, unshare, sh and unshare --root each exec the next: the pid is the agent's.
  const child = spawn('ip', ['netns', 'exec', ns.name, ...inImageArgv(where, [...config.Entrypoint, ...config.Cmd, 'run'])], { stdio: ['ignore', logFd, logFd], env });
  closeSync(logFd);
  const pid = child.pid ?? fail('could not start the agent');
  let exit: string | null = null;
  const exited = new Promise<void>((done) => child.on('exit', (code, signal) => { exit = signal ?? String(code); done(); }));
  const log = () => readFileSync(logPath, 'utf8');
  const get = (path: string) => ns.exec(process.execPath, ['-e', `fetch('http://${LISTEN}${path}', { signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status))`], { allowFailure: true });
  /** The Node informer's restart count from /metrics: its list attempts after the first failed one. */
  const nodeRestarts = async (): Promise<number> => {
    const { stdout } = await ns.exec(process.execPath, ['-e', `fetch('http://${LISTEN}/metrics', { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).then((t) => process.stdout.write(t))`]);
    const value = /^seaway_informer_restarts_total\{informer="nodes"\} (\d+)$/m.exec(stdout)?.[1];
    return value === undefined ? fail(`/metrics has no seaway_informer_restarts_total for the nodes informer:\n${stdout.slice(0, 2000)}`) : Number(value);
  };
  /** SIGTERM, then SIGKILL if it is not gone within 20 s; the problem, or null for a clean exit 0. */
  const stop = async (): Promise<string | null> => {
    if (exit !== null) return `it had already exited (${exit})`;
    try { process.kill(pid, 'SIGTERM'); } catch { /* exited just now: its exit event tells how */ }
    try {
      await within(exited, 20_000, 'seaway run to exit on SIGTERM');
    } catch (error) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
      await exited;
      return (error as Error).message;
    }
    return exit === '0' ? null : `it exited ${exit} on SIGTERM, not 0`;
  };
  let stopped: string | null;
  try {
    // The probe answers 'exited' rather than throwing: waitFor would take a throw for a failed poll and go on.
    const up = await waitFor('/healthz of seaway run from the image to answer 200', async () => {
      if (exit !== null) return 'exited';
      return (await get('/healthz')).stdout.trim() === '200' && 'up';
    }, { timeoutMs: 30_000, intervalMs: 200 });
    if (up === 'exited') fail(`seaway run from the image exited (${exit}):\n${log()}`);
    process.stdout.write(`image-smoke: ok: seaway run from the image serves /healthz in ${ns.name} (pid ${pid})\n`);
    const readyz = (await get('/readyz')).stdout.trim();
    if (readyz !== '503') fail(`/readyz answered ${readyz || 'nothing'}, not 503, although the agent never reached its API server`);
    const restartsBefore = await nodeRestarts();
    // Fail-static against an API server that is not there: it keeps trying, it does not exit.
    const steady = Date.now() + STEADY_MS;
    const ran = await waitFor(`${STEADY_MS / 1000} s of seaway run against an unreachable API server`, () => {
      if (exit !== null) return 'exited';
      return Date.now() >= steady && 'ran';
    }, { timeoutMs: STEADY_MS + 5000, intervalMs: 250 });
    if (ran === 'exited') fail(`seaway run from the image exited (${exit}) while its API server was unreachable:\n${log()}`);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => /^\S+:\s+(\d+) kB/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[1];
    const mib = (kb: string | undefined) => (kb === undefined ? '?' : (Number(kb) / 1024).toFixed(1));
    const restartsAfter = await nodeRestarts();
    if (!(restartsAfter > restartsBefore)) fail(`the Node informer made no new attempt in ${STEADY_MS / 1000} s (restarts ${restartsBefore} -> ${restartsAfter}): it gave up`);
    const lines = log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; cause?: string });
    if (!lines.some((l) => l.msg === 'informer failing; retrying with backoff' && l.cause === 'unreachable')) {
      fail(`the agent did not log its unreachable API server:\n${log()}`);
    }
    const icmp = lines.find((l) => /health checks to the remote gateways are not possible/.test(l.msg ?? ''));
    if (icmp) fail(`the bundle did not load the ICMP addon: ${JSON.stringify(icmp)}`);
    process.stdout.write(`image-smoke: ok: still running after ${STEADY_MS / 1000} s with the API unreachable (Node list retries ${restartsBefore} -> ${restartsAfter}), /readyz ${readyz}, `
      + `VmRSS ${mib(field('VmRSS'))} MiB, RssAnon ${mib(field('RssAnon'))} MiB\n`);
  } finally {
    // Also when a check failed: the agent never outlives the smoke test (and its error stays the one reported).
    stopped = await stop();
  }
  if (stopped !== null) fail(`seaway run did not stop cleanly: ${stopped}:\n${log()}`);
  process.stdout.write('image-smoke: ok: seaway run stopped on SIGTERM (exit 0)\n');
}

const [rootfs, config, ...rest] = process.argv.slice(2);
if (rootfs === undefined || config === undefined || rest.length > 0) {
  process.stderr.write('usage: node scripts/image-smoke.ts ROOTFS CONFIG_JSON\n');
  process.exitCode = 2;
} else {
  main(rootfs, config).catch((error: unknown) => {
    process.stderr.write(`image-smoke: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
