/**
 * The IPsec cable driver against fakes of its seams (VICI, kernel, PSK file): what it asks charon
 * for and in what order, what bad input leaves untouched, and that a daemon that answers garbage
 * or never answers is a reported failure, not a hang.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { IpsecCable, type ViciPort } from '../../src/cable/ipsec.ts';
import type { IpsecKernel } from '../../src/cable/ipsec-kernel.ts';
import { ViciClient, ViciProtocolError, ViciTimeoutError, connectUnix, type ViciInputSection, type ViciSection } from '../../src/kernel/vici/client.ts';
import { PskError } from '../../src/model/psk.ts';
import { DEFAULT_IPSEC_SETTINGS, IpsecPlanError, childName } from '../../src/plan/ipsec-connections.ts';

const silent = pino({ level: 'silent' });
const KEY = Buffer.from('k'.repeat(48));
const endpoint: CableEndpoint = {
  cableName: 'submariner-cable-east-198-18-0-2', clusterId: 'east', privateIp: '198.18.0.2', address: '198.18.0.2',
  subnets: ['10.2.0.0/16', '10.97.0.0/16'], natTPort: 4500,
};

interface Call { command: string; message?: ViciInputSection }

/** A VICI fake: records every call, answers success, streams the SAs the test sets. */
function fakeVici(answers: Record<string, ViciSection> = {}): ViciPort & { calls: Call[]; sas: ViciSection[] } {
  const calls: Call[] = [];
  const fake = {
    calls,
    sas: [] as ViciSection[],
    async request(command: string, message?: ViciInputSection) {
      calls.push({ command, ...(message ? { message } : {}) });
      return answers[command] ?? { success: 'yes' };
    },
    async stream(command: string, _event: string, message?: ViciInputSection) {
      calls.push({ command, ...(message ? { message } : {}) });
      return { events: fake.sas, response: {} };
    },
    async subscribe(event: string) {
      calls.push({ command: `subscribe ${event}` });
      return async () => {};
    },
  };
  return fake;
}

function fakeKernel(addresses = ['198.18.0.1', '10.1.1.1']): IpsecKernel & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async addresses() { calls.push('addresses'); return addresses; },
    async ensureAddresses(list) { calls.push(`addresses+ ${list.join(',')}`); },
    async ensureFailClosed(subnets) { calls.push(`blackholes ${subnets.join(',')}`); },
    async removeAll() { calls.push('remove all'); },
  };
}

function cable(vici: ViciPort, kernel: IpsecKernel, readPsk: () => Promise<Buffer> = async () => KEY, now = () => 1000, publicIp?: string) {
  return new IpsecCable({
    vici, kernel, log: silent, readPsk, rotationWindowMs: 5000, now,
    local: {
      privateIp: '198.18.0.1', subnets: [{ cidr: '10.1.0.0/16', kind: 'pods' }, { cidr: '10.96.0.0/16', kind: 'services' }], natTPort: 4500,
      ...(publicIp === undefined ? {} : { publicIp }),
    },
    settings: { ...DEFAULT_IPSEC_SETTINGS, espMode: 'libipsec' },
  });
}

/** The connection of each load-conn sent: its name, local_addrs and children. */
const loadConns = (calls: Call[]) => calls.filter((c) => c.command === 'load-conn').map((c) => {
  const [name, conn] = Object.entries(c.message ?? {})[0] as [string, { local_addrs: string[]; children: Record<string, unknown> }];
  return { name, localAddrs: conn.local_addrs, children: Object.keys(conn.children) };
});

