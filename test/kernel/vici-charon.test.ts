/**
 * ViciClient against the real charon (charon-systemd) running in a throwaway network namespace,
 * configured by a temporary strongswan.conf whose vici socket lives in a temp dir.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ViciClient, ViciCommandError, ViciUnknownCommandError, connectUnix, expectSuccess, type ViciSection,
} from '../../src/kernel/vici/client.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { createNetns, type TestNetns } from '../helpers/netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor, within } from '../helpers/wait.ts';

const CHARON = '/usr/sbin/charon-systemd';
const CONN = 'seaway-test';
const PSK_ID = 'seaway-test-psk';

const strongswanConf = (socket: string) => `charon-systemd {
  load = random nonce aes sha1 sha2 hmac gmp kdf kernel-libipsec kernel-netlink socket-default vici
  port = 0
  port_nat_t = 4500
  filelog { stderr { default = 1 } }
  plugins { vici { socket = unix://${socket} } }
}
`;

const connection = (proposals: string[]) => ({
  [CONN]: {
    version: '2', local_addrs: ['198.18.0.1'], remote_addrs: ['198.18.0.2'], local_port: '4500', remote_port: '4500', proposals,
    local: { auth: 'psk', id: '198.18.0.1' }, remote: { auth: 'psk', id: '198.18.0.2' },
    children: { c: { local_ts: ['10.1.0.0/16'], remote_ts: ['10.2.0.0/16'], esp_proposals: ['aes256-sha256'], start_action: 'none' } },
  },
});

/** charon, started by pid inside the namespace, with its log kept for failure messages. */
interface Charon {
  child: ChildProcess;
  log: () => string;
  exited: Promise<void>;
}

