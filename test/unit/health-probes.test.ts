import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HEALTH_SETTINGS, expireProbes, healthSettingsProblem, newTarget, ownHealthCheckIp, probeIntervalMs, probeSent, replyReceived,
} from '../../src/plan/health-probes.ts';

describe('health probes', () => {
  it('unknown until a reply or maxLoss losses in a row; a reply makes it healthy and forgets the losses', () => {
    let t = newTarget('10.2.1.1');
    assert.equal(t.verdict, 'unknown');
    for (let seq = 0; seq < 4; seq++) t = expireProbes(probeSent(t, seq, seq * 1000), seq * 1000 + 1001, 1000, 5);
    assert.equal(t.lostInARow, 4);
    assert.equal(t.verdict, 'unknown', 'four lost of five is not yet an error');
    t = expireProbes(probeSent(t, 4, 4000), 5001, 1000, 5);
    assert.equal(t.verdict, 'unhealthy');
    t = replyReceived(probeSent(t, 5, 5000), 5, 5002);
    assert.deepEqual([t.verdict, t.lostInARow, t.lastReplyAtMs, t.outstanding.size], ['healthy', 0, 5002, 0]);
  });

  it('a healthy target turns unhealthy only after maxLoss lost in a row; a probe still within the timeout is not lost', () => {
    let t = replyReceived(probeSent(newTarget('x'), 1, 0), 1, 1);
    t = probeSent(t, 2, 1000);
    assert.equal(expireProbes(t, 1999, 1000, 1), t, 'nothing expired: the same state');
    t = expireProbes(t, 2001, 1000, 2);
    assert.deepEqual([t.verdict, t.lostInARow], ['healthy', 1]);
    t = expireProbes(probeSent(t, 3, 2000), 3001, 1000, 2);
    assert.deepEqual([t.verdict, t.lostInARow], ['unhealthy', 2]);
  });

  it('only the probes past the timeout are dropped from the outstanding ones; the rest stay with their send times', () => {
    let t = newTarget('x');
    for (const [seq, at] of [[1, 0], [2, 500], [3, 1001], [4, 1500], [5, 2500]] as const) t = probeSent(t, seq, at);
    const expired = expireProbes(t, 2001, 1000, 9);
    assert.deepEqual([...expired.outstanding], [[3, 1001], [4, 1500], [5, 2500]], 'a probe exactly the timeout old is still waited for');
    assert.equal(expired.lostInARow, 2);
    assert.equal(t.outstanding.size, 5, 'the state it was given is untouched');
  });

  it('a late reply to a probe already counted lost still proves the path', () => {
    let t = expireProbes(probeSent(newTarget('x'), 7, 0), 5000, 1000, 1);
    assert.equal(t.verdict, 'unhealthy');
    t = replyReceived(t, 7, 5001);
    assert.equal(t.verdict, 'healthy');
  });

  it('the state is never mutated', () => {
    const t = newTarget('x');
    const sent = probeSent(t, 1, 0);
    assert.equal(t.outstanding.size, 0);
    replyReceived(sent, 1, 5);
    assert.equal(sent.outstanding.size, 1);
  });

  it('the node\'s budget stretches the interval when there are many targets', () => {
    assert.equal(probeIntervalMs(1, DEFAULT_HEALTH_SETTINGS), 1000);
    assert.equal(probeIntervalMs(100, DEFAULT_HEALTH_SETTINGS), 1000);
    assert.equal(probeIntervalMs(1000, DEFAULT_HEALTH_SETTINGS), 10_000, 'a thousand remotes: one probe each per 10 s, 100 a second in all');
    assert.equal(probeIntervalMs(0, DEFAULT_HEALTH_SETTINGS), 1000);
  });

  it('unusable settings are named', () => {
    assert.equal(healthSettingsProblem(DEFAULT_HEALTH_SETTINGS), null);
    assert.match(String(healthSettingsProblem({ ...DEFAULT_HEALTH_SETTINGS, intervalMs: 5 })), /interval/);
    assert.match(String(healthSettingsProblem({ ...DEFAULT_HEALTH_SETTINGS, maxLoss: 0 })), /lost-probe limit/);
    assert.match(String(healthSettingsProblem({ ...DEFAULT_HEALTH_SETTINGS, maxProbesPerSecond: Number.NaN })), /budget/);
  });
});

describe('the address a remote is health-checked at', () => {
  it('its first healthCheckIP, only inside one of its own subnets', () => {
    assert.equal(ownHealthCheckIp(['10.2.1.1', '10.2.9.9'], ['10.2.0.0/16']), '10.2.1.1');
    assert.equal(ownHealthCheckIp(['10.2.1.1'], ['10.102.0.0/16', '10.2.0.0/16']), '10.2.1.1');
    assert.equal(ownHealthCheckIp(['192.168.1.1'], ['10.2.0.0/16']), undefined, 'an address outside its ranges (another network\'s) is never probed');
    assert.equal(ownHealthCheckIp([], ['10.2.0.0/16']), undefined);
    assert.equal(ownHealthCheckIp(['not an address'], ['10.2.0.0/16']), undefined);
    assert.equal(ownHealthCheckIp(['10.2.1.1'], ['garbage']), undefined);
  });
});
