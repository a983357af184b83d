/** The requester's state machine in virtual time: probes, selections, the upgrade window, the fallback, errors, stale numbers, reprobe. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseType, type NatDiscoveryResponse } from '../../src/model/nat-discovery-message.ts';
import type { EndpointSpec } from '../../src/model/endpoint.ts';
import {
  DEFAULT_NAT_REQUESTER_SETTINGS, legacySelection, natDiscoveryRequest, natRemoteChanged, natRemoteFromEndpoint, natReprobe, natResponse,
  natTick, natView, startNatRequester, type NatProbe, type NatRemote, type NatRequesterState, type NatStep,
} from '../../src/plan/nat-discovery-requester.ts';

const remote: NatRemote = {
  cableName: 'submariner-cable-west-192-168-1-2', clusterId: 'west', privateIp: '192.168.1.2', publicIp: '198.18.0.1',
  natEnabled: false, discoveryPort: 4490, usingLoadBalancer: false,
};
const SEED = 1000n;

/** An answer as the remote's responder would send it. */
function reply(requestNumber: bigint, response: number = ResponseType.OK, fields: Partial<NatDiscoveryResponse> = {}): NatDiscoveryResponse {
  return {
    requestNumber, response, srcIpNatDetected: false, srcPortNatDetected: false, dstIpNatDetected: false,
    sender: { clusterId: 'west', endpointId: remote.cableName }, receiver: { clusterId: 'east', endpointId: 'me' },
    receivedSrc: { ip: '10.0.0.1', port: 4490 }, ...fields,
  };
}

