import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeKernelFeatures, NFT_NOTIFICATIONS, RULE_PROTOCOL, type KernelFeatureProbes } from '../../src/model/kernel-features.ts';
import { ruleProtocolInDump } from '../../src/kernel/kernel-features.ts';
import { encodeRuleRequest } from '../../src/kernel/rules.ts';
import { checkKernelFeatures, KERNEL_FEATURES } from '../../src/startup/kernel-features.ts';
import { Readiness } from '../../src/server/readiness.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

const ALL_THERE: KernelFeatureProbes = { ruleProtocol: { result: 'reported' }, nftNotifications: { available: true } };

test('a kernel with every feature: nothing said, nothing unmet', () => {
  assert.deepEqual(judgeKernelFeatures(ALL_THERE), { unmet: null, problems: [] });
});

test('no rule protocol: an error naming the feature and what it breaks, and an unmet readiness reason', () => {
  const verdict = judgeKernelFeatures({ ...ALL_THERE, ruleProtocol: { result: 'not-reported' } });
  assert.equal(verdict.problems.length, 1);
  assert.equal(verdict.problems[0]!.level, 'error');
  assert.equal(verdict.problems[0]!.feature, RULE_PROTOCOL);
  assert.match(verdict.problems[0]!.message, /^this kernel does not report ip rule protocols \(needs Linux 4\.17\): seaway cannot tell its policy rules from others'/);
  assert.equal(verdict.unmet, `${RULE_PROTOCOL} missing: ${verdict.problems[0]!.message}`);
});

test('no nf_tables notifications, or a rule check that could not tell: a warning each, readiness unaffected', () => {
  const verdict = judgeKernelFeatures({
    ruleProtocol: { result: 'unknown', reason: 'there is no IPv4 policy rule to look at' },
    nftNotifications: { available: false, reason: 'nf_tables refused a generation request (EINVAL)' },
  });
  assert.equal(verdict.unmet, null);
  assert.deepEqual(verdict.problems.map((p) => [p.feature, p.level]), [[RULE_PROTOCOL, 'warn'], [NFT_NOTIFICATIONS, 'warn']]);
  assert.equal(verdict.problems[0]!.message, 'could not check whether this kernel reports ip rule protocols (needs Linux 4.17): there is no IPv4 policy rule to look at');
  assert.match(verdict.problems[1]!.message, /^this kernel offers no nf_tables change notifications \(nf_tables refused a generation request \(EINVAL\)\): packet filter drift is found by a periodic check/);
});

test('the rule dump probe: any IPv4 rule carrying the protocol attribute says reported; none says not; no IPv4 rule cannot tell', () => {
  const rule = (protocol?: number) => Buffer.concat(encodeRuleRequest('create', { priority: 32766, table: 254, ...(protocol === undefined ? {} : { protocol }) }).body);
  const ipv6 = Buffer.from(rule(2));
  ipv6[0] = 10;
  assert.deepEqual(ruleProtocolInDump([rule(2), rule(147)]), { result: 'reported' });
  assert.deepEqual(ruleProtocolInDump([rule(), rule()]), { result: 'not-reported' });
  assert.deepEqual(ruleProtocolInDump([ipv6, Buffer.alloc(4)]), { result: 'unknown', reason: 'there is no IPv4 policy rule to look at' });
});

test('the start-up check logs each problem once at its level and leaves readiness unmet only for what seaway cannot work without', async () => {
  const { logger, lines } = captureLogger();
  const readiness = new Readiness({});
  await checkKernelFeatures({
    readiness, logger,
    probe: async () => ({ ruleProtocol: { result: 'not-reported' }, nftNotifications: { available: false, reason: 'no nfnetlink' } }),
  });
  assert.deepEqual(lines.map((l) => [l.level, l.feature]), [[50, RULE_PROTOCOL], [40, NFT_NOTIFICATIONS]]);
  assert.equal(readiness.ready, false);
  assert.match(readiness.reasons[0]!, new RegExp(`^${KERNEL_FEATURES}: rule protocol \\(FRA_PROTOCOL\\) missing: this kernel does not report ip rule protocols`));

  const quiet = captureLogger();
  const fine = new Readiness({});
  await checkKernelFeatures({ readiness: fine, logger: quiet.logger, probe: async () => ALL_THERE });
  assert.deepEqual(quiet.lines, []);
  assert.equal(fine.ready, true);
});
