import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULTS, defaultListen, helpText, parseConfig, parseListenAddress, type RunConfig } from '../../src/config.ts';
import { NODE_IP_SETTING, UNDERLAY_SETTING } from '../../src/plan/underlay.ts';

const MINIMAL = ['run', '--cluster-id', 'east', '--node-name', 'node-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'];

function run(argv: string[], env: Record<string, string | undefined> = {}): RunConfig {
  const config = parseConfig(argv, env);
  assert.equal(config.command, 'run');
  return config as RunConfig;
}

function problemsOf(argv: string[], env: Record<string, string | undefined> = {}): string[] {
  try {
    parseConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

test('minimal run configuration gets the documented defaults', () => {
  const config = run(MINIMAL);
  assert.deepEqual(config, {
    command: 'run', clusterId: 'east', namespace: 'submariner-operator', nodeName: 'node-1',
    podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], cniInterface: null, nodeIp: null, underlayInterface: null,
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 9082 }], logLevel: 'info', kubeconfig: null,
    minPrefixLength: 8, maxSubnetsPerEndpoint: DEFAULTS.maxSubnetsPerEndpoint, maxRemoteSubnets: DEFAULTS.maxRemoteSubnets, remoteGraceSeconds: 120, eventBurst: 10, eventIntervalSeconds: 10, apiServerAddresses: [], filterBackend: 'auto',
    resyncSeconds: 30, cniWaitLogSeconds: 15, stateDir: '/var/lib/seaway', statusSocket: '/var/lib/seaway/seaway.sock',
    minPassIntervalMs: 250, retryMinMs: 200, retryMaxMs: 30_000,
    fightRepairs: 5, fightWindowSeconds: 60, fightBackoffMinMs: 5000, fightBackoffMaxMs: 300_000, execTimeoutSeconds: 30, xtablesLock: '/run/xtables.lock', netlinkTimeoutSeconds: 10, shutdownTimeoutSeconds: 10,
    apiQps: 5, apiBurst: 10, apiTimeoutSeconds: 30, apiWatchTimeoutSeconds: 300, apiRetryMinMs: 1000, apiRetryMaxMs: 60_000,
    healthCheckIntervalSeconds: 10,
    warnings: [defaultListen(null).warning],
  });
});

test('every setting is read from its flag, in both --flag value and --flag=value forms', () => {
  const config = run([
    'run', '--cluster-id=west', '--namespace', 'mc', '--node-name=n.example', '--pod-cidrs', '10.1.0.0/16, 10.2.0.0/16',
    '--service-cidrs=10.3.0.0/16', '--cni-interface', 'vxlan.calico', '--listen', '127.0.0.1:9090,[::1]:0,unix:/run/seaway.sock',
    '--log-level', 'debug', '--kubeconfig', '/etc/kube.conf', '--min-prefix-length', '12', '--max-subnets-per-endpoint', '10',
    '--filter-backend', 'nftables', '--resync-seconds', '60', '--cni-wait-log-seconds=5', '--state-dir', '/srv/seaway',
    '--status-socket=/run/s.sock', '--min-pass-interval-ms', '0', '--retry-min-ms', '5', '--retry-max-ms=50',
    '--exec-timeout-seconds', '2', '--netlink-timeout-seconds', '3', '--shutdown-timeout-seconds', '4',
  ]);
  assert.equal(config.stateDir, '/srv/seaway');
  assert.equal(config.statusSocket, '/run/s.sock');
  assert.equal(config.minPassIntervalMs, 0);
  assert.equal(config.retryMinMs, 5);
  assert.equal(config.retryMaxMs, 50);
  assert.equal(config.execTimeoutSeconds, 2);
  assert.equal(config.netlinkTimeoutSeconds, 3);
  assert.equal(config.shutdownTimeoutSeconds, 4);
  assert.equal(config.clusterId, 'west');
  assert.equal(config.namespace, 'mc');
  assert.equal(config.nodeName, 'n.example');
  assert.deepEqual(config.podCidrs, ['10.1.0.0/16', '10.2.0.0/16']);
  assert.deepEqual(config.serviceCidrs, ['10.3.0.0/16']);
  assert.equal(config.cniInterface, 'vxlan.calico');
  assert.deepEqual(config.listen, [
    { kind: 'tcp', host: '127.0.0.1', port: 9090 }, { kind: 'tcp', host: '::1', port: 0 }, { kind: 'unix', path: '/run/seaway.sock' },
  ]);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.kubeconfig, '/etc/kube.conf');
  assert.equal(config.minPrefixLength, 12);
  assert.equal(config.maxSubnetsPerEndpoint, 10);
  assert.equal(config.filterBackend, 'nftables');
  assert.equal(config.resyncSeconds, 60);
  assert.equal(config.cniWaitLogSeconds, 5);
});

