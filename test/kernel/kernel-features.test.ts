/**
 * The kernel feature probes against this machine's kernel, in a throwaway namespace: it reports rule
 * protocols and offers nf_tables notifications; with every IPv4 rule deleted the rule probe cannot tell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { probeKernelFeatures } from '../../src/kernel/kernel-features.ts';
import { checkKernelFeatures } from '../../src/startup/kernel-features.ts';
import { Readiness } from '../../src/server/readiness.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

await runInsideNetns(import.meta.url, 'kfeat');
requireTools('ip', 'nft');

test('this kernel reports rule protocols and offers nf_tables change notifications: the start-up check says nothing', async () => {
  // The probe's premise, as iproute2 sees it: the default rules carry a protocol.
  assert.match((await run('ip', ['-d', 'rule', 'show'])).stdout, /lookup main proto kernel/);
  assert.deepEqual(await probeKernelFeatures({ timeoutMs: 5000 }), { ruleProtocol: { result: 'reported' }, nftNotifications: { available: true } });
  const { logger, lines } = captureLogger();
  const readiness = new Readiness({});
  await checkKernelFeatures({ readiness, logger, probe: () => probeKernelFeatures({ timeoutMs: 5000 }) });
  assert.deepEqual(lines, []);
  assert.equal(readiness.ready, true);
});

test('with no IPv4 rule left the rule probe cannot tell, and says why', async () => {
  for (const priority of ['0', '32766', '32767']) await run('ip', ['rule', 'del', 'priority', priority]);
  assert.equal((await run('ip', ['-4', 'rule', 'show'])).stdout.trim(), '');
  const probes = await probeKernelFeatures({ timeoutMs: 5000 });
  assert.deepEqual(probes.ruleProtocol, { result: 'unknown', reason: 'there is no IPv4 policy rule to look at' });
});
