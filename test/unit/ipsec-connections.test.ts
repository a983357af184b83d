import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CableEndpoint } from '../../src/model/cable-endpoint.ts';
import {
  DEFAULT_IPSEC_SETTINGS, IpsecPlanError, childName, ikeLocalAddresses, libipsecAddresses, planConnection, type IpsecLocal, type IpsecSettings,
} from '../../src/plan/ipsec-connections.ts';

const local: IpsecLocal = {
  privateIp: '198.18.0.1',
  subnets: [{ cidr: '10.1.0.0/16', kind: 'pods' }, { cidr: '10.96.0.0/16', kind: 'services' }],
  natTPort: 4500,
  addresses: ['198.18.0.1', '10.1.1.1', '127.0.0.1'],
};
const remote: CableEndpoint = {
  cableName: 'submariner-cable-east-198-18-0-2', clusterId: 'east', privateIp: '198.18.0.2', address: '198.18.0.2',
  subnets: ['10.2.0.0/16', '10.97.0.0/16'], natTPort: 4500,
};
const xfrm: IpsecSettings = { ...DEFAULT_IPSEC_SETTINGS, espMode: 'xfrm' };
const libipsec: IpsecSettings = { ...DEFAULT_IPSEC_SETTINGS, espMode: 'libipsec' };

type Conn = Record<string, unknown> & { children: Record<string, Record<string, unknown>>; local: Record<string, string>; remote: Record<string, string> };
const connectionOf = (planned: ReturnType<typeof planConnection>) => planned.loadConn[planned.name] as unknown as Conn;

test('one IKEv2 connection named for the cable, IDs = private IPs, IKE on the NAT-T port on both sides, PSK', () => {
  const planned = planConnection(local, remote, xfrm);
  assert.equal(planned.name, remote.cableName);
  const conn = connectionOf(planned);
  assert.equal(conn.version, '2');
  assert.deepEqual(conn.local_addrs, ['198.18.0.1']);
  assert.deepEqual(conn.remote_addrs, ['198.18.0.2']);
  assert.equal(conn.local_port, '4500');
  assert.equal(conn.remote_port, '4500');
  assert.deepEqual(conn.local, { auth: 'psk', id: '198.18.0.1' });
  assert.deepEqual(conn.remote, { auth: 'psk', id: '198.18.0.2' });
  assert.equal(conn.keyingtries, '0', 'retry forever');
  assert.equal(conn.encap, 'no');
  assert.equal(conn.dpd_delay, '10s');
});

test('one CHILD_SA per local x remote subnet pair, named by the subnets, both sides initiating and restarting', () => {
  const planned = planConnection(local, remote, xfrm);
  assert.deepEqual(planned.children.map((c) => [c.localTs, c.remoteTs]), [
    ['10.1.0.0/16', '10.2.0.0/16'], ['10.1.0.0/16', '10.97.0.0/16'], ['10.96.0.0/16', '10.2.0.0/16'], ['10.96.0.0/16', '10.97.0.0/16'],
  ]);
  assert.deepEqual(planned.dropped, []);
  const child = connectionOf(planned).children[childName('10.1.0.0/16', '10.2.0.0/16')];
  assert.deepEqual(child, {
    mode: 'tunnel', local_ts: ['10.1.0.0/16'], remote_ts: ['10.2.0.0/16'], esp_proposals: ['aes256gcm16', 'aes256-sha256'],
    start_action: 'none', dpd_action: 'restart', close_action: 'start', rekey_time: '3600s', life_time: '7200s', rand_time: '360s',
  });
});

test('a changed remote subnet list changes only the children of the changed subnets', () => {
  const before = planConnection(local, remote, xfrm).children.map((c) => c.name);
  const after = planConnection(local, { ...remote, subnets: ['10.2.0.0/16', '10.98.0.0/16'] }, xfrm).children.map((c) => c.name);
  assert.deepEqual(before.filter((n) => after.includes(n)), [childName('10.1.0.0/16', '10.2.0.0/16'), childName('10.96.0.0/16', '10.2.0.0/16')]);
  assert.deepEqual(after.filter((n) => !before.includes(n)), [childName('10.1.0.0/16', '10.98.0.0/16'), childName('10.96.0.0/16', '10.98.0.0/16')]);
});

test('libipsec: the service range gets its last address on the gateway; the pod range uses the CNI address', () => {
  assert.deepEqual(libipsecAddresses(local, 'libipsec'), ['10.96.255.255']);
  assert.deepEqual(libipsecAddresses(local, 'xfrm'), [], 'XFRM needs no address inside the traffic selectors');
  assert.deepEqual(libipsecAddresses({ ...local, addresses: [...local.addresses, '10.96.255.255'] }, 'libipsec'), ['10.96.255.255'], 'still wanted once there (so it is kept)');
  const planned = planConnection(local, remote, libipsec);
  assert.equal(planned.children.length, 4);
  assert.deepEqual(planned.dropped, []);
});

test('libipsec: a pod range without an address of the gateway is dropped openly, with its reason', () => {
  const planned = planConnection({ ...local, addresses: ['198.18.0.1'] }, remote, libipsec);
  assert.deepEqual(planned.children.map((c) => c.localTs), ['10.96.0.0/16', '10.96.0.0/16']);
  assert.deepEqual(planned.dropped.map((d) => [d.localTs, d.remoteTs]), [['10.1.0.0/16', '10.2.0.0/16'], ['10.1.0.0/16', '10.97.0.0/16']]);
  assert.match(planned.dropped[0]?.reason ?? '', /kernel-libipsec needs an address of the gateway inside 10\.1\.0\.0\/16/);
  assert.equal(planConnection({ ...local, addresses: ['198.18.0.1'] }, remote, xfrm).dropped.length, 0, 'XFRM drops nothing');
});

