/**
 * The charon supervisor with the real charon-systemd, each instance inside a throwaway network
 * namespace (kernel-libipsec makes a TUN device and a rule there, never in the root namespace),
 * and with a small stand-in daemon for the restart policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger } from '../helpers/capture-logger.ts';
import { createNetns, type TestNetns } from '../helpers/netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { CHARON_SYSTEMD_PATH, CharonStartError, CharonSupervisor, type CharonStart, type CharonSupervisorOptions, type SupervisorClock } from '../../src/kernel/charon.ts';
import { strongswanConf, type EspMode } from '../../src/plan/strongswan-conf.ts';

requireTools('ip', 'ss');
if (!existsSync(CHARON_SYSTEMD_PATH)) {
  throw new Error(`missing ${CHARON_SYSTEMD_PATH}: install with apt-get install --no-install-recommends charon-systemd libstrongswan-standard-plugins libcharon-extra-plugins`);
}

/** A namespace, a temporary directory and supervisors, all removed afterwards whatever happens. */
async function withScene(label: string, fn: (scene: Scene) => Promise<void>): Promise<void> {
  const ns = await createNetns(label);
  const dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
  const supervisors: CharonSupervisor[] = [];
  try {
    await fn(new Scene(ns, dir, supervisors));
  } finally {
    for (const supervisor of supervisors) await supervisor.stop();
    await ns.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

class Scene {
  readonly ns: TestNetns;
  readonly dir: string;
  readonly socket: string;
  readonly log = captureLogger();
  readonly #supervisors: CharonSupervisor[];
  constructor(ns: TestNetns, dir: string, supervisors: CharonSupervisor[]) {
    this.ns = ns;
    this.dir = dir;
    this.socket = join(dir, 'charon.vici');
    this.#supervisors = supervisors;
  }

  /** charon-systemd in the namespace; the options given replace the defaults. */
  supervisor(options: Partial<CharonSupervisorOptions> & { espMode?: EspMode } = {}): CharonSupervisor {
    const supervisor = new CharonSupervisor({
      stateDir: join(this.dir, 'state'),
      conf: strongswanConf({ espMode: options.espMode ?? 'libipsec', viciSocketPath: this.socket, routingTable: 150, routingTablePriority: 150 }),
      viciSocketPath: this.socket,
      logger: this.log.logger,
      command: this.inNamespace(CHARON_SYSTEMD_PATH),
      ...options,
    });
    this.#supervisors.push(supervisor);
    return supervisor;
  }

  inNamespace(file: string, ...args: string[]) {
    return { file: 'ip', args: ['netns', 'exec', this.ns.name, file, ...args] };
  }

  async pids(): Promise<number[]> {
    // Asked from outside: run inside, `ip netns pids` would list itself.
    const { stdout } = await run('ip', ['netns', 'pids', this.ns.name]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  }

  /** The daemon's own log lines, as the supervisor passed them on. */
  charonLines(): string[] {
    return this.log.lines.filter((line) => line.daemon === 'charon').map((line) => line.msg);
  }
}

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('charon-systemd with userspace ESP: ready, restarted after SIGKILL, stopped for good', async () => {
  await withScene('charon', async (scene) => {
    const starts: CharonStart[] = [];
    const restartCounts: number[] = [];
    const supervisor = scene.supervisor({ onStart: (start) => { starts.push(start); }, onRestart: (n) => restartCounts.push(n) });
    await supervisor.start();

    const first = supervisor.pid;
    assert.ok(first !== undefined);
    assert.deepEqual(starts, [{ pid: first, restarts: 0 }]);
    assert.ok(await connects(scene.socket), 'the VICI socket takes connections');
    assert.equal((await stat(supervisor.confPath)).mode & 0o777, 0o600);
    assert.match(await readFile(supervisor.confPath, 'utf8'), /socket = unix:\/\/.*charon\.vici/);

    // kernel-libipsec's TUN device and rule, in the namespace.
    const tun = (await scene.ns.exec('ip', ['-d', 'link', 'show', 'ipsec0'])).stdout;
    assert.match(tun, /mtu 1400 /);
    assert.match(tun, /^\s+tun type tun /m);
    assert.match((await scene.ns.exec('ip', ['rule', 'show'])).stdout, /^150:\s+from all lookup 150/m);
    // port = 0: UDP 500 stays closed, 4500 is open, and charon binds a random port for plain IKE instead.
    const ports = new Set((await scene.ns.exec('ss', ['-Hnlu'])).stdout.split('\n').filter(Boolean).map((line) => Number(line.trim().split(/\s+/)[3]!.split(':').pop())));
    assert.ok(ports.has(4500), `UDP ports: ${[...ports]}`);
    assert.ok(!ports.has(500), `UDP ports: ${[...ports]}`);
    assert.equal(ports.size, 2, `4500 and one random port, got ${[...ports]}`);
    // The daemon's log reached the agent's log, tagged, with the plugins in the order that matters.
    assert.ok(scene.charonLines().some((line) => /loaded plugins: .*kernel-libipsec kernel-netlink /.test(line)), scene.charonLines().join('\n'));

    process.kill(first, 'SIGKILL');
    await waitFor('the restarted charon to be announced', () => starts.length >= 2, { timeoutMs: 15_000 });
    const second = supervisor.pid;
    assert.ok(second !== undefined && second !== first);
    assert.deepEqual(starts[1], { pid: second, restarts: 1 });
    assert.equal(supervisor.restarts, 1);
    assert.deepEqual(restartCounts, [1]);
    assert.ok(await connects(scene.socket), 'the VICI socket takes connections again');
    await scene.ns.exec('ip', ['link', 'show', 'ipsec0']);
    assert.ok(scene.log.lines.some((line) => line.msg === 'charon exited; restarting it' && line.signal === 'SIGKILL' && line.charonPid === first));

    await supervisor.stop();
    assert.equal(supervisor.pid, undefined);
    assert.equal(alive(second), false, 'the daemon is gone (and reaped)');
    assert.deepEqual((await scene.pids()).filter((pid) => pid === first || pid === second), []);
    assert.equal(starts.length, 2);
    assert.equal(supervisor.restarts, 1);
    await assert.rejects(supervisor.start(), /stopped; make a new one/);
  });
});

test('a charon left behind by an agent that died is stopped before the next agent starts its own', async () => {
  await withScene('charon-o', async (scene) => {
    // The first agent: its restart loop pauses until stop(), so once its daemon dies nobody
    // restarts it, as if the agent had been SIGKILLed without taking its charon along.
    const dead = scene.supervisor({ clock: recordingClock(0) });
    await dead.start();
    const orphan = dead.pid;
    assert.ok(orphan !== undefined);
    assert.equal(await readFile(dead.pidPath, 'utf8'), `${orphan}\n`);
    assert.equal((await stat(dead.pidPath)).mode & 0o777, 0o600);
    assert.equal((await readFile(`/proc/${orphan}/comm`, 'utf8')).trim(), 'charon-systemd');

    const next = scene.supervisor({ stopTimeoutMs: 5_000 });
    await next.start();
    assert.equal(alive(orphan), false, 'the charon left behind is gone (and reaped)');
    const current = next.pid;
    assert.ok(current !== undefined && current !== orphan);
    assert.ok(await connects(scene.socket), 'the new charon answers on the socket');
    assert.deepEqual(await scene.pids(), [current], 'only the new charon runs in the namespace');
    // The new daemon holds UDP 4500 itself.
    assert.match((await scene.ns.exec('ss', ['-Hnlup', 'sport', '=', ':4500'])).stdout, new RegExp(`pid=${current},`));
    assert.equal(await readFile(next.pidPath, 'utf8'), `${current}\n`);
    assert.ok(scene.log.lines.some((line) => line.level === 40 && line.charonPid === orphan && /left behind by an earlier agent/.test(line.msg)), 'a warning names the old pid');
    assert.ok(!scene.log.lines.some((line) => /did not exit after SIGTERM/.test(line.msg)), 'SIGTERM was enough');

    await dead.stop();
    assert.equal(await readFile(next.pidPath, 'utf8'), `${current}\n`, 'the dead agent\'s stop leaves the new pid file alone');
    await next.stop();
    assert.equal(existsSync(next.pidPath), false, 'a clean stop removes the pid file');
  });
});

test('charon-systemd with kernel ESP (XFRM) starts from its conf, without a TUN device', async () => {
  await withScene('charon-x', async (scene) => {
    const supervisor = scene.supervisor({ espMode: 'xfrm' });
    await supervisor.start();
    assert.ok(await connects(scene.socket));
    const links = (await scene.ns.exec('ip', ['-o', 'link', 'show'])).stdout;
    assert.doesNotMatch(links, /ipsec0/);
    assert.ok(scene.charonLines().some((line) => /loaded plugins: .* kernel-netlink socket-default vici openssl/.test(line)));
    assert.ok(!scene.charonLines().some((line) => /kernel-libipsec/.test(line)));
    await supervisor.stop();
  });
});

test('a daemon that exits at once fails the start at once, with its exit code and the socket', async () => {
  await withScene('charon-f', async (scene) => {
    const supervisor = scene.supervisor({ command: { file: '/bin/false', args: [] }, readyTimeoutMs: 5_000 });
    await assert.rejects(supervisor.start(), (error: unknown) => {
      assert.ok(error instanceof CharonStartError);
      assert.match(error.message, new RegExp(`^charon \\(/bin/false\\) exited with code 1 before its VICI socket ${scene.socket} took a connection; last log lines: \\(none\\)$`));
      assert.deepEqual(error.exit, { code: 1, signal: null });
      return true;
    });
    assert.equal(supervisor.pid, undefined);
  });
});

test('a conf charon rejects fails the start with charon\'s own words', async () => {
  await withScene('charon-c', async (scene) => {
    const supervisor = scene.supervisor({ conf: 'charon {\n  load = random\n', readyTimeoutMs: 5_000 });
    await assert.rejects(supervisor.start(), (error: unknown) => {
      assert.ok(error instanceof CharonStartError);
      assert.match(error.message, /exited with code 66 before its VICI socket/);
      assert.match(error.message, /invalid config file '.*strongswan\.conf'/);
      assert.ok(error.lastLines.some((line) => /abort initialization due to invalid configuration/.test(line)));
      return true;
    });
  });
});

test('a daemon that never opens its socket is stopped at the deadline, and the error says so', async () => {
  await withScene('charon-t', async (scene) => {
    const supervisor = scene.supervisor({ command: scene.inNamespace('/bin/sleep', '60'), readyTimeoutMs: 300, stopTimeoutMs: 2_000 });
    await assert.rejects(supervisor.start(), new RegExp(`did not open its VICI socket ${scene.socket} within 300 ms`));
    assert.deepEqual(await scene.pids(), [], 'nothing runs in the namespace any more');
  });
});

test('a program that does not exist fails the start with the reason', async () => {
  await withScene('charon-m', async (scene) => {
    const supervisor = scene.supervisor({ command: { file: '/nonexistent/charon', args: [] } });
    await assert.rejects(supervisor.start(), /charon \(\/nonexistent\/charon\) could not be started \(spawn \/nonexistent\/charon ENOENT\)/);
    // A failed start may be tried again.
    await assert.rejects(supervisor.start(), /could not be started/);
  });
});

/**
 * A stand-in daemon: listens on the socket given, and exits (code 3) right after its first
 * connection (the supervisor's readiness check); with a run-count file, only its first run does,
 * later ones exit 1 at once.
 */
const STAND_IN = `
const net = require('node:net');
const fs = require('node:fs');
const [socket, counter] = process.argv.slice(1);
if (counter) {
  const runs = (fs.existsSync(counter) ? Number(fs.readFileSync(counter, 'utf8')) : 0) + 1;
  fs.writeFileSync(counter, String(runs));
  if (runs > 1) process.exit(1);
}
net.createServer((c) => { c.destroy(); setTimeout(() => process.exit(3), 20); }).listen(socket);
`;

/** Records each pause; the first `free` return at once, later ones last until the supervisor stops. */
function recordingClock(free: number): SupervisorClock & { pauses: number[]; time: number } {
  const clock = {
    pauses: [] as number[],
    time: 0,
    now: () => clock.time,
    sleep: async (ms: number, signal: AbortSignal) => {
      clock.pauses.push(ms);
      if (clock.pauses.length <= free) return;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  return clock;
}

test('restart pauses double after each death and start over after a minute of stable running', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
  const socket = join(dir, 'fake.vici');
  const { logger, lines } = captureLogger();
  const clock = recordingClock(3);
  const starts: CharonStart[] = [];
  const supervisor = new CharonSupervisor({
    stateDir: dir, conf: '# unused\n', viciSocketPath: socket, logger, clock, random: () => 1,
    command: { file: process.execPath, args: ['-e', STAND_IN, socket] },
    onStart: (start) => {
      starts.push(start);
      if (starts.length === 2) throw new Error('loading connections failed');
      // The third daemon counts as having run a minute when it dies.
      if (starts.length === 3) clock.time += 60_000;
    },
  });
  try {
    await supervisor.start();
    await waitFor('the fourth pause', () => clock.pauses.length === 4);
    // random () => 1 takes the top of each range: 100, 200, then back to 100 after the stable run.
    assert.deepEqual(clock.pauses, [100, 200, 100, 200]);
    assert.deepEqual(starts.map((s) => s.restarts), [0, 1, 2, 3]);
    assert.equal(new Set(starts.map((s) => s.pid)).size, 4);
    assert.equal(supervisor.restarts, 3);
    assert.ok(lines.some((line) => line.msg === 'onStart failed for the running charon' && line.err === 'loading connections failed'));
    assert.ok(lines.filter((line) => line.msg === 'charon exited; restarting it').every((line) => line.code === 3));
  } finally {
    await supervisor.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('restarts that fail are tried again and again, never given up, until stop()', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
  const socket = join(dir, 'fake.vici');
  const counter = join(dir, 'runs');
  const { logger, lines } = captureLogger();
  const clock = recordingClock(4);
  const starts: CharonStart[] = [];
  const supervisor = new CharonSupervisor({
    stateDir: dir, conf: '# unused\n', viciSocketPath: socket, logger, clock, random: () => 1,
    backoff: { minMs: 100, maxMs: 400 },
    command: { file: process.execPath, args: ['-e', STAND_IN, socket, counter] },
    onStart: (start) => { starts.push(start); },
  });
  try {
    await supervisor.start();
    await waitFor('the fifth pause', () => clock.pauses.length === 5);
    assert.deepEqual(clock.pauses, [100, 200, 400, 400, 400]);
    assert.equal(starts.length, 1);
    assert.equal(supervisor.restarts, 4);
    assert.equal(Number(await readFile(counter, 'utf8')), 5);
    const failures = lines.filter((line) => line.msg === 'charon did not come back; trying again');
    assert.equal(failures.length, 4);
    assert.match(String(failures[0]!.err), /exited with code 1 before its VICI socket/);
    await supervisor.stop();
    assert.equal(supervisor.pid, undefined);
  } finally {
    await supervisor.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the conf is written 0600 even over a file that was readable by all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
  const socket = join(dir, 'fake.vici');
  const supervisor = new CharonSupervisor({
    stateDir: dir, conf: '# the conf\n', viciSocketPath: socket, logger: captureLogger().logger,
    command: { file: process.execPath, args: ['-e', 'require("node:net").createServer().listen(process.argv[1])', socket] },
  });
  try {
    await writeFile(supervisor.confPath, 'old', { mode: 0o644 });
    await supervisor.start();
    assert.equal((await stat(supervisor.confPath)).mode & 0o777, 0o600);
    assert.equal(await readFile(supervisor.confPath, 'utf8'), '# the conf\n');
  } finally {
    await supervisor.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

/** A node stand-in that only listens on its socket (the supervisor's readiness check). */
const LISTENER = 'require("node:net").createServer().listen(process.argv[1])';

/** Runs fn with a temporary directory and the processes it starts, all removed afterwards. */
async function withProcesses(fn: (dir: string, start: (file: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<ChildProcess>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
  const started: ChildProcess[] = [];
  try {
    await fn(dir, async (file, args, env = {}) => {
      const child = spawn(file, args, { stdio: 'ignore', env: { PATH: process.env.PATH, ...env } });
      started.push(child);
      await new Promise<void>((resolve, reject) => { child.once('spawn', resolve); child.once('error', reject); });
      return child;
    });
  } finally {
    for (const child of started) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** A copy of sleep named charon, so /proc/<pid>/comm says charon; it ignores SIGTERM when asked to. */
async function fakeCharon(dir: string, start: (file: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<ChildProcess>, conf: string, ignoreTerm: boolean): Promise<ChildProcess> {
  const file = join(dir, 'charon');
  if (!existsSync(file)) await copyFile('/usr/bin/sleep', file);
  // An ignored signal stays ignored across exec; exec keeps the pid.
  const child = await start('/bin/sh', ['-c', `${ignoreTerm ? 'trap "" TERM; ' : ''}exec "$0" 60`, file], { STRONGSWAN_CONF: conf });
  await waitFor('the fake charon to be exec\'d', async () => (await readFile(`/proc/${child.pid}/comm`, 'utf8')).trim() === 'charon');
  return child;
}

function supervisorIn(dir: string, logger = captureLogger().logger, options: Partial<CharonSupervisorOptions> = {}): CharonSupervisor {
  const socket = join(dir, 'fake.vici');
  return new CharonSupervisor({
    stateDir: join(dir, 'state'), conf: '# unused\n', viciSocketPath: socket, logger,
    command: { file: process.execPath, args: ['-e', LISTENER, socket] },
    ...options,
  });
}

test('a pid file naming a process that is not our charon is removed, and that process is left alone', async () => {
  await withProcesses(async (dir, start) => {
    const { logger, lines } = captureLogger();
    const sleeper = await start('/usr/bin/sleep', ['60']);
    const dead = await start('/bin/true', []);
    await new Promise((resolve) => { if (dead.exitCode !== null) resolve(undefined); else dead.once('exit', resolve); });
    const probe = supervisorIn(dir); // for its paths only
    const otherCharon = await fakeCharon(dir, start, join(dir, 'elsewhere', 'strongswan.conf'), false);
    const cases: [string, RegExp][] = [
      [`${sleeper.pid}\n`, new RegExp(`pid ${sleeper.pid}, which is not a charon \\(sleep\\)`)],
      [`${dead.pid}\n`, new RegExp(`pid ${dead.pid}, which is gone`)],
      [`${otherCharon.pid}\n`, new RegExp(`pid ${otherCharon.pid}, a charon with another STRONGSWAN_CONF`)],
      ['garbage', /names no pid/],
    ];
    for (const [content, said] of cases) {
      await rm(join(dir, 'state'), { recursive: true, force: true });
      await mkdir(join(dir, 'state'), { mode: 0o700 });
      await writeFile(probe.pidPath, content, { mode: 0o600 });
      const supervisor = supervisorIn(dir, logger, { stopTimeoutMs: 200 });
      try {
        await supervisor.start();
        assert.equal(await readFile(supervisor.pidPath, 'utf8'), `${supervisor.pid}\n`, 'the new daemon\'s pid replaces it');
        assert.equal((await stat(supervisor.pidPath)).mode & 0o777, 0o600);
        assert.ok(lines.some((line) => line.msg.startsWith('removing a stale charon pid file') && said.test(line.msg)), `${content}: ${lines.map((l) => l.msg).join(' | ')}`);
      } finally {
        await supervisor.stop();
      }
      assert.equal(existsSync(supervisor.pidPath), false, 'a clean stop removes the pid file');
    }
    assert.ok(!lines.some((line) => /left behind/.test(line.msg)), 'nothing was stopped');
    assert.equal(alive(sleeper.pid!), true, 'the sleep is still running');
    assert.equal(alive(otherCharon.pid!), true, 'the other charon is still running');
    assert.equal(sleeper.exitCode ?? sleeper.signalCode, null);
    assert.equal(otherCharon.exitCode ?? otherCharon.signalCode, null);
  });
});

test('a charon left behind that ignores SIGTERM gets SIGKILL after stopTimeoutMs', async () => {
  await withProcesses(async (dir, start) => {
    const { logger, lines } = captureLogger();
    const supervisor = supervisorIn(dir, logger, { stopTimeoutMs: 300 });
    const stubborn = await fakeCharon(dir, start, supervisor.confPath, true);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => stubborn.once('exit', (_code, signal) => resolve(signal)));
    await mkdir(join(dir, 'state'), { mode: 0o700 });
    await writeFile(supervisor.pidPath, `${stubborn.pid}\n`, { mode: 0o600 });
    try {
      await supervisor.start();
      assert.equal(await exited, 'SIGKILL');
      assert.ok(lines.some((line) => line.level === 40 && line.charonPid === stubborn.pid && /left behind by an earlier agent is still running/.test(line.msg)));
      assert.ok(lines.some((line) => line.charonPid === stubborn.pid && /did not exit after SIGTERM; killing it/.test(line.msg)));
      assert.equal(await readFile(supervisor.pidPath, 'utf8'), `${supervisor.pid}\n`);
    } finally {
      await supervisor.stop();
    }
  });
});