test('connect: blackholes first, then the source address, the keys, the connection, and every child initiated', async () => {
  const vici = fakeVici();
  const kernel = fakeKernel();
  await cable(vici, kernel).connect(endpoint);
  assert.deepEqual(kernel.calls, ['addresses', 'blackholes 10.2.0.0/16,10.97.0.0/16', 'addresses+ 10.96.255.255']);
  assert.deepEqual(vici.calls.map((c) => c.command), ['load-shared', 'terminate', 'load-conn', 'list-sas', 'initiate', 'initiate', 'initiate', 'initiate']);
  // A new cable first ends any IKE_SA charon still has under its name (forced: the peer may be gone).
  assert.deepEqual(vici.calls[1]?.message, { ike: endpoint.cableName, force: 'yes', timeout: '-1' });
  const shared = vici.calls[0]?.message as { id: string; data: Buffer; owners: string[] };
  assert.equal(shared.id, 'seaway-psk-1');
  assert.ok(Buffer.isBuffer(shared.data) && shared.data.equals(KEY));
  assert.deepEqual(shared.owners, ['198.18.0.1', '198.18.0.2']);
  assert.deepEqual(Object.keys(vici.calls[2]?.message ?? {}), [endpoint.cableName]);
  assert.deepEqual(vici.calls.filter((c) => c.command === 'initiate').map((c) => (c.message as { child: string }).child), [
    childName('10.1.0.0/16', '10.2.0.0/16'), childName('10.1.0.0/16', '10.97.0.0/16'), childName('10.96.0.0/16', '10.2.0.0/16'), childName('10.96.0.0/16', '10.97.0.0/16'),
  ]);
});

test('any PSK error (missing, empty, too short: model/psk.ts and psk-file.ts word them) fails the connect, and nothing is touched', async () => {
  for (const message of ['cannot read the IPsec PSK file /psk: it does not exist', 'the IPsec PSK file /psk is empty', 'the IPsec PSK in /psk is 3 bytes; at least 32 are needed']) {
    const vici = fakeVici();
    const kernel = fakeKernel();
    const c = cable(vici, kernel, async () => { throw new PskError(message); });
    await assert.rejects(c.connect(endpoint), (e: unknown) => e instanceof PskError && e.message === message);
    assert.deepEqual(vici.calls, [], 'charon is not asked anything');
    assert.deepEqual(kernel.calls, [], 'the kernel is not touched');
    assert.deepEqual(await c.status(), [], 'no cable is kept');
  }
});

test('a malformed endpoint is a plan error, and nothing is touched', async () => {
  const vici = fakeVici();
  const kernel = fakeKernel();
  const c = cable(vici, kernel);
  await assert.rejects(c.connect({ ...endpoint, subnets: ['10.2.0.1/16'] }), IpsecPlanError);
  await assert.rejects(c.connect({ ...endpoint, cableName: 'bad name' }), IpsecPlanError);
  assert.deepEqual(vici.calls, []);
  assert.deepEqual(kernel.calls, ['addresses', 'addresses'], 'only read');
});

test('charon refusing the connection fails the connect with its errmsg, and the cable is not kept', async () => {
  const vici = fakeVici({ 'load-conn': { success: 'no', errmsg: 'invalid value for: proposals, config discarded' } });
  const c = cable(vici, fakeKernel());
  await assert.rejects(c.connect(endpoint), /invalid value for: proposals, config discarded/);
  assert.deepEqual(await c.status(), []);
});

const sa = (children: Record<string, string>, extra: ViciSection = {}): ViciSection => ({
  [endpoint.cableName]: {
    uniqueid: '1', state: 'ESTABLISHED', established: '30', ...extra,
    'child-sas': Object.fromEntries(Object.entries(children).map(([name, state], i) => [`${name}-${i}`, { name, state, 'bytes-in': '100', 'bytes-out': '50' }])),
  },
});
const allChildren = [childName('10.1.0.0/16', '10.2.0.0/16'), childName('10.1.0.0/16', '10.97.0.0/16'), childName('10.96.0.0/16', '10.2.0.0/16'), childName('10.96.0.0/16', '10.97.0.0/16')];

test('status comes from charon\'s SAs: connected with summed counters, or connecting naming what is missing', async () => {
  const vici = fakeVici();
  const c = cable(vici, fakeKernel(), async () => KEY, () => 100_000);
  await c.connect(endpoint);
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  assert.deepEqual(await c.status(), [{ cableName: endpoint.cableName, state: 'connected', message: '', rxBytes: 400, txBytes: 200, establishedAt: 70_000 }]);
  vici.sas = [sa({ [allChildren[0]!]: 'INSTALLED', [allChildren[1]!]: 'INSTALLING' })];
  const [connecting] = await c.status();
  assert.equal(connecting?.state, 'connecting');
  assert.match(connecting?.message ?? '', new RegExp(`IKE SA established; waiting for ${allChildren.slice(1).join(', ')}`));
  vici.sas = [];
  assert.equal((await c.status())[0]?.message, 'IKE SA not established');
});