function startCharon(ns: TestNetns, confPath: string): Charon {
  const child = spawn('ip', ['netns', 'exec', ns.name, CHARON], {
    env: { ...process.env, STRONGSWAN_CONF: confPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => { log = (log + chunk.toString('utf8')).slice(-16_384); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('error', (error) => { log += `\nspawn failed: ${error.message}`; });
  return { child, log: () => log, exited };
}

/** SIGTERM, then SIGKILL if charon is still there after a few seconds. By pid only. */
async function stopCharon(charon: Charon): Promise<void> {
  const { child } = charon;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  try {
    await within(charon.exited, 5000, 'charon to exit after SIGTERM');
  } catch {
    child.kill('SIGKILL');
    await within(charon.exited, 5000, 'charon to exit after SIGKILL');
  }
}

const accepts = (path: string) => new Promise<boolean>((resolve) => {
  const socket = connect(path);
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => { socket.destroy(); resolve(false); });
});

async function waitForVici(charon: Charon, socket: string): Promise<void> {
  await waitFor('charon to accept connections on its vici socket', async () => {
    if (charon.child.exitCode !== null || charon.child.signalCode !== null) {
      throw new Error(`charon exited (${charon.child.exitCode ?? charon.child.signalCode}) before its vici socket came up:\n${charon.log()}`);
    }
    return accepts(socket);
  }, { timeoutMs: 15_000, intervalMs: 50 }).catch((error: Error) => {
    throw new Error(`${error.message}\ncharon's log:\n${charon.log()}`);
  });
}

describe('ViciClient with charon', () => {
  let dir: string | undefined;
  let ns: TestNetns | undefined;
  let charon: Charon | undefined;
  let client: ViciClient;
  let socket: string;
  let confPath: string;
  const { logger, lines } = captureLogger();

  before(async () => {
    requireTools('ip');
    if (!existsSync(CHARON)) throw new Error(`missing ${CHARON}: install with apt-get install --no-install-recommends charon-systemd (or run npm run bootstrap)`);
    dir = await mkdtemp(join(tmpdir(), 'seaway-charon-'));
    socket = join(dir, 'charon.vici');
    confPath = join(dir, 'strongswan.conf');
    await writeFile(confPath, strongswanConf(socket));
    ns = await createNetns('vici');
    charon = startCharon(ns, confPath);
    await waitForVici(charon, socket);
    client = new ViciClient({ connect: connectUnix(socket), timeoutMs: 10_000, reconnect: { minMs: 50, maxMs: 500 }, logger });
  });

  after(async () => {
    client?.close();
    try {
      if (charon) await stopCharon(charon);
    } finally {
      await ns?.destroy();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  it('version: charon answers with its name and version', async () => {
    const version = await client.request('version');
    assert.match(String(version.daemon), /^charon/);
    assert.match(String(version.version), /^\d+\.\d+\.\d+/);
    assert.equal(version.sysname, 'Linux');
  });

  it('an unknown command rejects with ViciUnknownCommandError', async () => {
    await assert.rejects(client.request('no-such-command'), (error: unknown) => {
      assert.ok(error instanceof ViciUnknownCommandError);
      assert.equal(error.message, 'vici: unknown command "no-such-command"');
      return true;
    });
    assert.ok((await client.request('version')).daemon, 'the connection is still usable');
  });

  it('load-shared takes a binary PSK with two owners', async () => {
    const psk = Buffer.from([0x00, 0x01, 0xfe, 0xff, ...Buffer.from('a test psk, never logged')]);
    expectSuccess(await client.request('load-shared', { id: PSK_ID, type: 'IKE', data: psk, owners: ['198.18.0.1', '198.18.0.2'] }), 'load-shared');
    const shared = await client.request('get-shared');
    assert.deepEqual(shared.keys, [PSK_ID]);
  });

  it('load-conn loads a connection; get-conns and list-conns show it', async () => {
    expectSuccess(await client.request('load-conn', connection(['aes256-sha256-modp2048'])), 'load-conn');
    assert.deepEqual((await client.request('get-conns')).conns, [CONN]);
    const { events, response } = await client.stream('list-conns', 'list-conn');
    assert.deepEqual(response, {});
    assert.equal(events.length, 1);
    const listed = events[0]![CONN] as ViciSection;
    assert.deepEqual(listed.local_addrs, ['198.18.0.1']);
    assert.deepEqual(listed.remote_addrs, ['198.18.0.2']);
    assert.equal(listed.version, 'IKEv2');
    const child = (listed.children as ViciSection).c as ViciSection;
    assert.deepEqual(child['local-ts'], ['10.1.0.0/16']);
    assert.deepEqual(child['remote-ts'], ['10.2.0.0/16']);
  });

  it('load-conn with a nonsense proposal fails with charon\'s errmsg', async () => {
    const answer = await client.request('load-conn', { 'seaway-bad': connection(['nonsense-xyz'])[CONN] });
    assert.throws(() => expectSuccess(answer, 'load-conn'), (error: unknown) => {
      assert.ok(error instanceof ViciCommandError);
      assert.match(error.errmsg ?? '', /\S/, 'charon says why');
      assert.match(error.message, /^vici command "load-conn" failed: /);
      return true;
    });
    assert.deepEqual((await client.request('get-conns')).conns, [CONN], 'the bad connection was not loaded');
  });

  it('list-sas streams no events when there are no SAs', async () => {
    assert.deepEqual(await client.stream('list-sas', 'list-sa'), { events: [], response: {} });
  });

  it('initiate of a missing child streams control-log and answers success=no', async () => {
    const { response } = await client.stream('initiate', 'control-log', { child: 'nosuch', timeout: '1000' });
    assert.throws(() => expectSuccess(response, 'initiate'), { errmsg: "CHILD_SA config 'nosuch' not found" });
  });

  it('subscribes to ike-updown and unsubscribes', async () => {
    const unsubscribe = await client.subscribe('ike-updown', () => {});
    await unsubscribe();
    assert.ok((await client.request('version')).daemon);
  });

  it('unload-conn removes the connection', async () => {
    expectSuccess(await client.request('unload-conn', { name: CONN }), 'unload-conn');
    assert.deepEqual((await client.request('get-conns')).conns, []);
  });

  it('after charon restarts, the client reconnects by itself, re-registers its subscription and says so', async () => {
    let connects = 0;
    client.onConnect(() => { connects++; });
    const unsubscribe = await client.subscribe('ike-updown', () => {});
    assert.equal(client.connected, true);
    const before = lines.length;
    await stopCharon(charon!);
    await waitFor('the client to notice charon is gone', () => !client.connected);
    charon = startCharon(ns!, confPath);
    await waitForVici(charon, socket);
    await waitFor('onConnect after charon came back', () => connects > 0, { timeoutMs: 10_000 });
    assert.equal(client.connected, true);
    const reconnected = lines.slice(before).find((line) => line.msg === 'vici: connected to charon');
    assert.deepEqual(reconnected?.subscriptions, ['ike-updown'], 'charon confirmed the re-registration');
    // The new charon knows nothing of the old one's connections: callers reload on onConnect.
    assert.deepEqual((await client.request('get-conns')).conns, []);
    await unsubscribe();
  });

  it('logged command names, never message contents', () => {
    const log = JSON.stringify(lines);
    assert.match(log, /"command":"load-shared"/);
    assert.doesNotMatch(log, /test psk/);
  });
});
