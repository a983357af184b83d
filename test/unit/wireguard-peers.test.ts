import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WgDeviceState, WgPeerState } from '../../src/model/wireguard-device.ts';
import { driftedPeers, initiatesFirst, peerChange, peerOf, peerVerdict, samePeer, strayPeers, WIREGUARD_KEEPALIVE_SECONDS } from '../../src/plan/wireguard-peers.ts';

const key = (byte: number) => Buffer.alloc(32, byte);
const endpoint = { cableName: 'submariner-cable-east-198-18-0-2', clusterId: 'east', privateIp: '198.18.0.2', address: '203.0.113.2', subnets: ['10.97.0.0/16', '10.2.0.0/16'], natTPort: 4501 };
const psk = key(9);

const held = (over: Partial<WgPeerState> = {}): WgPeerState => ({
  publicKey: key(2), lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepaliveSeconds: WIREGUARD_KEEPALIVE_SECONDS,
  allowedIps: ['10.2.0.0/16', '10.97.0.0/16'], hasPresharedKey: true, ...over,
});
const device = (...peers: WgPeerState[]): WgDeviceState => ({ listenPort: 4500, fwmark: 0, peers });

describe('WireGuard peers as Submariner configures them', () => {
  it('a peer from a remote cable: its address and udp-port, its subnets as allowed IPs', () => {
    const peer = peerOf(endpoint, key(2));
    assert.deepEqual(peer, { cableName: endpoint.cableName, publicKey: key(2), endpoint: { ip: '203.0.113.2', port: 4501 }, allowedIps: ['10.2.0.0/16', '10.97.0.0/16'] });
  });

  it('a new peer gets everything: PSK, endpoint, keepalive 10, its allowed IPs replaced', () => {
    assert.deepEqual(peerChange(peerOf(endpoint, key(2)), psk, undefined), {
      publicKey: key(2), presharedKey: psk, endpoint: { ip: '203.0.113.2', port: 4501 }, persistentKeepaliveSeconds: 10,
      replaceAllowedIps: true, allowedIps: ['10.2.0.0/16', '10.97.0.0/16'],
    });
  });

  it('an update keeps the endpoint the peer roamed to unless the Endpoint\'s changed', () => {
    const before = peerOf(endpoint, key(2));
    const widened = peerOf({ ...endpoint, subnets: [...endpoint.subnets, '10.3.0.0/16'] }, key(2));
    assert.equal('endpoint' in peerChange(widened, psk, before), false);
    const moved = peerOf({ ...endpoint, address: '198.18.0.2' }, key(2));
    assert.deepEqual(peerChange(moved, psk, before).endpoint, { ip: '198.18.0.2', port: 4501 });
    const otherPort = peerOf({ ...endpoint, natTPort: 4500 }, key(2));
    assert.deepEqual(peerChange(otherPort, psk, before).endpoint, { ip: '203.0.113.2', port: 4500 });
  });

  it('samePeer compares key, endpoint and allowed IPs (in any order)', () => {
    const a = peerOf(endpoint, key(2));
    assert.ok(samePeer(a, peerOf({ ...endpoint, subnets: [...endpoint.subnets].reverse() }, key(2))));
    assert.ok(!samePeer(a, peerOf(endpoint, key(3))));
    assert.ok(!samePeer(a, peerOf({ ...endpoint, address: '1.1.1.1' }, key(2))));
    assert.ok(!samePeer(a, peerOf({ ...endpoint, subnets: ['10.2.0.0/16'] }, key(2))));
  });

  it('stray peers: whatever is on the device and not wanted', () => {
    const wanted = [peerOf(endpoint, key(2))];
    assert.deepEqual(strayPeers(device(held(), held({ publicKey: key(7) })), wanted), [{ publicKey: key(7), remove: true }]);
    assert.deepEqual(strayPeers(device(held()), wanted), []);
    assert.deepEqual(strayPeers(device(held()), []), [{ publicKey: key(2), remove: true }]);
  });

  it('drifted peers: missing, without PSK, other allowed IPs or keepalive', () => {
    const wanted = [peerOf(endpoint, key(2))];
    assert.deepEqual(driftedPeers(device(held()), wanted), []);
    assert.deepEqual(driftedPeers(device(held({ allowedIps: ['10.97.0.0/16', '10.2.0.0/16'] })), wanted), [], 'order does not matter');
    assert.equal(driftedPeers(device(), wanted).length, 1);
    assert.equal(driftedPeers(device(held({ hasPresharedKey: false })), wanted).length, 1);
    assert.equal(driftedPeers(device(held({ allowedIps: ['10.2.0.0/16'] })), wanted).length, 1);
    assert.equal(driftedPeers(device(held({ persistentKeepaliveSeconds: 25 })), wanted).length, 1);
  });
});

describe('a peer\'s state as a cable status', () => {
  const now = 1_800_000_000_000;
  it('connecting until the first handshake, connected within the session lifetime, error after it', () => {
    assert.equal(peerVerdict(undefined, now).state, 'connecting');
    assert.match(peerVerdict(held(), now).message, /no handshake/);
    assert.equal(peerVerdict(held({ lastHandshakeMs: now - 5_000 }), now).state, 'connected');
    assert.equal(peerVerdict(held({ lastHandshakeMs: now - 180_000 }), now).state, 'connected');
    const expired = peerVerdict(held({ lastHandshakeMs: now - 181_000 }), now);
    assert.equal(expired.state, 'error');
    assert.match(expired.message, /181 s ago/);
    assert.equal(peerVerdict(held({ lastHandshakeMs: now + 5_000 }), now).state, 'connected', 'a clock a little behind the device\'s is no error');
  });
});

describe('who starts the first handshake', () => {
  it('only the side with the greater public key, so two gateways adding each other at once do not cross their initiations', () => {
    assert.equal(initiatesFirst(key(9), key(2)), true);
    assert.equal(initiatesFirst(key(2), key(9)), false);
    assert.equal(initiatesFirst(key(2), key(9)) !== initiatesFirst(key(9), key(2)), true, 'exactly one of the two');
  });

  it('a change without the keepalive leaves it unset; the repair then finds the peer drifted and sets it', () => {
    const change = peerChange(peerOf(endpoint, key(2)), psk, undefined, { keepalive: false });
    assert.equal('persistentKeepaliveSeconds' in change, false);
    assert.equal(driftedPeers(device(held({ persistentKeepaliveSeconds: 0 })), [peerOf(endpoint, key(2))]).length, 1);
  });
});