test('children already up or negotiating (the peer initiated them) are not initiated again', async () => {
  const vici = fakeVici();
  vici.sas = [sa({ [allChildren[0]!]: 'INSTALLED', [allChildren[1]!]: 'INSTALLING', [allChildren[2]!]: 'DELETING' })];
  await cable(vici, fakeKernel()).connect(endpoint);
  assert.deepEqual(vici.calls.filter((c) => c.command === 'initiate').map((c) => (c.message as { child: string }).child), [allChildren[2], allChildren[3]]);
});

test('a restarted charon gets the keys, the connections and the children again', async () => {
  const vici = fakeVici();
  const c = cable(vici, fakeKernel());
  await c.reload();
  assert.deepEqual(vici.calls.map((x) => x.command), ['subscribe ike-updown', 'subscribe child-updown'], 'nothing to load yet');
  await c.connect(endpoint);
  vici.calls.length = 0;
  await c.reload();
  assert.deepEqual(vici.calls.map((x) => x.command), ['load-shared', 'list-sas', 'load-conn', 'initiate', 'initiate', 'initiate', 'initiate'], 'one look at the SAs for every cable; subscriptions not made twice');
});

test('a narrower subnet list terminates only the children that went', async () => {
  const vici = fakeVici();
  const c = cable(vici, fakeKernel());
  await c.connect(endpoint);
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  vici.calls.length = 0;
  await c.connect({ ...endpoint, subnets: ['10.2.0.0/16'] });
  assert.deepEqual(vici.calls.filter((x) => x.command === 'terminate').map((x) => (x.message as { child: string }).child), [allChildren[1], allChildren[3]]);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'initiate'), []);
});

test('disconnect (the remote is no longer wanted) unloads before terminating, so nothing restarts it, and drops its blackholes', async () => {
  const vici = fakeVici();
  const kernel = fakeKernel();
  const c = cable(vici, kernel);
  await c.connect(endpoint);
  vici.calls.length = 0;
  kernel.calls.length = 0;
  await c.disconnect(endpoint.cableName);
  assert.deepEqual(vici.calls.slice(0, 2).map((x) => x.command), ['unload-conn', 'terminate']);
  assert.deepEqual(kernel.calls, ['blackholes ']);
  assert.deepEqual(await c.status(), []);
});

test('PSK rotation: the new key owned, the old accepted, each cable reauthenticated; the old key unloaded after the window', async () => {
  const vici = fakeVici();
  let key = KEY;
  let now = 1000;
  const c = cable(vici, fakeKernel(), async () => key, () => now);
  await c.connect(endpoint);
  vici.calls.length = 0;
  assert.equal(await c.refreshKeys(), false, 'same key: nothing to do');
  key = Buffer.from('n'.repeat(48));
  assert.equal(await c.refreshKeys(), true);
  assert.deepEqual(vici.calls.map((x) => [x.command, (x.message as { id?: string; owners?: string[]; reauth?: string }).id ?? (x.message as { reauth?: string }).reauth]), [
    ['load-shared', 'seaway-psk-2'], ['load-shared', 'seaway-psk-1'], ['rekey', 'yes'],
  ]);
  assert.deepEqual((vici.calls[1]?.message as { owners: string[] }).owners, [], 'the old key: any identity, only accepted');
  assert.equal(c.rotationEndsAt, 6000);
  vici.calls.length = 0;
  now = 6000;
  assert.equal(await c.refreshKeys(), true);
  assert.deepEqual(vici.calls.map((x) => [x.command, (x.message as { id: string }).id]), [['unload-shared', 'seaway-psk-1']], 'the current key charon has is not sent again');
});

