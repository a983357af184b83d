import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type ExecResult } from '../../src/kernel/exec.ts';
import { requireTools } from './prereq.ts';
import { waitFor, within } from './wait.ts';

/**
 * Debian's libreswan (pluto + whack), unpacked by scripts/bootstrap.sh into node_modules and never
 * installed (the package conflicts with strongSwan's), run privately inside a test namespace the
 * way Submariner's libreswan cable driver runs it.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where bootstrap unpacks the libreswan .deb. */
export const LIBRESWAN_DIR = join(projectRoot, 'node_modules/.seaway-libreswan');
export const LIBRESWAN_LIBEXEC = join(LIBRESWAN_DIR, 'usr/libexec');
export const PLUTO = join(LIBRESWAN_LIBEXEC, 'ipsec/pluto');
export const WHACK = join(LIBRESWAN_LIBEXEC, 'ipsec/whack');
/**
 * pluto 4.10 execs this fixed path (IPSEC_EXECDIR "/addconn") at start-up and dies when it is
 * missing; startPluto bind-mounts it for pluto alone, so in the root mount namespace it must stay absent.
 */
export const PLUTO_FIXED_ADDCONN = '/usr/libexec/ipsec/addconn';

/** Fails (never skips) naming what to run when the unpacked libreswan or its libraries are missing. */
export function requireLibreswan(): void {
  requireTools('ip', 'certutil', 'sh', 'mount');
  const bins = [PLUTO, WHACK, join(LIBRESWAN_LIBEXEC, 'ipsec/addconn')];
  const absent = bins.filter((bin) => !existsSync(bin));
  if (absent.length > 0) {
    throw new Error(`libreswan is not unpacked (missing ${absent.join(', ')}): run npm run bootstrap (as root; it runs apt-get download libreswan and unpacks it into ${LIBRESWAN_DIR}, never installing it)`);
  }
  let ldd = '';
  try { ldd = execFileSync('ldd', bins, { encoding: 'utf8' }); } catch (error) { ldd = String((error as { stdout?: string }).stdout ?? error); }
  const unresolved = ldd.split('\n').filter((line) => line.includes('not found')).map((line) => line.trim());
  if (unresolved.length > 0) {
    throw new Error(`libreswan's binaries lack libraries (${unresolved.join('; ')}): run npm run bootstrap (it installs libreswan's runtime dependencies)`);
  }
}

export interface PlutoOptions {
  /** Network namespace to run in. */
  ns: string;
  /** A private directory (created if needed) for the run dir, NSS database, config, secrets and log. */
  dir: string;
  /** Written to the secrets file as Submariner does: `%any %any : PSK "<psk>"`. */
  psk: string;
  /** Extra pluto arguments (e.g. ['--debug', 'base']). */
  extraArgs?: readonly string[];
}

