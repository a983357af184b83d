import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultListen, helpText, parseConfig, type RunConfig } from '../../src/config.ts';

const MINIMAL = ['run', '--cluster-id', 'east', '--node-name', 'node-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'];
const run = (argv: string[], env: Record<string, string> = {}) => parseConfig(argv, env) as RunConfig;

test('without --listen, /metrics and the probes are served on the host IP (status.hostIP, any family), port 9082; the node IP when only it is given', () => {
  for (const [argv, env] of [[['--host-ip', '192.168.1.12'], {}], [[], { SEAWAY_HOST_IP: '192.168.1.12' }], [['--node-ip', '192.168.1.99'], { SEAWAY_HOST_IP: '192.168.1.12' }]] as const) {
    const config = run([...MINIMAL, ...argv], env);
    assert.deepEqual(config.listen, [{ kind: 'tcp', host: '192.168.1.12', port: 9082 }], JSON.stringify([argv, env]));
    assert.deepEqual(config.warnings, []);
  }
  // An IPv6-primary dual-stack node: status.hostIP is IPv6; the VXLAN underlay stays IPv4 (the InternalIP).
  const v6 = run(MINIMAL, { SEAWAY_HOST_IP: 'fd00:10::12' });
  assert.deepEqual(v6.listen, [{ kind: 'tcp', host: 'fd00:10::12', port: 9082 }]);
  assert.equal(v6.nodeIp, null);
  assert.throws(() => run([...MINIMAL, '--host-ip', 'node-1']), (error: unknown) => error instanceof ConfigError && /--host-ip \(env SEAWAY_HOST_IP\): .*is not an IPv4 or IPv6 address/.test(error.message));

  for (const [argv, env] of [[['--node-ip', '192.168.1.12'], {}], [[], { SEAWAY_NODE_IP: '192.168.1.12' }]] as const) {
    const config = run([...MINIMAL, ...argv], env);
    assert.deepEqual(config.listen, [{ kind: 'tcp', host: '192.168.1.12', port: 9082 }]);
    assert.deepEqual(config.warnings, []);
  }
});

test('without --listen or a node IP: loopback only, and a warning saying what cannot reach it and what to set', () => {
  const config = run(MINIMAL);
  assert.deepEqual(config.listen, [{ kind: 'tcp', host: '127.0.0.1', port: 9082 }]);
  assert.equal(config.warnings.length, 1);
  assert.equal(config.warnings[0], '--listen (env SEAWAY_LISTEN) is not set and neither is --host-ip (env SEAWAY_HOST_IP) or --node-ip (env SEAWAY_NODE_IP): /metrics, /healthz and /readyz '
    + 'are served on 127.0.0.1:9082 only, which neither Prometheus nor the kubelet\'s probes reach; give SEAWAY_HOST_IP from the downward API (status.hostIP), or --listen');
  assert.deepEqual(defaultListen(null), { listen: '127.0.0.1:9082', warning: config.warnings[0] });
});

test('--listen wins over the node IP and sets any port, all interfaces included when asked for', () => {
  assert.deepEqual(run([...MINIMAL, '--node-ip', '192.168.1.12', '--listen', ':9100']).listen, [{ kind: 'tcp', host: '0.0.0.0', port: 9100 }]);
  const config = run(MINIMAL, { SEAWAY_LISTEN: '10.0.0.5:8080,unix:/run/seaway/http.sock' });
  assert.deepEqual(config.listen, [{ kind: 'tcp', host: '10.0.0.5', port: 8080 }, { kind: 'unix', path: '/run/seaway/http.sock' }]);
  assert.deepEqual(config.warnings, [], 'an address given is no fallback to warn about');
});

test('--help gives the default and why port 9082', () => {
  const help = helpText();
  const listen = help.slice(help.indexOf('  --listen VALUE'), help.indexOf('  --log-level VALUE'));
  assert.match(listen, /8080 and 8081 of its metrics proxy, 32780-32782 of its gateway, globalnet and route agent/);
  assert.match(listen, /\(default: the host IP \(--host-ip\), else the node IP \(--node-ip\), on port 9082; else 127\.0\.0\.1:9082 with a warning; never every interface, as \/metrics has no authentication\)/);
});
