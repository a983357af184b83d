import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULTS, parseConfig, type RunConfig } from '../../src/config.ts';

const MINIMAL = ['run', '--cluster-id', 'east', '--node-name', 'node-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'];
const run = (argv: string[], env: Record<string, string> = {}) => parseConfig(argv, env) as RunConfig;

test('--max-remote-subnets: default 10,000, from the flag or SEAWAY_MAX_REMOTE_SUBNETS, up to what a filter set holds', () => {
  assert.equal(run(MINIMAL).maxRemoteSubnets, DEFAULTS.maxRemoteSubnets);
  assert.equal(DEFAULTS.maxRemoteSubnets, 10_000);
  assert.equal(run([...MINIMAL, '--max-remote-subnets', '262144']).maxRemoteSubnets, 262_144);
  assert.equal(run(MINIMAL, { SEAWAY_MAX_REMOTE_SUBNETS: '500' }).maxRemoteSubnets, 500);
  for (const bad of ['0', '262145', '1.5', '-1', 'many']) {
    assert.throws(() => run([...MINIMAL, '--max-remote-subnets', bad]), (error: unknown) =>
      error instanceof ConfigError && /^--max-remote-subnets \(env SEAWAY_MAX_REMOTE_SUBNETS\): value/.test(error.problems[0] ?? ''), bad);
  }
});

test('the API server addresses start from KUBERNETES_SERVICE_HOST when it is IPv4', () => {
  assert.deepEqual(run(MINIMAL).apiServerAddresses, []);
  assert.deepEqual(run(MINIMAL, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }).apiServerAddresses, ['10.96.0.1']);
  assert.deepEqual(run(MINIMAL, { KUBERNETES_SERVICE_HOST: 'fd00::1' }).apiServerAddresses, []);
  assert.deepEqual(run(MINIMAL, { KUBERNETES_SERVICE_HOST: 'kubernetes.default' }).apiServerAddresses, []);
});