test('retry bounds out of order, and a status socket path too long for a unix socket, are refused naming the setting', () => {
  const error = problemsOf(['run', ...MINIMAL.slice(1), '--retry-min-ms', '500', '--retry-max-ms', '100', '--status-socket', `/${'x'.repeat(120)}`]).join('\n');
  assert.match(error, /--retry-max-ms \(env SEAWAY_RETRY_MAX_MS\): 100 is less than --retry-min-ms/);
  assert.match(error, /--status-socket \(env SEAWAY_STATUS_SOCKET\): .*longer than 107 bytes/);
});

test('the tug-of-war settings, from flags or SEAWAY_* variables; out of range or out of order is refused naming the setting', () => {
  const config = run([...MINIMAL, '--fight-repairs', '3', '--fight-window-seconds=10', '--fight-backoff-min-ms', '2000'], { SEAWAY_FIGHT_BACKOFF_MAX_MS: '8000' });
  assert.deepEqual([config.fightRepairs, config.fightWindowSeconds, config.fightBackoffMinMs, config.fightBackoffMaxMs], [3, 10, 2000, 8000]);
  const error = problemsOf([...MINIMAL, '--fight-repairs', '1', '--fight-window-seconds', '0', '--fight-backoff-min-ms', '9000', '--fight-backoff-max-ms', '8000']).join('\n');
  assert.match(error, /--fight-repairs \(env SEAWAY_FIGHT_REPAIRS\): .*2/);
  assert.match(error, /--fight-window-seconds \(env SEAWAY_FIGHT_WINDOW_SECONDS\)/);
  assert.match(error, /--fight-backoff-max-ms \(env SEAWAY_FIGHT_BACKOFF_MAX_MS\): 8000 is less than --fight-backoff-min-ms/);
});

test('status finds the agent by --status-socket, else by the state directory; --json only goes with status', () => {
  assert.deepEqual(parseConfig(['status'], {}), { command: 'status', statusSocket: '/var/lib/seaway/seaway.sock', json: false });
  assert.deepEqual(parseConfig(['status', '--json', '--state-dir', '/srv/s'], {}), { command: 'status', statusSocket: '/srv/s/seaway.sock', json: true });
  assert.deepEqual(parseConfig(['status'], { SEAWAY_STATUS_SOCKET: '/run/x.sock' }), { command: 'status', statusSocket: '/run/x.sock', json: false });
  assert.match(problemsOf(['run', ...MINIMAL.slice(1), '--json']).join('\n'), /--json is only for "seaway status"/);
});

test('Submariner variable names are accepted', () => {
  const config = run(['run'], {
    SUBMARINER_CLUSTERID: 'east', SUBMARINER_NAMESPACE: 'submariner', SUBMARINER_CLUSTERCIDR: '10.244.0.0/16',
    SUBMARINER_SERVICECIDR: '10.96.0.0/12', NODE_NAME: 'worker-3',
  });
  assert.equal(config.clusterId, 'east');
  assert.equal(config.namespace, 'submariner');
  assert.equal(config.nodeName, 'worker-3');
  assert.deepEqual(config.podCidrs, ['10.244.0.0/16']);
  assert.deepEqual(config.serviceCidrs, ['10.96.0.0/12']);
});

test('flags win over SEAWAY_* variables, which win over Submariner names; empty variables count as unset', () => {
  const env = {
    SEAWAY_CLUSTER_ID: 'seaway-env', SUBMARINER_CLUSTERID: 'submariner-env',
    SEAWAY_NODE_NAME: '', NODE_NAME: 'from-node-name',
    SEAWAY_POD_CIDRS: '10.1.0.0/16', SUBMARINER_CLUSTERCIDR: '10.9.0.0/16',
    SUBMARINER_SERVICECIDR: '10.96.0.0/12', SEAWAY_LOG_LEVEL: 'warn',
  };
  const fromEnv = run(['run'], env);
  assert.equal(fromEnv.clusterId, 'seaway-env');
  assert.equal(fromEnv.nodeName, 'from-node-name');
  assert.deepEqual(fromEnv.podCidrs, ['10.1.0.0/16']);
  assert.equal(fromEnv.logLevel, 'warn');
  const fromFlags = run(['run', '--cluster-id', 'flag', '--log-level', 'error'], env);
  assert.equal(fromFlags.clusterId, 'flag');
  assert.equal(fromFlags.logLevel, 'error');
});