// A real VICI client against a socket that never answers, or answers garbage.
let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'seaway-vici-fake-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

async function serve(path: string, onData: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => socket.on('data', () => onData(socket)));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

for (const [label, answer, expected] of [
  ['never answers', () => {}, ViciTimeoutError],
  ['answers garbage', (socket: Socket) => socket.write(Buffer.from([0, 0, 0, 3, 9, 9, 9])), ViciProtocolError],
] as const) {
  test(`a charon whose VICI socket ${label} fails the connect with a reported error, not a hang`, async () => {
    const path = join(dir, `${label.replace(/\s/g, '-')}.sock`);
    const server = await serve(path, answer);
    const client = new ViciClient({ connect: connectUnix(path), timeoutMs: 300, logger: silent });
    try {
      const kernel = fakeKernel();
      const c = cable(client, kernel);
      await assert.rejects(c.connect(endpoint), (e: unknown) => e instanceof expected);
      assert.deepEqual(kernel.calls.slice(-1), ['blackholes '], 'the new cable that did not make it is taken out again');
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
}

test('a new cable that charon loaded but could not start is unloaded again and its blackholes go', async () => {
  const vici = fakeVici({ initiate: { success: 'no', errmsg: 'CHILD_SA config not found' } });
  const kernel = fakeKernel();
  const c = cable(vici, kernel);
  await assert.rejects(c.connect(endpoint), /CHILD_SA config not found/);
  assert.deepEqual(vici.calls.map((x) => x.command), ['load-shared', 'terminate', 'load-conn', 'list-sas', 'initiate', 'unload-conn']);
  assert.deepEqual(kernel.calls.slice(-1), ['blackholes ']);
  assert.deepEqual(await c.status(), []);
});

test('repair initiates the children charon lost; a reload that failed for one cable loads the others and is tried again by repair', async () => {
  const vici = fakeVici();
  const c = cable(vici, fakeKernel());
  await c.connect(endpoint);
  await c.connect({ ...endpoint, cableName: 'other', privateIp: '198.18.0.3', address: '198.18.0.3', subnets: ['10.3.0.0/16'] });
  vici.sas = [sa(Object.fromEntries(allChildren.slice(1).map((n) => [n, 'INSTALLED'])))];
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.filter((x) => x.command === 'initiate').map((x) => [(x.message as { ike: string }).ike, (x.message as { child: string }).child]), [
    [endpoint.cableName, allChildren[0]], ['other', childName('10.1.0.0/16', '10.3.0.0/16')], ['other', childName('10.96.0.0/16', '10.3.0.0/16')],
  ]);
  // charon restarted and refuses the first cable's configuration: the other one is loaded anyway.
  let refuse = true;
  const request = vici.request.bind(vici);
  vici.request = async (command, message) => {
    const answer = await request(command, message);
    return refuse && command === 'load-conn' && Object.keys(message ?? {})[0] === endpoint.cableName ? { success: 'no', errmsg: 'busy' } : answer;
  };
  vici.calls.length = 0;
  await assert.rejects(c.reload(), /reloading IPsec cables into charon failed for submariner-cable-east-198-18-0-2: .*busy/);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'load-conn').map((x) => Object.keys(x.message ?? {})[0]), [endpoint.cableName, 'other']);
  refuse = false;
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.filter((x) => x.command === 'load-conn').length, 2, 'repair reloads after a failed reload');
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.filter((x) => x.command === 'load-conn'), [], 'and not again once it went through');
});

test('a key that charon did not take is loaded again on the next refresh; connect never rotates the key itself', async () => {
  const vici = fakeVici();
  let key = KEY;
  const c = cable(vici, fakeKernel(), async () => key);
  await c.connect(endpoint);
  key = Buffer.from('n'.repeat(48));
  vici.calls.length = 0;
  await c.connect(endpoint);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'load-shared'), [], 'connect keeps the ring, and charon has it already');
  const request = vici.request.bind(vici);
  let fail = true;
  vici.request = async (command, message) => {
    const answer = await request(command, message);
    return fail && command === 'load-shared' ? { success: 'no', errmsg: 'out of memory' } : answer;
  };
  await assert.rejects(c.refreshKeys(), /out of memory/);
  fail = false;
  vici.calls.length = 0;
  assert.equal(await c.refreshKeys(), true, 'the rotation is still to do');
  assert.deepEqual(vici.calls.map((x) => x.command), ['load-shared', 'load-shared', 'rekey']);
});

