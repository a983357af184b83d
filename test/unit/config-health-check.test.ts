/**
 * --health-check-interval-seconds (seaway run): how often the route agent probes each remote
 * gateway from this node; 0 disables; a setting of run only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, type RunConfig } from '../../src/config.ts';
import { ROUTE_AGENT_HEALTH_INTERVAL_SECONDS } from '../../src/plan/route-agent-health.ts';

const MINIMAL = ['run', '--cluster-id', 'east', '--node-name', 'node-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'];
const GATEWAY = ['gateway', '--cluster-id', 'east', '--node-name', 'gw-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12', '--psk-file', '/etc/psk', '--broker-kubeconfig', '/etc/broker'];
const run = (argv: string[], env: Record<string, string> = {}) => parseConfig(argv, env) as RunConfig;
const problems = (argv: string[], env: Record<string, string> = {}): string[] => {
  try {
    parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  assert.fail(`expected a ConfigError for ${argv.join(' ')}`);
};

test('--health-check-interval-seconds: default 10, from the flag or SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS (the flag wins), 0 disables', () => {
  assert.equal(run(MINIMAL).healthCheckIntervalSeconds, ROUTE_AGENT_HEALTH_INTERVAL_SECONDS);
  assert.equal(ROUTE_AGENT_HEALTH_INTERVAL_SECONDS, 10);
  assert.equal(run([...MINIMAL, '--health-check-interval-seconds', '60']).healthCheckIntervalSeconds, 60);
  assert.equal(run([...MINIMAL, '--health-check-interval-seconds=0']).healthCheckIntervalSeconds, 0);
  assert.equal(run(MINIMAL, { SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS: '3600' }).healthCheckIntervalSeconds, 3600);
  assert.equal(run([...MINIMAL, '--health-check-interval-seconds', '5'], { SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS: '30' }).healthCheckIntervalSeconds, 5);
  // An empty variable is how a DaemonSet template says "not set".
  assert.equal(run(MINIMAL, { SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS: '' }).healthCheckIntervalSeconds, 10);
});

test('--health-check-interval-seconds: anything but a whole number of seconds from 0 to 3600 is refused, naming the setting and the value', () => {
  for (const bad of ['3601', '-1', '1.5', '10s', 'ten', ' ', '1e3']) {
    const said = problems([...MINIMAL, `--health-check-interval-seconds=${bad}`]);
    assert.equal(said.length, 1, bad);
    assert.match(said[0]!, /^--health-check-interval-seconds \(env SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS\): /, bad);
    assert.match(said[0]!, /is out of range 0-3600|is not a whole number|is empty/, bad);
  }
  assert.match(problems(MINIMAL, { SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS: '99999' })[0]!, /value "99999" from SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS is out of range 0-3600/);
});

test('a setting of run only: the gateway refuses the flag and ignores the variable (its own is --health-check-interval-ms)', () => {
  assert.match(problems([...GATEWAY, '--health-check-interval-seconds', '10']).join('\n'), /--health-check-interval-seconds is not a setting of "seaway gateway" \(only of "seaway run"\)/);
  const gateway = parseConfig(GATEWAY, { SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS: 'nonsense' });
  assert.equal(gateway.command, 'gateway');
  assert.ok(!('healthCheckIntervalSeconds' in gateway));
  assert.match(problems([...MINIMAL, '--health-check-interval-ms', '1000']).join('\n'), /only of "seaway gateway"/);
});

test('--help lists it among the settings of run, with its default and that 0 disables', () => {
  const help = parseConfig(['--help'], {});
  assert.equal(help.command, 'help');
  const text = help.command === 'help' ? help.text : '';
  const runOnly = text.slice(text.indexOf('Settings of run only:'), text.indexOf('Settings of gateway only:'));
  assert.match(runOnly, /--health-check-interval-seconds VALUE\n {6}.*0 disables.*\(default: 10\)\n {6}env: SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS/);
});