test('KUBECONFIG is the last fallback for --kubeconfig', () => {
  assert.equal(run(MINIMAL, { KUBECONFIG: '/root/.kube/config' }).kubeconfig, '/root/.kube/config');
  assert.equal(run(MINIMAL, { KUBECONFIG: '/a', SEAWAY_KUBECONFIG: '/b' }).kubeconfig, '/b');
  assert.match(problemsOf(MINIMAL, { KUBECONFIG: '/a:/b' })[0] ?? '', /--kubeconfig .*KUBECONFIG.*exactly one kubeconfig path/);
});

test('missing settings for run are all reported at once, naming flag and variables', () => {
  const problems = problemsOf(['run']);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /--cluster-id \(env SEAWAY_CLUSTER_ID or SUBMARINER_CLUSTERID\): is required/);
  assert.match(problems.join('\n'), /--node-name \(env SEAWAY_NODE_NAME or NODE_NAME\): is required/);
  assert.match(problems.join('\n'), /--pod-cidrs \(env SEAWAY_POD_CIDRS or SUBMARINER_CLUSTERCIDR\): is required/);
  assert.match(problems.join('\n'), /--service-cidrs .*: is required/);
});

test('ConfigError message contains every problem', () => {
  assert.throws(() => parseConfig(['run', '--bogus', 'x'], {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /unknown flag "--bogus"/);
    return true;
  });
  assert.throws(() => parseConfig(['run'], {}), /invalid configuration:\n {2}- .*cluster-id[^]*node-name/);
});

test('malformed values are rejected with the setting, its source and the reason', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--cluster-id', 'East_1'], {}, /--cluster-id .*value "East_1" from --cluster-id is not a DNS-1123 label/],
    [['--cluster-id', 'a'.repeat(64)], {}, /--cluster-id .*at most 63/],
    [['--cluster-id', '-east'], {}, /not a DNS-1123 label/],
    [['--node-name', 'Node 1'], {}, /--node-name .*not a DNS-1123 subdomain/],
    [['--namespace', 'a.b'], {}, /--namespace .*not a DNS-1123 label/],
    [['--pod-cidrs', '10.244.0.0/33'], {}, /--pod-cidrs .*invalid CIDR.*prefix length "33"/],
    [['--pod-cidrs', 'fd00::/64'], {}, /--pod-cidrs .*IPv6 CIDR "fd00::\/64": only IPv4/],
    [['--pod-cidrs', '0.0.0.0/0'], {}, /covers every address/],
    [['--pod-cidrs', '10.244.0.0'], {}, /not a CIDR/],
    [['--pod-cidrs', ','], {}, /--pod-cidrs .*lists no CIDR/],
    [['--pod-cidrs', '10.0.0.0/16,10.0.1.0/24'], {}, /overlapping CIDRs 10.0.0.0\/16 and 10.0.1.0\/24/],
    [['--pod-cidrs', '10.0.0.0/16,10.0.0.0/16'], {}, /lists 10.0.0.0\/16 twice/],
    [['--pod-cidrs', '10.96.0.0/16'], {}, /--pod-cidrs .* and --service-cidrs .* overlap: 10.96.0.0\/16 and 10.96.0.0\/12/],
    [['--service-cidrs', 'junk'], {}, /--service-cidrs .*invalid CIDR/],
    [['--cni-interface', 'averyveryverylongname'], {}, /--cni-interface .*longer than 15 bytes/],
    [['--cni-interface', 'eth/0'], {}, /--cni-interface .*contains '\/'/],
    [['--cni-interface', '..'], {}, /not a valid interface name/],
    [['--cni-interface', ''], {}, /--cni-interface .*is empty/],
    [['--listen', 'localhost'], {}, /--listen .*expected host:port/],
    [['--listen', '0.0.0.0:99999'], {}, /port "99999"/],
    [['--listen', '0.0.0.0:http'], {}, /port "http"/],
    [['--listen', '::1:8080'], {}, /IPv6 host must be written in brackets/],
    [['--listen', '[nothost]:80'], {}, /is not an IPv6 address/],
    [['--listen', '300.1.1.1:80'], {}, /above 255/],
    [['--listen', 'unix:relative.sock'], {}, /must be absolute/],
    [['--listen', `unix:/${'x'.repeat(200)}`], {}, /longer than 107 bytes/],
    [['--listen', '0.0.0.0:80,0.0.0.0:80'], {}, /lists 0.0.0.0:80 twice/],
    [['--log-level', 'verbose'], {}, /--log-level .*not one of fatal, error, warn, info, debug, trace, silent/],
    [['--min-prefix-length', '0'], {}, /--min-prefix-length .*out of range 1-32/],
    [['--min-prefix-length', '8.5'], {}, /not a whole number/],
    [['--max-subnets-per-endpoint', '-1'], {}, /--max-subnets-per-endpoint .*not a whole number/],
    [['--max-subnets-per-endpoint', '100000'], {}, /out of range 1-4096/],
    [['--filter-backend', 'ebpf'], {}, /--filter-backend .*not one of auto, iptables, nftables/],
    [['--resync-seconds', '0'], {}, /--resync-seconds .*out of range/],
    [['--cni-wait-log-seconds', 'soon'], {}, /--cni-wait-log-seconds .*not a whole number/],
  ];
  for (const [flags, env, expected] of cases) {
    const argv = [...MINIMAL, ...flags];
    // Later flags of the same name would be "given more than once"; replace MINIMAL's instead.
    const merged = mergeFlags(argv);
    const problems = problemsOf(merged, env);
    assert.ok(problems.some((p) => expected.test(p)), `${flags.join(' ')} ${JSON.stringify(env)} -> ${problems.join(' | ')}`);
  }
});