test('forced encapsulation and the remote address chosen by NAT discovery', () => {
  const conn = connectionOf(planConnection(local, { ...remote, address: '203.0.113.9', natTPort: 4501 }, { ...xfrm, forceEncapsulation: true }));
  assert.equal(conn.encap, 'yes');
  assert.deepEqual(conn.remote_addrs, ['203.0.113.9']);
  assert.equal(conn.remote_port, '4501');
  assert.deepEqual(conn.remote, { auth: 'psk', id: '198.18.0.2' }, 'the ID stays the private IP');
});

test('IKE from the public IP when it is an address of the gateway itself; the identity stays the private IP', () => {
  const onNode = { ...local, publicIp: '203.0.113.1', addresses: [...local.addresses, '203.0.113.1'] };
  for (const settings of [xfrm, libipsec]) {
    const conn = connectionOf(planConnection(onNode, remote, settings));
    assert.deepEqual(conn.local_addrs, ['203.0.113.1', '198.18.0.1'], 'initiates from the public IP, answers on either');
    assert.deepEqual(conn.local, { auth: 'psk', id: '198.18.0.1' });
    assert.equal(conn.local_port, '4500');
  }
  assert.deepEqual(planConnection(onNode, remote, libipsec).children, planConnection(local, remote, libipsec).children, 'the children do not change');
});

test('IKE from the private IP alone when the public IP is not on the gateway (behind NAT), is the private IP, or is not valid IPv4', () => {
  const cases: Array<[string, Partial<IpsecLocal>]> = [
    ['not on the gateway (NAT)', { publicIp: '203.0.113.1' }],
    ['equal to the private IP', { publicIp: '198.18.0.1' }],
    ['IPv6', { publicIp: '2001:db8::1', addresses: [...local.addresses, '2001:db8::1'] }],
    ['garbage', { publicIp: 'public', addresses: [...local.addresses, 'public'] }],
    ['empty', { publicIp: '', addresses: [...local.addresses, ''] }],
    ['leading zeros', { publicIp: '203.0.113.01', addresses: [...local.addresses, '203.0.113.01'] }],
    ['a CIDR', { publicIp: '203.0.113.1/32', addresses: [...local.addresses, '203.0.113.1/32'] }],
    ['not set', {}],
  ];
  for (const [label, over] of cases) {
    assert.deepEqual(connectionOf(planConnection({ ...local, ...over }, remote, xfrm)).local_addrs, ['198.18.0.1'], label);
  }
  assert.deepEqual(ikeLocalAddresses({ privateIp: '198.18.0.1', publicIp: '203.0.113.1', addresses: [] }), ['198.18.0.1'], 'no addresses known');
  assert.deepEqual(ikeLocalAddresses({ privateIp: '198.18.0.1', publicIp: '203.0.113.1', addresses: ['203.0.113.1'] }), ['203.0.113.1', '198.18.0.1']);
});

test('the gateway\'s own private address as a subnet is skipped, as Submariner does; duplicate remote subnets count once', () => {
  const planned = planConnection({ ...local, subnets: [...local.subnets, { cidr: '198.18.0.1/32', kind: 'pods' }] }, { ...remote, subnets: ['10.2.0.0/16', '10.2.0.0/16'] }, xfrm);
  assert.deepEqual(planned.children.map((c) => c.localTs), ['10.1.0.0/16', '10.96.0.0/16']);
});

test('bad input is a clear error naming what is wrong', () => {
  const cases: Array<[Partial<IpsecLocal>, Partial<CableEndpoint>, Partial<IpsecSettings>, RegExp]> = [
    [{}, { cableName: 'bad name with spaces' }, {}, /cable name "bad name with spaces" must be/],
    [{}, { cableName: '' }, {}, /cable name "" must be/],
    [{}, { cableName: 'x'.repeat(200) }, {}, /must be 1-128/],
    [{ privateIp: 'nope' }, {}, {}, /local private IP: "nope" is not a dotted-quad/],
    [{}, { privateIp: '::1' }, {}, /private IP: "::1" is an IPv6 address/],
    [{}, { address: '1.2.3.256' }, {}, /address: "1\.2\.3\.256" is not a valid IPv4 address/],
    [{}, { subnets: [] }, {}, /announces no subnets/],
    [{}, { subnets: ['10.2.0.1/16'] }, {}, /has host bits set \(the network is 10\.2\.0\.0\/16\)/],
    [{}, { subnets: ['fd00::/64'] }, {}, /remote subnet: .*IPv6/],
    [{ subnets: [{ cidr: 'garbage', kind: 'pods' }] }, {}, {}, /local pods subnet: "garbage" is not a CIDR/],
    [{ natTPort: 0 }, {}, {}, /local NAT-T port: 0 is not a port/],
    [{}, { natTPort: 70000 }, {}, /NAT-T port: 70000 is not a port/],
    [{}, {}, { dpdDelayS: 0 }, /DPD delay: 0 is not a whole number of seconds/],
    [{}, {}, { childRekeyS: 1.5 }, /CHILD_SA rekey time: 1\.5/],
    [{}, {}, { ikeProposals: [] }, /proposals must not be empty/],
  ];
  for (const [l, r, s, message] of cases) {
    assert.throws(() => planConnection({ ...local, ...l }, { ...remote, ...r }, { ...xfrm, ...s }), (e: unknown) => e instanceof IpsecPlanError && message.test(e.message), String(message));
  }
});
