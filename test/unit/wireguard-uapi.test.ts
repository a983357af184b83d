import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUapiSet, parseUapiGet, uapiReplyErrno } from '../../src/kernel/wireguard/uapi-messages.ts';

const key = (byte: number) => Buffer.alloc(32, byte);
const hex = (byte: number) => key(byte).toString('hex');
const fakePublic = (privateKey: Buffer) => Buffer.alloc(32, privateKey[0]! + 1);

describe('UAPI set requests', () => {
  it('a device with one peer, in the protocol\'s order, ending with an empty line', () => {
    const text = encodeUapiSet({
      privateKey: key(1), listenPort: 4500, replacePeers: true,
      peers: [{ publicKey: key(2), presharedKey: key(3), endpoint: { ip: '198.18.0.2', port: 4500 }, persistentKeepaliveSeconds: 10, replaceAllowedIps: true, allowedIps: ['10.2.0.0/16', '10.97.0.0/16'] }],
    });
    assert.equal(text, [
      'set=1', `private_key=${hex(1)}`, 'listen_port=4500', 'replace_peers=true',
      `public_key=${hex(2)}`, `preshared_key=${hex(3)}`, 'endpoint=198.18.0.2:4500', 'persistent_keepalive_interval=10',
      'replace_allowed_ips=true', 'allowed_ip=10.2.0.0/16', 'allowed_ip=10.97.0.0/16', '', '',
    ].join('\n'));
  });

  it('a removal names the peer and nothing else of it', () => {
    assert.equal(encodeUapiSet({ peers: [{ publicKey: key(2), remove: true, allowedIps: ['10.0.0.0/8'] }] }), `set=1\npublic_key=${hex(2)}\nremove=true\n\n`);
  });

  it('update_only and an empty change', () => {
    assert.equal(encodeUapiSet({ peers: [{ publicKey: key(4), updateOnly: true }] }), `set=1\npublic_key=${hex(4)}\nupdate_only=true\n\n`);
    assert.equal(encodeUapiSet({}), 'set=1\n\n');
  });

  it('refuses keys of the wrong length and values that would inject lines', () => {
    assert.throws(() => encodeUapiSet({ privateKey: Buffer.alloc(31) }), /32 bytes, got 31/);
    assert.throws(() => encodeUapiSet({ peers: [{ publicKey: key(1), allowedIps: ['10.0.0.0/8\nprivate_key=00'] }] }), /would break the UAPI request/);
    assert.throws(() => encodeUapiSet({ peers: [{ publicKey: key(1), endpoint: { ip: '1.2.3.4\n', port: 1 } }] }), /would break/);
  });
});

describe('UAPI replies', () => {
  it('errno ends a reply; an incomplete one is not yet read', () => {
    assert.equal(uapiReplyErrno('errno=0\n\n'), 0);
    assert.equal(uapiReplyErrno('private_key=00\nerrno=-22\n\n'), -22);
    assert.equal(uapiReplyErrno('private_key=00\nerr'), undefined);
    assert.equal(uapiReplyErrno('errno=0\n'), undefined);
    assert.throws(() => uapiReplyErrno('garbage\n\n'), /does not end with errno/);
    assert.throws(() => uapiReplyErrno(`private_key=${'ab'.repeat(32)}\n\n`), (error: Error) => !error.message.includes('abab'), 'the error never quotes the reply: it may hold keys');
  });

  it('a get reply with two peers becomes the device state', () => {
    const state = parseUapiGet([
      `private_key=${hex(1)}`, 'listen_port=4500', 'fwmark=0',
      `public_key=${hex(2)}`, `preshared_key=${hex(3)}`, 'protocol_version=1', 'endpoint=198.18.0.2:4500',
      'last_handshake_time_sec=1700000000', 'last_handshake_time_nsec=250000000', 'tx_bytes=1000', 'rx_bytes=2000',
      'persistent_keepalive_interval=10', 'allowed_ip=10.2.0.0/16', 'allowed_ip=10.97.0.0/16',
      `public_key=${hex(5)}`, `preshared_key=${'0'.repeat(64)}`, 'last_handshake_time_sec=0', 'last_handshake_time_nsec=0',
      'tx_bytes=0', 'rx_bytes=0', 'persistent_keepalive_interval=0', 'some_future_key=1',
      'errno=0', '', '',
    ].join('\n'), fakePublic);
    assert.deepEqual(state.publicKey, key(2));
    assert.equal(state.listenPort, 4500);
    assert.equal(state.peers.length, 2);
    assert.deepEqual(state.peers[0], {
      publicKey: key(2), endpoint: '198.18.0.2:4500', lastHandshakeMs: 1700000000250, rxBytes: 2000, txBytes: 1000,
      persistentKeepaliveSeconds: 10, allowedIps: ['10.2.0.0/16', '10.97.0.0/16'], hasPresharedKey: true,
    });
    assert.equal(state.peers[1]!.hasPresharedKey, false, 'an all-zero preshared key is none');
    assert.equal(state.peers[1]!.lastHandshakeMs, 0);
  });

  it('a device without a private key has no public key', () => {
    assert.equal(parseUapiGet('listen_port=0\nerrno=0\n\n', fakePublic).publicKey, undefined);
  });

  it('malformed replies are errors, not a wrong state', () => {
    assert.throws(() => parseUapiGet('private_key=zz\nerrno=0\n\n', fakePublic), /not 64 hex/);
    assert.throws(() => parseUapiGet(`public_key=${hex(2)}\nrx_bytes=-1\nerrno=0\n\n`, fakePublic), /rx_bytes.*not a number/);
    assert.throws(() => parseUapiGet('no equals sign\nerrno=0\n\n', fakePublic), /without a key/);
  });
});