const probeOf = (step: NatStep, target: 'private' | 'public'): NatProbe => {
  const probe = step.probes.find((p) => p.target === target);
  assert.ok(probe, `no ${target} probe in ${JSON.stringify(step.probes, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  return probe;
};

const start = (r: NatRemote = remote, localNat = false, now = 0) => startNatRequester(r, localNat, now, SEED);

/** Runs ticks at the given times (ms), returning the last step and every probe sent. */
function ticks(state: NatRequesterState, counter: bigint, times: number[]): { step: NatStep; sent: NatProbe[][] } {
  let step: NatStep = { state, counter, probes: [] };
  const sent: NatProbe[][] = [];
  for (const t of times) {
    step = natTick(step.state, t, step.counter);
    sent.push(step.probes);
  }
  return { step, sent };
}

describe('start', () => {
  it('probes the private and the public IP at once with the next request numbers, the legacy choice in force, not final', () => {
    const step = start();
    assert.deepEqual(step.probes, [
      { target: 'private', ip: '192.168.1.2', port: 4490, requestNumber: 1001n },
      { target: 'public', ip: '198.18.0.1', port: 4490, requestNumber: 1002n },
    ]);
    assert.equal(step.counter, 1002n);
    assert.deepEqual(natView(step.state), { ip: '192.168.1.2', useNat: false, final: false, basis: 'provisional', probing: true, lastError: undefined, errorCount: 0 });
  });

  it('probes only the addresses the remote gives', () => {
    assert.deepEqual(start({ ...remote, publicIp: '' }).probes.map((p) => p.target), ['private']);
    assert.deepEqual(start({ ...remote, privateIp: '' }).probes.map((p) => p.target), ['public']);
  });

  it('a remote without a discovery port gets the legacy choice, final, and no probes', () => {
    const step = start({ ...remote, discoveryPort: 0, natEnabled: true });
    assert.deepEqual(step.probes, []);
    assert.equal(step.counter, SEED);
    assert.deepEqual(natView(step.state), { ip: '198.18.0.1', useNat: true, final: true, basis: 'no-discovery', probing: false, lastError: undefined, errorCount: 0 });
  });

  it('the request counter wraps at 2^64 like Go\'s uint64', () => {
    const step = startNatRequester(remote, false, 0, 2n ** 64n - 1n);
    assert.deepEqual(step.probes.map((p) => p.requestNumber), [0n, 1n]);
  });
});

describe('the legacy choice', () => {
  it('private without NAT, unless the remote or this side is NATed or behind a load balancer and there is a public IP', () => {
    assert.deepEqual(legacySelection(remote, false), { ip: '192.168.1.2', useNat: false });
    assert.deepEqual(legacySelection({ ...remote, natEnabled: true }, false), { ip: '198.18.0.1', useNat: true });
    assert.deepEqual(legacySelection(remote, true), { ip: '198.18.0.1', useNat: true });
    assert.deepEqual(legacySelection({ ...remote, usingLoadBalancer: true }, false), { ip: '198.18.0.1', useNat: true });
    assert.deepEqual(legacySelection({ ...remote, natEnabled: true, publicIp: '' }, true), { ip: '192.168.1.2', useNat: false });
  });
});

describe('probing', () => {
  it('sends to both again once the last send is 2 s old, on 1 s ticks', () => {
    const first = start();
    const { sent, step } = ticks(first.state, first.counter, [1000, 1999, 2000, 3000, 4000]);
    assert.deepEqual(sent.map((probes) => probes.map((p) => `${p.target}:${p.requestNumber}`)), [
      [], [], ['private:1003', 'public:1004'], [], ['private:1005', 'public:1006'],
    ]);
    assert.equal(step.state.probing, true);
    assert.equal(step.state.selection.basis, 'provisional');
  });

  it('falls back to the legacy choice, final, after 6 s without an answer', () => {
    const first = start({ ...remote, natEnabled: true });
    const { sent, step } = ticks(first.state, first.counter, [1000, 2000, 3000, 4000, 5000, 5999]);
    assert.equal(step.state.probing, true);
    assert.equal(sent.flat().length, 4, 'two more rounds of two');
    const fallback = natTick(step.state, 6000, step.counter);
    assert.deepEqual(fallback.probes, []);
    assert.deepEqual(natView(fallback.state), { ip: '198.18.0.1', useNat: true, final: true, basis: 'fallback', probing: false, lastError: undefined, errorCount: 0 });
    assert.deepEqual(natTick(fallback.state, 9000, fallback.counter).probes, [], 'no probes after the selection');
  });

  it('the fallback time is a setting (Submariner waits 60 s)', () => {
    const settings = { ...DEFAULT_NAT_REQUESTER_SETTINGS, timeoutMs: 60_000 };
    const first = startNatRequester(remote, false, 0, SEED, settings);
    assert.equal(natTick(first.state, 6000, first.counter, settings).state.probing, true);
    assert.equal(natTick(first.state, 60_000, first.counter, settings).state.selection.basis, 'fallback');
  });
});

describe('answers', () => {
  it('private wins: an answer to the private probe from the private IP selects it, final', () => {
    const first = start();
    const { state, outcome } = natResponse(first.state, reply(probeOf(first, 'private').requestNumber), '192.168.1.2', 50);
    assert.deepEqual(outcome, { kind: 'selected', target: 'private' });
    assert.deepEqual(natView(state), { ip: '192.168.1.2', useNat: false, final: true, basis: 'private-reply', probing: false, lastError: undefined, errorCount: 0 });
    assert.deepEqual(natTick(state, 2000, first.counter).probes, [], 'no more probes');
    // The public answer that follows changes nothing (its number is no longer outstanding).
    const late = natResponse(state, reply(probeOf(first, 'public').requestNumber, ResponseType.NAT_DETECTED), '198.18.0.1', 60);
    assert.deepEqual(late.outcome, { kind: 'ignored', why: 'unknown-request' });
    assert.equal(late.state, state);
  });

  it('a private answer saying NAT_DETECTED selects private with NAT (this side is behind NAT)', () => {
    const first = start();
    const { state } = natResponse(first.state, reply(probeOf(first, 'private').requestNumber, ResponseType.NAT_DETECTED), '192.168.1.2', 50);
    assert.deepEqual([state.selection.ip, state.selection.useNat], ['192.168.1.2', true]);
  });

  it('an answer to the private probe from another address is refused', () => {
    const first = start();
    const { state, outcome } = natResponse(first.state, reply(probeOf(first, 'private').requestNumber), '198.18.0.1', 50);
    assert.deepEqual(outcome, { kind: 'ignored', why: 'wrong-source' });
    assert.equal(state.probing, true);
  });

  it('public with NAT: an answer to the public probe selects it with useNat = NAT_DETECTED, from wherever it comes', () => {
    const first = start();
    const { state, outcome } = natResponse(first.state, reply(probeOf(first, 'public').requestNumber, ResponseType.NAT_DETECTED), '203.0.113.5', 100);
    assert.deepEqual(outcome, { kind: 'selected', target: 'public' });
    assert.deepEqual(natView(state), { ip: '198.18.0.1', useNat: true, final: false, basis: 'public-reply', probing: false, lastError: undefined, errorCount: 0 });
    // Final once the upgrade window (1 s) has passed, on a tick; no probes meanwhile.
    assert.deepEqual(natTick(state, 1000, first.counter).probes, []);
    assert.equal(natTick(state, 1100, first.counter).state.selection.final, false);
    const closed = natTick(state, 1101, first.counter).state;
    assert.deepEqual([closed.selection.ip, closed.selection.final, closed.selection.basis], ['198.18.0.1', true, 'public-reply']);
  });

  it('an OK answer on the public IP selects it without NAT', () => {
    const first = start();
    assert.equal(natResponse(first.state, reply(probeOf(first, 'public').requestNumber), '198.18.0.1', 100).state.selection.useNat, false);
  });

  it('upgrade to private: a private answer within 1 s of the public selection replaces it', () => {
    const first = start();
    const pub = natResponse(first.state, reply(probeOf(first, 'public').requestNumber, ResponseType.NAT_DETECTED), '198.18.0.1', 100).state;
    const upgraded = natResponse(pub, reply(probeOf(first, 'private').requestNumber), '192.168.1.2', 1100);
    assert.deepEqual(upgraded.outcome, { kind: 'selected', target: 'private' });
    assert.deepEqual(natView(upgraded.state), { ip: '192.168.1.2', useNat: false, final: true, basis: 'private-reply', probing: false, lastError: undefined, errorCount: 0 });
    const tooLate = natResponse(pub, reply(probeOf(first, 'private').requestNumber), '192.168.1.2', 1101);
    assert.deepEqual(tooLate.outcome, { kind: 'ignored', why: 'late' });
    assert.equal(tooLate.state.selection.ip, '198.18.0.1');
  });

  it('a public answer is final at once when no private probe is outstanding', () => {
    const first = start({ ...remote, privateIp: '' });
    const { state } = natResponse(first.state, reply(probeOf(first, 'public').requestNumber), '198.18.0.1', 100);
    assert.equal(state.selection.final, true);
  });

  it('a second public answer after the public selection changes nothing', () => {
    const first = start();
    const resent = natTick(first.state, 2000, first.counter);
    const pub = natResponse(resent.state, reply(probeOf(first, 'public').requestNumber), '198.18.0.1', 2100).state;
    const again = natResponse(pub, reply(probeOf(resent, 'public').requestNumber, ResponseType.NAT_DETECTED), '198.18.0.1', 2200);
    assert.deepEqual(again.outcome, { kind: 'ignored', why: 'late' });
    assert.equal(again.state.selection.useNat, false);
  });

  it('error answers are recorded and probing goes on until a usable answer or the fallback', () => {
    const first = start();
    const err = natResponse(first.state, reply(probeOf(first, 'public').requestNumber, ResponseType.UNKNOWN_DST_CLUSTER), '198.18.0.1', 100);
    assert.deepEqual(err.outcome, { kind: 'error', error: { response: ResponseType.UNKNOWN_DST_CLUSTER, target: 'public', from: '198.18.0.1', atMs: 100 } });
    assert.equal(err.state.probing, true);
    assert.equal(err.state.selection.basis, 'provisional');
    assert.deepEqual(natView(err.state).lastError?.response, ResponseType.UNKNOWN_DST_CLUSTER);
    const mal = natResponse(err.state, reply(probeOf(first, 'private').requestNumber, ResponseType.MALFORMED), '192.168.1.2', 200).state;
    assert.equal(mal.errorCount, 2);
    const resent = natTick(mal, 2000, first.counter);
    assert.equal(resent.probes.length, 2, 'still probing');
    const ok = natResponse(resent.state, reply(probeOf(resent, 'private').requestNumber), '192.168.1.2', 2100).state;
    assert.deepEqual([ok.selection.basis, ok.errorCount, ok.lastError?.response], ['private-reply', 2, ResponseType.MALFORMED], 'the errors stay for status');
  });

  it('answers to numbers never sent, or forgotten, are ignored', () => {
    const first = start();
    assert.deepEqual(natResponse(first.state, reply(999n), '192.168.1.2', 10).outcome, { kind: 'ignored', why: 'unknown-request' });
    assert.deepEqual(natResponse(first.state, reply(1003n), '192.168.1.2', 10).outcome, { kind: 'ignored', why: 'unknown-request' });
    // Only the last maxOutstanding (8) numbers count: after five rounds of two, the first round's are gone.
    const settings = { ...DEFAULT_NAT_REQUESTER_SETTINGS, timeoutMs: 60_000 };
    let step: NatStep = first;
    for (const t of [2000, 4000, 6000, 8000]) step = natTick(step.state, t, step.counter, settings);
    assert.equal(step.counter, 1010n);
    assert.deepEqual(natResponse(step.state, reply(1002n), '198.18.0.1', 8100, settings).outcome, { kind: 'ignored', why: 'unknown-request' });
    assert.deepEqual(natResponse(step.state, reply(1003n), '192.168.1.2', 8100, settings).outcome, { kind: 'selected', target: 'private' });
  });

  it('answers missing sender, receiver or received_src are refused as malformed', () => {
    const first = start();
    const number = probeOf(first, 'private').requestNumber;
    for (const field of ['sender', 'receiver', 'receivedSrc'] as const) {
      const { [field]: _dropped, ...rest } = reply(number);
      assert.deepEqual(natResponse(first.state, rest, '192.168.1.2', 10).outcome, { kind: 'ignored', why: 'malformed' }, field);
    }
  });
});

describe('reprobe and spec changes', () => {
  const selectedPrivate = () => {
    const first = start();
    return { state: natResponse(first.state, reply(probeOf(first, 'private').requestNumber), '192.168.1.2', 50).state, counter: first.counter };
  };

  it('reprobe restarts probing with the current selection in force, not final', () => {
    const { state, counter } = selectedPrivate();
    const step = natReprobe(state, 30_000, counter);
    assert.deepEqual(step.probes.map((p) => `${p.target}:${p.requestNumber}`), ['private:1003', 'public:1004']);
    assert.deepEqual(natView(step.state), { ip: '192.168.1.2', useNat: false, final: false, basis: 'private-reply', probing: true, lastError: undefined, errorCount: 0 });
    // Old numbers no longer count; the new round decides.
    assert.deepEqual(natResponse(step.state, reply(1001n), '192.168.1.2', 30_010).outcome, { kind: 'ignored', why: 'unknown-request' });
    const pub = natResponse(step.state, reply(1004n, ResponseType.NAT_DETECTED), '198.18.0.1', 30_020).state;
    assert.deepEqual([pub.selection.ip, pub.selection.basis], ['198.18.0.1', 'public-reply']);
  });

  it('a reprobe nobody answers ends in the fallback after the timeout', () => {
    const { state, counter } = selectedPrivate();
    const step = natReprobe(state, 30_000, counter);
    assert.equal(natTick(step.state, 35_999, step.counter).state.probing, true);
    assert.equal(natTick(step.state, 36_000, step.counter).state.selection.basis, 'fallback');
  });

  it('reprobe while probing, or for a remote without a discovery port, changes nothing (the fallback cannot be put off)', () => {
    const first = start();
    const again = natReprobe(first.state, 3000, first.counter);
    assert.equal(again.state, first.state);
    assert.deepEqual(again.probes, []);
    const legacy = start({ ...remote, discoveryPort: 0 });
    assert.equal(natReprobe(legacy.state, 3000, legacy.counter).state, legacy.state);
  });

  it('the same remote again changes nothing; a changed one starts over', () => {
    const { state, counter } = selectedPrivate();
    const same = natRemoteChanged(state, { ...remote }, 10_000, counter);
    assert.equal(same.state, state);
    assert.deepEqual(same.probes, []);
    // A new public IP: the private selection is still valid and stays in force while probing.
    const newPublic = natRemoteChanged(state, { ...remote, publicIp: '198.18.0.9' }, 10_000, counter);
    assert.deepEqual(newPublic.probes.map((p) => p.ip), ['192.168.1.2', '198.18.0.9']);
    assert.deepEqual([newPublic.state.selection.ip, newPublic.state.selection.final, newPublic.state.probing], ['192.168.1.2', false, true]);
    // A new private IP: the old address is gone, the legacy choice is provisional again.
    const newPrivate = natRemoteChanged(state, { ...remote, privateIp: '192.168.1.7', natEnabled: true }, 10_000, counter);
    assert.deepEqual(natView(newPrivate.state), { ip: '198.18.0.1', useNat: true, final: false, basis: 'provisional', probing: true, lastError: undefined, errorCount: 0 });
    // Losing the discovery port: the legacy choice, final.
    assert.equal(natRemoteChanged(state, { ...remote, discoveryPort: 0 }, 10_000, counter).state.selection.basis, 'no-discovery');
  });
});

describe('plain data', () => {
  it('never changes the state it is given', () => {
    const first = start();
    const frozen = Object.freeze({ ...first.state, selection: Object.freeze({ ...first.state.selection }), outstanding: Object.freeze([...first.state.outstanding]) });
    const copy = structuredClone(frozen);
    natTick(frozen, 2000, first.counter);
    natTick(frozen, 7000, first.counter);
    natResponse(frozen, reply(1001n), '192.168.1.2', 10);
    natResponse(frozen, reply(1002n, ResponseType.MALFORMED), '198.18.0.1', 10);
    natReprobe(frozen, 10, first.counter);
    natRemoteChanged(frozen, { ...remote, publicIp: '' }, 10, first.counter);
    assert.deepEqual(frozen, copy);
  });
});

describe('requests and remotes', () => {
  it('builds the request Submariner sends: us as sender, the remote cable as receiver, the source and target', () => {
    const probe: NatProbe = { target: 'public', ip: '198.18.0.1', port: 4490, requestNumber: 7n };
    const local = { clusterId: 'east', endpointId: 'submariner-cable-east-10-0-0-1', privateIp: '10.0.0.1' };
    assert.deepEqual(natDiscoveryRequest(local, 4490, remote, probe, '10.0.0.1'), {
      version: 1,
      request: {
        requestNumber: 7n,
        sender: { clusterId: 'east', endpointId: 'submariner-cable-east-10-0-0-1' },
        receiver: { clusterId: 'west', endpointId: 'submariner-cable-west-192-168-1-2' },
        usingSrc: { ip: '10.0.0.1', port: 4490 },
        usingDst: { ip: '198.18.0.1', port: 4490 },
      },
    });
  });

  it('reads the discovery facts of an Endpoint', () => {
    const spec = {
      clusterId: 'west', cableName: remote.cableName, hostname: 'gw', subnets: [], privateIp: '192.168.1.2', privateIps: ['192.168.1.2'],
      publicIps: ['198.18.0.1'], healthCheckIps: [], natEnabled: true, backend: 'libreswan',
      backendConfig: { 'natt-discovery-port': '4490', 'using-loadbalancer': 'True' },
    } satisfies EndpointSpec;
    assert.deepEqual(natRemoteFromEndpoint(spec), { ...remote, natEnabled: true, usingLoadBalancer: true });
    for (const bad of ['', 'x', '-1', '70000', '4490.5', '1e3']) {
      assert.equal(natRemoteFromEndpoint({ ...spec, backendConfig: { 'natt-discovery-port': bad } }).discoveryPort, 0, bad);
    }
    assert.equal(natRemoteFromEndpoint({ ...spec, backendConfig: {} }).discoveryPort, 0);
    assert.equal(natRemoteFromEndpoint({ ...spec, backendConfig: { 'using-loadbalancer': 'yes' } }).usingLoadBalancer, false);
    assert.equal(natRemoteFromEndpoint({ ...spec, publicIps: [] }).publicIp, '');
  });
});