function mergeFlags(argv: string[]): string[] {
  const [command, ...rest] = argv;
  const values = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) values.set(rest[i] as string, rest[i + 1] as string);
  return [command as string, ...[...values].flat()];
}

test('an invalid value from the environment names the variable it came from', () => {
  const problems = problemsOf([...MINIMAL.filter((_, i) => i < 1 || i > 2)], { SEAWAY_CLUSTER_ID: 'Bad!' });
  assert.ok(problems.some((p) => /from SEAWAY_CLUSTER_ID/.test(p)), problems.join(' | '));
});

test('host bits in local CIDRs are normalised and reported as a warning', () => {
  const config = run(['run', '--cluster-id', 'e', '--node-name', 'n', '--pod-cidrs', '10.244.1.0/16', '--service-cidrs', '10.96.0.1/12'], { SEAWAY_NODE_IP: '192.168.1.12' });
  assert.deepEqual(config.podCidrs, ['10.244.0.0/16']);
  assert.deepEqual(config.serviceCidrs, ['10.96.0.0/12']);
  assert.equal(config.warnings.length, 2);
  assert.match(config.warnings[0] ?? '', /--pod-cidrs .*"10.244.1.0\/16" from --pod-cidrs has host bits set; using 10.244.0.0\/16/);
});

test('command line structure errors: unknown flag, repeated flag, missing value, stray argument, bad command', () => {
  assert.match(problemsOf([...MINIMAL, '--nope']).join(), /unknown flag "--nope"/);
  assert.match(problemsOf([...MINIMAL, '--nope=1']).join(), /unknown flag "--nope"/);
  assert.match(problemsOf([...MINIMAL, '-x']).join(), /unknown flag "-x"/);
  assert.match(problemsOf([...MINIMAL, '--cluster-id', 'again']).join(), /--cluster-id given more than once/);
  assert.match(problemsOf([...MINIMAL, '--log-level']).join(), /--log-level needs a value/);
  assert.match(problemsOf(['run', '--log-level', '--node-name', 'x']).join(), /--log-level needs a value/);
  assert.match(problemsOf([...MINIMAL, 'extra']).join(), /unexpected argument "extra"/);
  assert.match(problemsOf([]).join(), /missing command/);
  assert.match(problemsOf(['start']).join(), /unknown command "start"/);
  assert.match(problemsOf(['--log-level', 'info']).join(), /missing command/);
});

