import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, agentDiagnoseConfig, helpText, parseConfig, type DiagnoseConfig, type RunConfig } from '../../src/config.ts';

const ENV = { SUBMARINER_CLUSTERID: 'east', NODE_NAME: 'east-w1', SUBMARINER_CLUSTERCIDR: '10.1.0.0/16', SUBMARINER_SERVICECIDR: '10.101.0.0/16' };
const diagnose = (argv: string[] = [], env: Record<string, string> = ENV) => parseConfig(['diagnose', ...argv], env) as DiagnoseConfig;
const problems = (argv: string[], env: Record<string, string> = ENV): string => {
  try {
    parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  assert.fail('expected a ConfigError');
};

test('diagnose reads the route agent pod\'s environment: the cluster settings and its listen address, with run\'s defaults', () => {
  const config = diagnose([], { ...ENV, SEAWAY_HOST_IP: '192.168.1.12', SEAWAY_STATUS_SOCKET: '/run/seaway/route-agent.sock' });
  assert.equal(config.command, 'diagnose');
  assert.deepEqual([config.clusterId, config.nodeName, config.podCidrs, config.namespace], ['east', 'east-w1', ['10.1.0.0/16'], 'submariner-operator']);
  assert.deepEqual(config.listen, [{ kind: 'tcp', host: '192.168.1.12', port: 9082 }]);
  assert.deepEqual(config.gatewayListen, [{ kind: 'tcp', host: '192.168.1.12', port: 9083 }], 'the gateway beside the route agent, on its default port');
  assert.equal(config.gatewayStatusSocket, '/run/seaway/gateway.sock', 'beside a status socket placed on purpose');
  assert.deepEqual([config.all, config.json, config.broker, config.leaseName, config.remoteStaleSeconds, config.brokerNamespace], [false, false, null, 'seaway-gateway-lock', 120, 'submariner-k8s-broker']);
});

test('without a status socket given, the gateway\'s is its own default; the diagnose-only settings are read and checked', () => {
  assert.equal(diagnose().gatewayStatusSocket, '/var/lib/seaway/gateway/gateway.sock');
  const config = diagnose(['--all', '--json', '--gateway-listen', ':8083', '--gateway-status-socket', '/x/g.sock', '--remote-stale-seconds', '30', '--lease-name', 'lock']);
  assert.deepEqual([config.all, config.json, config.gatewayListen, config.gatewayStatusSocket, config.remoteStaleSeconds, config.leaseName],
    [true, true, [{ kind: 'tcp', host: '0.0.0.0', port: 8083 }], '/x/g.sock', 30, 'lock']);
  assert.match(problems(['diagnose', '--gateway-listen', 'nonsense']), /--gateway-listen \(env SEAWAY_GATEWAY_LISTEN\): value "nonsense" from --gateway-listen contains "nonsense"/);
  assert.match(problems(['diagnose', '--gateway-status-socket', 'relative.sock']), /--gateway-status-socket .*must be absolute/);
  assert.match(problems(['diagnose', '--lease-name', 'submariner-gateway-lock']), /Submariner's gateway Lease/);
});

test('the broker is checked only where its credentials are given; half of Submariner\'s form is a configuration error', () => {
  assert.deepEqual(diagnose(['--broker-kubeconfig', '/etc/seaway/broker/kubeconfig']).broker, { kind: 'kubeconfig', path: '/etc/seaway/broker/kubeconfig' });
  assert.match(problems(['diagnose'], { ...ENV, BROKER_K8S_APISERVER: 'https://198.18.0.1:6443' }), /is required for "seaway diagnose"/);
});

test('--all and --json belong to diagnose (and --json to status); diagnose-only flags are refused by the agents', () => {
  assert.match(problems(['run', '--all'], ENV), /--all is only for "seaway diagnose"/);
  assert.match(problems(['gateway', '--json'], ENV), /--json is only for "seaway status"/);
  assert.match(problems(['run', '--gateway-listen', ':9083'], ENV), /--gateway-listen is not a setting of "seaway run" \(only of "seaway diagnose"\)/);
  assert.match(problems(['diagnose'], {}), /--cluster-id .* is required for "seaway diagnose"/);
});

test('the route agent\'s own /diagnose: the agent\'s settings, and diagnose\'s from its environment only', () => {
  const run = parseConfig(['run', '--listen', '10.0.0.5:8080'], { ...ENV, SEAWAY_STATE_DIR: '/lab/node/state' }) as RunConfig;
  const config = agentDiagnoseConfig(run, { SEAWAY_GATEWAY_LISTEN: ':8083' });
  assert.deepEqual([config.command, config.clusterId, config.listen, config.gatewayListen, config.statusSocket, config.gatewayStatusSocket, config.broker],
    ['diagnose', 'east', [{ kind: 'tcp', host: '10.0.0.5', port: 8080 }], [{ kind: 'tcp', host: '0.0.0.0', port: 8083 }], '/lab/node/state/seaway.sock', '/var/lib/seaway/gateway/gateway.sock', null]);
  assert.deepEqual(agentDiagnoseConfig(run, {}).gatewayListen, [{ kind: 'tcp', host: '10.0.0.5', port: 9083 }]);
  assert.throws(() => agentDiagnoseConfig(run, { SEAWAY_GATEWAY_STATUS_SOCKET: 'relative' }), ConfigError);
});

test('--help describes diagnose and its own settings before the agents\' sections', () => {
  const help = helpText();
  assert.match(help, /^ {2}diagnose {2}probe this node for real/m);
  const own = help.slice(help.indexOf('Settings of diagnose only'), help.indexOf('Settings of run and gateway:'));
  assert.ok(own.includes('  --gateway-listen VALUE') && own.includes('  --gateway-status-socket VALUE'));
  assert.ok(help.indexOf('Settings of diagnose only') < help.indexOf('Settings of run and gateway:'));
});