test('calls are serialized: a disconnect and a reload issued together leave charon and the cable agreeing', async () => {
  const vici = fakeVici();
  const c = cable(vici, fakeKernel());
  await c.connect(endpoint);
  vici.calls.length = 0;
  await Promise.all([c.disconnect(endpoint.cableName), c.reload()]);
  const commands = vici.calls.map((x) => x.command);
  assert.deepEqual(commands.slice(0, 2), ['unload-conn', 'terminate']);
  assert.ok(!commands.includes('load-conn'), 'the reload that came after the disconnect does not load the removed cable');
});

test('the public IP coming onto the gateway: repair loads the connection again with IKE from it, nothing else; and back when it goes', async () => {
  const vici = fakeVici();
  const addresses = ['198.18.0.1', '10.1.1.1'];
  const kernel = fakeKernel(addresses);
  const c = cable(vici, kernel, async () => KEY, () => 1000, '203.0.113.1');
  await c.connect(endpoint);
  assert.deepEqual(loadConns(vici.calls).map((x) => x.localAddrs), [['198.18.0.1']], 'behind NAT: the public IP is not on the gateway');
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas'], 'nothing changed: nothing sent');

  addresses.push('203.0.113.1');
  vici.calls.length = 0;
  kernel.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas', 'load-conn'], 'the connection again; its SAs are neither terminated nor initiated');
  assert.deepEqual(loadConns(vici.calls), [{ name: endpoint.cableName, localAddrs: ['203.0.113.1', '198.18.0.1'], children: allChildren }]);
  assert.deepEqual(kernel.calls, ['addresses'], 'the blackholes and source addresses do not depend on it');
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(loadConns(vici.calls), [], 'sent once');

  addresses.pop();
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(loadConns(vici.calls).map((x) => x.localAddrs), [['198.18.0.1']]);
  assert.equal((await c.status())[0]?.state, 'connected');
});

test('libipsec: a pod range that gains its address gets its children on the next repair, and loses them again with it', async () => {
  const vici = fakeVici();
  const addresses = ['198.18.0.1'];
  const c = cable(vici, fakeKernel(addresses));
  await c.connect(endpoint);
  const services = allChildren.slice(2);
  assert.deepEqual(loadConns(vici.calls).map((x) => x.children), [services]);
  vici.sas = [sa(Object.fromEntries(services.map((n) => [n, 'INSTALLED'])))];
  assert.match((await c.status())[0]?.message ?? '', /10\.1\.0\.0\/16 <-> 10\.2\.0\.0\/16 left out: kernel-libipsec needs an address/);

  addresses.push('10.1.1.1');
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas', 'load-conn', 'initiate', 'initiate']);
  assert.deepEqual(loadConns(vici.calls).map((x) => x.children), [allChildren]);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'initiate').map((x) => (x.message as { child: string }).child), allChildren.slice(0, 2));
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  assert.deepEqual((await c.status())[0]?.state, 'connected');
  assert.equal((await c.status())[0]?.message, '', 'no child left out any more');

  addresses.pop();
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas', 'load-conn', 'terminate', 'terminate']);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'terminate').map((x) => (x.message as { child: string }).child), allChildren.slice(0, 2));
});