test('help and version need no other settings', () => {
  const help = parseConfig(['--help'], {});
  assert.equal(help.command, 'help');
  if (help.command === 'help') {
    for (const flag of ['--cluster-id', '--pod-cidrs', '--listen', 'SUBMARINER_CLUSTERCIDR', 'NODE_NAME', 'cleanup']) {
      assert.ok(help.text.includes(flag), `help mentions ${flag}`);
    }
  }
  assert.equal(parseConfig(['run', '-h', '--cluster-id', 'BAD'], {}).command, 'help');
  assert.deepEqual(parseConfig(['version'], { SEAWAY_LOG_LEVEL: 'garbage' }), { command: 'version' });
  assert.deepEqual(parseConfig(['--version'], {}), { command: 'version' });
});

test('cleanup needs nothing from the API and ignores broken agent settings', () => {
  assert.deepEqual(parseConfig(['cleanup'], {}), { command: 'cleanup', logLevel: 'info', filterBackend: 'auto', stateDir: '/var/lib/seaway', xtablesLock: '/run/xtables.lock', warnings: [] });
  const config = parseConfig(['cleanup', '--pod-cidrs', 'garbage', '--log-level', 'debug'], { SUBMARINER_CLUSTERID: 'BAD ID' });
  assert.deepEqual(config, { command: 'cleanup', logLevel: 'debug', filterBackend: 'auto', stateDir: '/var/lib/seaway', xtablesLock: '/run/xtables.lock', warnings: [] });
  assert.match(problemsOf(['cleanup', '--log-level', 'loud']).join(), /--log-level/);
  assert.match(problemsOf(['cleanup', '--typo']).join(), /unknown flag "--typo"/);
});

test('parseListenAddress covers host names, empty host and port bounds', () => {
  assert.deepEqual(parseListenAddress('localhost:80'), { kind: 'tcp', host: 'localhost', port: 80 });
  assert.deepEqual(parseListenAddress(':8080'), { kind: 'tcp', host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseListenAddress('[::]:65535'), { kind: 'tcp', host: '::', port: 65535 });
  assert.equal(typeof parseListenAddress('host:'), 'string');
  assert.equal(typeof parseListenAddress('Bad_Host:80'), 'string');
  assert.equal(typeof parseListenAddress('[::1]8080'), 'string');
  assert.equal(typeof parseListenAddress('1.2.3:80'), 'string');
});

test('a huge garbage value yields a bounded message', () => {
  const problems = problemsOf([...mergeFlags([...MINIMAL, '--pod-cidrs', 'z'.repeat(100_000)])]);
  assert.ok(problems.every((p) => p.length < 500), problems.map((p) => p.length).join());
});

test('the API client settings: rate limit, deadlines, watch timeout and informer backoff, from flags or SEAWAY_* variables', () => {
  const config = run([...MINIMAL, '--api-qps', '20', '--api-burst=40', '--api-timeout-seconds', '5', '--api-watch-timeout-seconds', '60', '--api-retry-min-ms', '100'],
    { SEAWAY_API_RETRY_MAX_MS: '4000' });
  assert.deepEqual(
    [config.apiQps, config.apiBurst, config.apiTimeoutSeconds, config.apiWatchTimeoutSeconds, config.apiRetryMinMs, config.apiRetryMaxMs],
    [20, 40, 5, 60, 100, 4000],
  );
});

test('API client settings out of range, not whole numbers, or with the backoff bounds out of order are refused naming the setting', () => {
  const problems = problemsOf([...MINIMAL, '--api-qps', '0', '--api-burst', '1.5', '--api-timeout-seconds', '601', '--api-watch-timeout-seconds', '0']);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems[0]!, /^--api-qps \(env SEAWAY_API_QPS\): value "0" from --api-qps is out of range 1-1000$/);
  assert.match(problems[1]!, /^--api-burst .* is not a whole number$/);
  assert.match(problems[2]!, /^--api-timeout-seconds .* is out of range 1-600$/);
  assert.match(problems[3]!, /^--api-watch-timeout-seconds .* is out of range 1-3600$/);
  assert.deepEqual(problemsOf([...MINIMAL, '--api-retry-min-ms', '5000', '--api-retry-max-ms', '1000']),
    ['--api-retry-max-ms (env SEAWAY_API_RETRY_MAX_MS): 1000 is less than --api-retry-min-ms (env SEAWAY_API_RETRY_MIN_MS) 5000']);
});