export interface Pluto {
  pid: number;
  dir: string;
  /** The control socket whack talks to. */
  ctlSocket: string;
  /** pluto's stdout and stderr (--stderrlog). */
  logFile: string;
  /** The full pluto command line (after the namespace and mount set-up). */
  argv: readonly string[];
  /** Runs the whack binary (inside the namespace) with `--ctlsocket` and the given arguments. */
  whack(args: readonly string[], options?: { allowFailure?: boolean; timeoutMs?: number }): Promise<ExecResult>;
  /** The log so far. */
  log(): Promise<string>;
  /** Whether pluto is still running. */
  readonly running: boolean;
  /** Stops pluto (SIGTERM by pid, SIGKILL past a deadline) and waits for it; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts pluto in the foreground inside the namespace with everything private. pluto 4.10 insists
 * on executing /usr/libexec/ipsec/addconn, so the unpacked usr/libexec is bind-mounted over
 * /usr/libexec in the mount namespace `ip netns exec` already makes private for it (the root
 * mount namespace is untouched); PATH leads with the unpacked usr/sbin so its updown calls
 * (`ipsec _updown`) reach libreswan's `ipsec`, not strongSwan's.
 */
export async function startPluto({ ns, dir, psk, extraArgs = [] }: PlutoOptions): Promise<Pluto> {
  requireLibreswan();
  const runDir = join(dir, 'run');
  const nssDir = join(dir, 'nss');
  const ipsecDir = join(dir, 'ipsec.d');
  for (const d of [runDir, nssDir, ipsecDir]) await mkdir(d, { recursive: true, mode: 0o700 });
  const config = join(dir, 'ipsec.conf');
  const secrets = join(dir, 'ipsec.secrets');
  const logFile = join(dir, 'pluto.log');
  const ctlSocket = join(runDir, 'pluto.ctl');
  // The config only feeds the addconn pluto forks (`--autoall`: nothing to add); all else is on the command line.
  await writeFile(config, 'config setup\n', { mode: 0o600 });
  await writeFile(secrets, `%any %any : PSK "${psk}"\n`, { mode: 0o600 });
  await run('certutil', ['-N', '-d', `sql:${nssDir}`, '--empty-password']);

  const argv = [
    PLUTO, '--nofork', '--stderrlog',
    '--config', config, '--rundir', runDir, '--nssdir', nssDir, '--ipsecdir', ipsecDir,
    '--secretsfile', secrets, '--dumpdir', runDir,
    ...extraArgs,
  ];
  const logFd = openSync(logFile, 'a', 0o600);
  // The script is constant; paths travel as arguments ($0 the source, "$@" the command).
  const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', 'mount --bind "$0" /usr/libexec && exec "$@"', LIBRESWAN_LIBEXEC, ...argv], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, PATH: `${join(LIBRESWAN_DIR, 'usr/sbin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
  });
  closeSync(logFd);
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolvePromise) => {
    child.once('close', (code, signal) => { exitStatus = signal ?? String(code); resolvePromise(); });
    child.once('error', (error) => { exitStatus = error.message; resolvePromise(); });
  });
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const whack: Pluto['whack'] = (args, options = {}) =>
    run('ip', ['netns', 'exec', ns, WHACK, '--ctlsocket', ctlSocket, ...args], { allowFailure: options.allowFailure, timeoutMs: options.timeoutMs ?? 10_000 });
  let stopping: Promise<void> | undefined;
  const pluto: Pluto = {
    pid: child.pid ?? -1,
    dir,
    ctlSocket,
    logFile,
    argv,
    whack,
    log,
    get running() { return exitStatus === undefined; },
    stop() {
      stopping ??= (async () => {
        const signal = (sig: NodeJS.Signals) => {
          if (exitStatus === undefined && child.pid !== undefined) try { process.kill(child.pid, sig); } catch { /* gone */ }
        };
        signal('SIGTERM');
        try {
          await within(exited, 5000, 'pluto to exit after SIGTERM');
        } catch {
          signal('SIGKILL');
          await within(exited, 2000, 'pluto to exit after SIGKILL');
        }
      })();
      return stopping;
    },
  };
  try {
    await waitFor('pluto to answer whack --status on its private control socket', async () => {
      if (exitStatus !== undefined) throw new Error(`pluto exited (${exitStatus}): ${(await log()).split('\n').slice(-8).join('\n')}`);
      if (!existsSync(ctlSocket)) return false;
      return (await whack(['--status'], { allowFailure: true })).code === 0;
    }, { timeoutMs: 15_000, intervalMs: 100 });
  } catch (error) {
    await pluto.stop();
    throw error;
  }
  return pluto;
}

/** One Submariner connection between two gateways, from the local gateway's point of view. */
export interface SubmarinerConnection {
  /** Connection name (Submariner: `<cable name>-v4-<local subnet index>-<remote subnet index>`). */
  name: string;
  /** The local gateway's private IP: both its IKE identity and its host address. */
  localIp: string;
  localSubnet: string;
  /** The remote gateway's private IP: its IKE identity. */
  remoteId: string;
  /** The address to reach the remote gateway at (its private or public IP, as NAT discovery chose). */
  remoteIp: string;
  remoteSubnet: string;
  /** NAT-T port of both ends (Submariner's CE_IPSEC_NATTPORT, default 4500). */
  ikePort?: number;
  /** Appended to the connect arguments, for experiments beyond Submariner's (e.g. ['--no-esn']). */
  extraConnectArgs?: readonly string[];
}

/**
 * The `whack` arguments Submariner's libreswan cable driver uses in bidirectional mode (both
 * gateways initiate), in the form of the releases without `--encaps`/`--ipv4`.
 */
export function submarinerWhackArgs(c: SubmarinerConnection): { connect: string[]; route: string[]; initiate: string[] } {
  const port = String(c.ikePort ?? 4500);
  return {
    connect: [
      '--psk', '--encrypt', '--name', c.name,
      '--id', c.localIp, '--host', c.localIp, '--client', c.localSubnet, '--ikeport', port,
      '--to',
      '--id', c.remoteId, '--host', c.remoteIp, '--client', c.remoteSubnet, '--ikeport', port,
      '--dpdaction=hold', '--dpddelay', '30',
      ...(c.extraConnectArgs ?? []),
    ],
    route: ['--route', '--name', c.name],
    initiate: ['--initiate', '--asynchronous', '--name', c.name],
  };
}

/**
 * Does what Submariner's ConnectToEndpoint does with pluto: listen, add the connection, route it,
 * initiate. `beforeInitiate` runs between route and initiate (e.g. to make the peer initiate too).
 */
export async function submarinerConnect(
  pluto: Pluto,
  c: SubmarinerConnection,
  { beforeInitiate }: { beforeInitiate?: () => Promise<void> } = {},
): Promise<{ listen: ExecResult; connect: ExecResult; route: ExecResult; initiate: ExecResult }> {
  const args = submarinerWhackArgs(c);
  const listen = await pluto.whack(['--listen']);
  const connect = await pluto.whack(args.connect);
  const route = await pluto.whack(args.route);
  await beforeInitiate?.();
  const initiate = await pluto.whack(args.initiate);
  return { listen, connect, route, initiate };
}