test('a changed plan charon refuses is sent again on the next repair; the other cables are repaired meanwhile', async () => {
  const vici = fakeVici();
  const addresses = ['198.18.0.1', '10.1.1.1'];
  const c = cable(vici, fakeKernel(addresses), async () => KEY, () => 1000, '203.0.113.1');
  await c.connect(endpoint);
  await c.connect({ ...endpoint, cableName: 'other', privateIp: '198.18.0.3', address: '198.18.0.3', subnets: ['10.3.0.0/16'] });
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  addresses.push('203.0.113.1');
  let refuse = true;
  const request = vici.request.bind(vici);
  vici.request = async (command, message) => {
    const answer = await request(command, message);
    return refuse && command === 'load-conn' && Object.keys(message ?? {})[0] === endpoint.cableName ? { success: 'no', errmsg: 'busy' } : answer;
  };
  vici.calls.length = 0;
  await assert.rejects(c.repair(), /repairing IPsec cables failed for submariner-cable-east-198-18-0-2: .*busy/);
  assert.deepEqual(loadConns(vici.calls).map((x) => [x.name, x.localAddrs]), [[endpoint.cableName, ['203.0.113.1', '198.18.0.1']], ['other', ['203.0.113.1', '198.18.0.1']]]);
  assert.deepEqual(vici.calls.filter((x) => x.command === 'initiate').map((x) => (x.message as { ike: string }).ike), ['other', 'other'], 'the other cable\'s missing children');
  assert.match((await c.status()).find((x) => x.cableName === endpoint.cableName)?.lastError ?? '', /busy/);
  refuse = false;
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(loadConns(vici.calls).map((x) => x.name), [endpoint.cableName], 'only the one charon refused');
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(loadConns(vici.calls), []);
});

test('a restarted charon gets each connection planned for the gateway\'s addresses now', async () => {
  const vici = fakeVici();
  const addresses = ['198.18.0.1', '10.1.1.1'];
  const c = cable(vici, fakeKernel(addresses), async () => KEY, () => 1000, '203.0.113.1');
  await c.connect(endpoint);
  addresses.push('203.0.113.1');
  vici.calls.length = 0;
  await c.reload();
  assert.deepEqual(loadConns(vici.calls).map((x) => x.localAddrs), [['203.0.113.1', '198.18.0.1']]);
  vici.sas = [sa(Object.fromEntries(allChildren.map((n) => [n, 'INSTALLED'])))];
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas'], 'kept as loaded: not sent again');
});

test('addresses that cannot be read: the plans charon has stay, and missing children are still initiated', async () => {
  const vici = fakeVici();
  const kernel = fakeKernel();
  const c = cable(vici, kernel);
  await c.connect(endpoint);
  kernel.addresses = async () => { throw new Error('netlink: ENOBUFS'); };
  vici.sas = [sa(Object.fromEntries(allChildren.slice(1).map((n) => [n, 'INSTALLED'])))];
  vici.calls.length = 0;
  await c.repair();
  assert.deepEqual(vici.calls.map((x) => x.command), ['list-sas', 'initiate']);
  vici.calls.length = 0;
  await c.reload();
  assert.deepEqual(vici.calls.map((x) => x.command), ['subscribe ike-updown', 'subscribe child-updown', 'load-shared', 'list-sas', 'load-conn', 'initiate'], 'a restarted charon gets the plans it had');
});

test('held subnets are on the floor with no cable to them, and stay there when the cables come and go; an unchanged hold writes nothing', async () => {
  const vici = fakeVici();
  const kernel = fakeKernel();
  const c = cable(vici, kernel);
  await c.holdSubnets(['10.9.0.0/16', '10.2.0.0/16']);
  await c.holdSubnets(['10.2.0.0/16', '10.9.0.0/16']);
  assert.deepEqual(kernel.calls, ['blackholes 10.2.0.0/16,10.9.0.0/16'], 'one write, the subnets sorted and unchanged by order');
  await c.connect(endpoint);
  await c.disconnect(endpoint.cableName);
  assert.deepEqual(kernel.calls.filter((call) => call.startsWith('blackholes')), [
    'blackholes 10.2.0.0/16,10.9.0.0/16',
    'blackholes 10.2.0.0/16,10.9.0.0/16,10.97.0.0/16',
    'blackholes 10.2.0.0/16,10.9.0.0/16',
  ], 'the cable adds its own, its disconnect leaves the held ones');
  await c.holdSubnets([]);
  assert.equal(kernel.calls.at(-1), 'blackholes ');
});