test('the underlay settings: --node-ip and --underlay-interface, from flags or SEAWAY_* variables, flags first', () => {
  const fromFlags = run([...MINIMAL, '--node-ip', '192.168.1.21', '--underlay-interface=bond0.100']);
  assert.deepEqual([fromFlags.nodeIp, fromFlags.underlayInterface], ['192.168.1.21', 'bond0.100']);
  const fromEnv = run(MINIMAL, { SEAWAY_NODE_IP: ' 10.0.0.5 ', SEAWAY_UNDERLAY_INTERFACE: 'ens5' });
  assert.deepEqual([fromEnv.nodeIp, fromEnv.underlayInterface], ['10.0.0.5', 'ens5']);
  const both = run([...MINIMAL, '--node-ip', '10.0.0.6', '--underlay-interface', 'eth1'], { SEAWAY_NODE_IP: '10.0.0.5', SEAWAY_UNDERLAY_INTERFACE: 'ens5' });
  assert.deepEqual([both.nodeIp, both.underlayInterface], ['10.0.0.6', 'eth1']);
  const unset = run(MINIMAL, { SEAWAY_NODE_IP: '', SEAWAY_UNDERLAY_INTERFACE: '' });
  assert.deepEqual([unset.nodeIp, unset.underlayInterface], [null, null], 'empty variables are unset');
  // The underlay's refusals name the settings as this parser reads them.
  assert.ok(helpText().includes(`${NODE_IP_SETTING.split(' ')[0]} VALUE`) && helpText().includes(`env: ${NODE_IP_SETTING.replace(/.*env (\w+)\)$/, '$1')}`));
  assert.ok(helpText().includes(`${UNDERLAY_SETTING.split(' ')[0]} VALUE`) && helpText().includes(`env: ${UNDERLAY_SETTING.replace(/.*env (\w+)\)$/, '$1')}`));
});

test('an unusable --node-ip or --underlay-interface stops the agent with the setting, its source and the reason', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--node-ip', '192.168.1'], {}, /--node-ip \(env SEAWAY_NODE_IP\): value "192.168.1" from --node-ip .*not a dotted-quad IPv4 address/],
    [['--node-ip', '192.168.01.1'], {}, /--node-ip .*leading zero/],
    [['--node-ip', '192.168.1.300'], {}, /--node-ip .*above 255/],
    [['--node-ip', '10.0.0.0/8'], {}, /--node-ip .*is not a valid IPv4 address/],
    [['--node-ip', 'node-1.example'], {}, /--node-ip .*not a dotted-quad/],
    [['--node-ip', 'fd00::21'], {}, /--node-ip .*IPv6 address; only IPv4 is supported/],
    [['--node-ip', '0.0.0.0'], {}, /--node-ip .*"this network"/],
    [['--node-ip', '127.0.0.1'], {}, /--node-ip .*loopback address/],
    [['--node-ip', '224.0.0.5'], {}, /--node-ip .*multicast/],
    [['--node-ip', '240.168.1.21'], {}, /--node-ip .*240\.0\.0\.0\/4 .*VTEPs/],
    [['--node-ip', '255.255.255.255'], {}, /--node-ip .*240\.0\.0\.0\/4/],
    [[], { SEAWAY_NODE_IP: 'x' }, /--node-ip .*from SEAWAY_NODE_IP/],
    [['--underlay-interface', 'vx-submariner'], {}, /--underlay-interface \(env SEAWAY_UNDERLAY_INTERFACE\): .*seaway's own VXLAN device/],
    [['--underlay-interface', 'lo'], {}, /--underlay-interface .*loopback device/],
    [['--underlay-interface', 'averyveryverylongname'], {}, /--underlay-interface .*longer than 15 bytes/],
    [['--underlay-interface', 'eth 0'], {}, /--underlay-interface .*a space/],
    [['--underlay-interface', ''], {}, /--underlay-interface .*is empty/],
    [[], { SEAWAY_UNDERLAY_INTERFACE: 'a/b' }, /--underlay-interface .*from SEAWAY_UNDERLAY_INTERFACE/],
  ];
  for (const [flags, env, expected] of cases) {
    const problems = problemsOf([...MINIMAL, ...flags], env);
    assert.ok(problems.some((p) => expected.test(p)), `${flags.join(' ')} ${JSON.stringify(env)} -> ${problems.join(' | ')}`);
  }
  assert.doesNotThrow(() => parseConfig(['cleanup', '--node-ip', 'junk', '--underlay-interface', 'lo'], {}), 'cleanup never trips over them');
});
