import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ConfigError, DEFAULTS, defaultListen, helpText, parseConfig, SUBMARINER_LEASE_NAME, type GatewayConfig, type RunConfig } from '../../src/config.ts';
import { base64Text, brokerServerUrl, parseLabel, publicIpProblem } from '../../src/gateway-config.ts';

type Env = Record<string, string | undefined>;

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const CA = Buffer.from(PEM).toString('base64');
/** A token distinctive enough that no message could contain any of it by chance. */
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.ZZ-SECRET-TOKEN-q7Xw9.sig';

/** What a gateway DaemonSet gives (the downward API's host IP included), with a broker kubeconfig. */
const ENV: Env = {
  SUBMARINER_CLUSTERID: 'east', NODE_NAME: 'node-1', SUBMARINER_CLUSTERCIDR: '10.244.0.0/16', SUBMARINER_SERVICECIDR: '10.96.0.0/12',
  SEAWAY_HOST_IP: '192.168.1.12', SEAWAY_PSK_FILE: '/etc/seaway/psk/psk', SEAWAY_BROKER_KUBECONFIG: '/etc/seaway/broker/kubeconfig',
};
/** The same with Submariner's broker variables instead of the kubeconfig. */
const SUBMARINER_ENV: Env = {
  ...ENV, SEAWAY_BROKER_KUBECONFIG: undefined,
  BROKER_K8S_APISERVER: '172.18.0.4:6443', BROKER_K8S_APISERVERTOKEN: TOKEN, BROKER_K8S_CA: CA, BROKER_K8S_REMOTENAMESPACE: 'submariner-k8s-broker',
};

function gateway(argv: string[] = [], env: Env = ENV): GatewayConfig {
  const config = parseConfig(['gateway', ...argv], env);
  assert.equal(config.command, 'gateway');
  return config as GatewayConfig;
}

function problemsOf(argv: string[], env: Env): string[] {
  try {
    parseConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return [...error.problems];
  }
  assert.fail(`expected a ConfigError for ${argv.join(' ')}`);
}

const gatewayProblems = (argv: string[], env: Env = ENV) => problemsOf(['gateway', ...argv], env);

function messageOf(argv: string[], env: Env): string {
  try {
    parseConfig(argv, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

test('a minimal gateway environment yields the documented defaults, listening on the host IP at port 9083', () => {
  assert.deepEqual(gateway(), {
    command: 'gateway', clusterId: 'east', namespace: 'submariner-operator', nodeName: 'node-1',
    podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeIp: null,
    listen: [{ kind: 'tcp', host: '192.168.1.12', port: 9083 }], logLevel: 'info', kubeconfig: null,
    stateDir: '/var/lib/seaway/gateway', statusSocket: '/var/lib/seaway/gateway/gateway.sock',
    pskFile: '/etc/seaway/psk/psk', broker: { kind: 'kubeconfig', path: '/etc/seaway/broker/kubeconfig' },
    brokerNamespace: 'submariner-k8s-broker', leaseName: 'seaway-gateway-lock', leaseDurationSeconds: 5, leaseRetryMs: 1000,
    gatewayLabel: { key: 'submariner.io/gateway', value: 'true' }, publicIp: null,
    natTPort: 4500, nattDiscoveryPort: 4490, natEnabled: true, cable: 'ipsec', healthCheckIntervalMs: 1000, healthCheckMaxLoss: 5, forceUdpEncapsulation: false,
    pskRotationWindowSeconds: 300, cableConnectTimeoutSeconds: 60, statusRefreshSeconds: 5, brokerRefreshSeconds: 30, remoteStaleSeconds: 120,
    resyncSeconds: 30, minPassIntervalMs: 250, retryMinMs: 200, retryMaxMs: 30_000, ipsecTickMs: 2000,
    execTimeoutSeconds: 30, netlinkTimeoutSeconds: 10, shutdownTimeoutSeconds: 10,
    apiQps: 5, apiBurst: 10, apiTimeoutSeconds: 30, apiWatchTimeoutSeconds: 300, apiRetryMinMs: 1000, apiRetryMaxMs: 60_000,
    warnings: [],
  });
  assert.equal(DEFAULTS.gatewayListenPort, 9083);
  assert.equal(DEFAULTS.listenPort, 9082, 'the route agent keeps its port');
  // The defaults are copies: a caller changing its configuration changes no other.
  const first = gateway();
  first.gatewayLabel.key = 'changed';
  assert.equal(gateway().gatewayLabel.key, 'submariner.io/gateway');
});

test('the gateway listens on port 9083: on the host IP (any family), else the node IP, else loopback with a warning; --listen wins', () => {
  assert.deepEqual(gateway([], { ...ENV, SEAWAY_HOST_IP: 'fd00:10::12' }).listen, [{ kind: 'tcp', host: 'fd00:10::12', port: 9083 }]);
  const byNodeIp = gateway(['--node-ip', '192.168.1.99'], { ...ENV, SEAWAY_HOST_IP: undefined });
  assert.deepEqual(byNodeIp.listen, [{ kind: 'tcp', host: '192.168.1.99', port: 9083 }]);
  assert.equal(byNodeIp.nodeIp, '192.168.1.99');
  assert.deepEqual(gateway(['--node-ip', '192.168.1.99']).listen, [{ kind: 'tcp', host: '192.168.1.12', port: 9083 }], 'the host IP first');
  const neither = gateway([], { ...ENV, SEAWAY_HOST_IP: '' });
  assert.deepEqual(neither.listen, [{ kind: 'tcp', host: '127.0.0.1', port: 9083 }]);
  assert.deepEqual(neither.warnings, [defaultListen(null, 9083).warning]);
  assert.match(neither.warnings[0] ?? '', /served on 127\.0\.0\.1:9083 only/);
  assert.deepEqual(gateway(['--listen', '10.0.0.5:9999,unix:/run/seaway/gw.sock']).listen,
    [{ kind: 'tcp', host: '10.0.0.5', port: 9999 }, { kind: 'unix', path: '/run/seaway/gw.sock' }]);
  assert.deepEqual(gateway([], { ...ENV, SEAWAY_LISTEN: ':9100' }).listen, [{ kind: 'tcp', host: '0.0.0.0', port: 9100 }]);
  // The route agent beside it is unchanged.
  const run = parseConfig(['run'], ENV) as RunConfig;
  assert.deepEqual(run.listen, [{ kind: 'tcp', host: '192.168.1.12', port: 9082 }]);
  assert.equal(run.stateDir, '/var/lib/seaway');
});

test('the state directory and status socket are the gateway\'s own, and follow --state-dir and --status-socket', () => {
  const inDir = gateway(['--state-dir', '/srv/gw']);
  assert.deepEqual([inDir.stateDir, inDir.statusSocket], ['/srv/gw', '/srv/gw/gateway.sock']);
  assert.equal(gateway([], { ...ENV, SEAWAY_STATUS_SOCKET: '/run/gw.sock' }).statusSocket, '/run/gw.sock');
  assert.match(gatewayProblems(['--state-dir', 'relative']).join('\n'), /^--state-dir \(env SEAWAY_STATE_DIR\): value "relative" from --state-dir must be an absolute path$/m);
  assert.match(gatewayProblems(['--status-socket', `/${'x'.repeat(120)}`]).join('\n'), /--status-socket .*longer than 107 bytes/);
});

test('every gateway setting is read from its flag', () => {
  const config = gateway([
    '--psk-file', '/k/psk', '--broker-namespace', 'broker-ns', '--lease-name', 'gw.lock', '--lease-duration-seconds', '10', '--lease-retry-ms=2000',
    '--gateway-label', 'example.com/gw=yes', '--public-ip', 'ipv4:203.0.113.7', '--nat-t-port', '4501', '--natt-discovery-port', '4491',
    '--nat-enabled', 'false', '--cable', 'wireguard', '--health-check-interval-ms', '250', '--health-check-max-loss', '3', '--force-udp-encapsulation', 'true', '--psk-rotation-window-seconds', '60', '--cable-connect-timeout-seconds', '30', '--status-refresh-seconds', '14',
    '--broker-refresh-seconds', '10', '--remote-stale-seconds', '11', '--resync-seconds', '90', '--retry-min-ms', '10', '--retry-max-ms', '20',
    '--min-pass-interval-ms', '0', '--ipsec-tick-ms', '100', '--kubeconfig', '/etc/kube.conf', '--log-level', 'debug', '--namespace', 'mc',
    '--exec-timeout-seconds', '2', '--netlink-timeout-seconds', '3', '--shutdown-timeout-seconds', '4', '--api-qps', '7', '--api-burst', '8',
    '--api-timeout-seconds', '9', '--api-watch-timeout-seconds', '60', '--api-retry-min-ms', '100', '--api-retry-max-ms', '200',
  ]);
  const { warnings: _w, broker: _b, command: _c, clusterId: _i, nodeName: _n, podCidrs: _p, serviceCidrs: _s, nodeIp: _ip, listen: _l, stateDir: _d, statusSocket: _ss, ...rest } = config;
  assert.deepEqual(rest, {
    namespace: 'mc', logLevel: 'debug', kubeconfig: '/etc/kube.conf', pskFile: '/k/psk', brokerNamespace: 'broker-ns', leaseName: 'gw.lock',
    leaseDurationSeconds: 10, leaseRetryMs: 2000, gatewayLabel: { key: 'example.com/gw', value: 'yes' }, publicIp: 'ipv4:203.0.113.7',
    natTPort: 4501, nattDiscoveryPort: 4491, natEnabled: false, cable: 'wireguard', healthCheckIntervalMs: 250, healthCheckMaxLoss: 3, forceUdpEncapsulation: true, pskRotationWindowSeconds: 60, cableConnectTimeoutSeconds: 30,
    statusRefreshSeconds: 14, brokerRefreshSeconds: 10, remoteStaleSeconds: 11, resyncSeconds: 90, retryMinMs: 10, retryMaxMs: 20,
    minPassIntervalMs: 0, ipsecTickMs: 100, execTimeoutSeconds: 2, netlinkTimeoutSeconds: 3, shutdownTimeoutSeconds: 4,
    apiQps: 7, apiBurst: 8, apiTimeoutSeconds: 9, apiWatchTimeoutSeconds: 60, apiRetryMinMs: 100, apiRetryMaxMs: 200,
  });
});

test('every gateway setting is read from its SEAWAY_* variable, and Submariner\'s names come last', () => {
  const config = gateway([], {
    ...ENV, SEAWAY_BROKER_NAMESPACE: 'b1', SEAWAY_LEASE_NAME: 'l1', SEAWAY_LEASE_DURATION_SECONDS: '20', SEAWAY_LEASE_RETRY_MS: '500',
    SEAWAY_GATEWAY_LABEL: 'gw=', SEAWAY_PUBLIC_IP: ' ipv4:198.51.100.1 ', SEAWAY_NAT_T_PORT: '14500', SEAWAY_NATT_DISCOVERY_PORT: '14490',
    SEAWAY_NAT_ENABLED: 'false', SEAWAY_PSK_ROTATION_WINDOW_SECONDS: '86400', SEAWAY_CABLE_CONNECT_TIMEOUT_SECONDS: '3600',
    SEAWAY_STATUS_REFRESH_SECONDS: '1', SEAWAY_BROKER_REFRESH_SECONDS: '3600', SEAWAY_REMOTE_STALE_SECONDS: '86400', SEAWAY_IPSEC_TICK_MS: '60000',
  });
  assert.deepEqual(
    [config.brokerNamespace, config.leaseName, config.leaseDurationSeconds, config.leaseRetryMs, config.gatewayLabel, config.publicIp, config.natTPort,
      config.nattDiscoveryPort, config.natEnabled, config.pskRotationWindowSeconds, config.cableConnectTimeoutSeconds, config.statusRefreshSeconds,
      config.brokerRefreshSeconds, config.remoteStaleSeconds, config.ipsecTickMs],
    ['b1', 'l1', 20, 500, { key: 'gw', value: '' }, 'ipv4:198.51.100.1', 14500, 14490, false, 86400, 3600, 1, 3600, 86400, 60000],
  );
  const submariner = gateway([], { ...ENV, BROKER_K8S_REMOTENAMESPACE: 'remote-ns', CE_IPSEC_NATTPORT: '4600', SUBMARINER_NATENABLED: 'false' });
  assert.deepEqual([submariner.brokerNamespace, submariner.natTPort, submariner.natEnabled], ['remote-ns', 4600, false]);
  const seawayFirst = gateway([], { ...ENV, BROKER_K8S_REMOTENAMESPACE: 'remote-ns', SEAWAY_BROKER_NAMESPACE: 'mine', CE_IPSEC_NATTPORT: '4600', SEAWAY_NAT_T_PORT: '4700', SUBMARINER_NATENABLED: 'false', SEAWAY_NAT_ENABLED: 'true' });
  assert.deepEqual([seawayFirst.brokerNamespace, seawayFirst.natTPort, seawayFirst.natEnabled], ['mine', 4700, true]);
  const flagFirst = gateway(['--broker-namespace', 'flag-ns', '--nat-t-port', '4800', '--nat-enabled', 'false', '--psk-file', '/flag/psk'], { ...ENV, SEAWAY_BROKER_NAMESPACE: 'mine', SEAWAY_NAT_T_PORT: '4700' });
  assert.deepEqual([flagFirst.brokerNamespace, flagFirst.natTPort, flagFirst.natEnabled, flagFirst.pskFile], ['flag-ns', 4800, false, '/flag/psk']);
});

test('Submariner\'s broker variables: server made an https URL, the token kept as given, the CA decoded to its PEM text', () => {
  const config = gateway([], SUBMARINER_ENV);
  assert.equal(config.broker.kind, 'submariner-env');
  if (config.broker.kind !== 'submariner-env') return;
  assert.equal(config.broker.server, 'https://172.18.0.4:6443');
  assert.deepEqual(config.broker.token, { value: TOKEN });
  assert.equal(config.broker.caPem, PEM);
  // A token read from a mounted Secret may end in a newline.
  const trimmed = gateway([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: `${TOKEN}\n` }).broker;
  assert.ok(trimmed.kind === 'submariner-env' && 'value' in trimmed.token && trimmed.token.value === TOKEN);
});

test('the broker token from a file: --broker-token-file or SEAWAY_BROKER_TOKEN_FILE, which win over BROKER_K8S_APISERVERTOKEN', () => {
  const byFlag = gateway(['--broker-token-file', '/etc/broker/token'], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: undefined });
  assert.ok(byFlag.broker.kind === 'submariner-env');
  assert.deepEqual(byFlag.broker.token, { file: '/etc/broker/token' });
  const byEnv = gateway([], { ...SUBMARINER_ENV, SEAWAY_BROKER_TOKEN_FILE: '/etc/broker/token2' });
  assert.ok(byEnv.broker.kind === 'submariner-env');
  assert.deepEqual(byEnv.broker.token, { file: '/etc/broker/token2' });
  const flagFirst = gateway(['--broker-token-file', '/flag/token', '--broker-api-server', 'https://broker.example:443'], { ...SUBMARINER_ENV, SEAWAY_BROKER_TOKEN_FILE: '/env/token' });
  assert.ok(flagFirst.broker.kind === 'submariner-env');
  assert.deepEqual(flagFirst.broker.token, { file: '/flag/token' });
  assert.equal(flagFirst.broker.server, 'https://broker.example:443', 'the flag wins over BROKER_K8S_APISERVER');
  assert.match(gatewayProblems(['--broker-token-file', 'token'], SUBMARINER_ENV).join('\n'),
    /^--broker-token-file \(env SEAWAY_BROKER_TOKEN_FILE or BROKER_K8S_APISERVERTOKEN\): value "token" from --broker-token-file must be an absolute path$/m);
});

test('the broker credentials: neither form, or both, is refused naming both forms', () => {
  const neither = gatewayProblems([], { ...ENV, SEAWAY_BROKER_KUBECONFIG: undefined });
  assert.equal(neither.length, 1, neither.join('\n'));
  assert.match(neither[0]!, /^the broker's credentials are required for "seaway gateway": give --broker-kubeconfig \(env SEAWAY_BROKER_KUBECONFIG\), or Submariner's broker variables --broker-api-server \(env BROKER_K8S_APISERVER\), --broker-token-file \(env SEAWAY_BROKER_TOKEN_FILE or BROKER_K8S_APISERVERTOKEN\), env BROKER_K8S_CA$/);
  const both = gatewayProblems(['--broker-kubeconfig', '/b/kubeconfig'], SUBMARINER_ENV);
  assert.equal(both.length, 1, both.join('\n'));
  assert.match(both[0]!, /^the broker's credentials are given in two forms, --broker-kubeconfig and BROKER_K8S_APISERVER, BROKER_K8S_APISERVERTOKEN, BROKER_K8S_CA: give exactly one of --broker-kubeconfig .*SEAWAY_BROKER_KUBECONFIG.*--broker-api-server/);
  // One variable of Submariner's form beside a kubeconfig is already two forms.
  assert.match(gatewayProblems([], { ...ENV, BROKER_K8S_CA: CA }).join('\n'), /given in two forms, SEAWAY_BROKER_KUBECONFIG and BROKER_K8S_CA/);
  // An empty variable is unset: no second form.
  assert.equal(gateway([], { ...ENV, BROKER_K8S_APISERVER: '', BROKER_K8S_APISERVERTOKEN: '', BROKER_K8S_CA: '' }).broker.kind, 'kubeconfig');
  assert.match(gatewayProblems(['--broker-kubeconfig', '/a:/b'], { ...ENV, SEAWAY_BROKER_KUBECONFIG: undefined }).join('\n'),
    /^--broker-kubeconfig \(env SEAWAY_BROKER_KUBECONFIG\): value "\/a:\/b" from --broker-kubeconfig looks like a list of files/m);
  assert.equal(gateway([], { ...ENV, SEAWAY_BROKER_KUBECONFIG: 'broker.kubeconfig' }).broker.kind, 'kubeconfig', 'a relative path, as --kubeconfig');
});

test('Submariner\'s broker form with a variable missing names each missing one', () => {
  const problems = gatewayProblems([], { ...ENV, SEAWAY_BROKER_KUBECONFIG: undefined, BROKER_K8S_APISERVER: 'broker:6443' });
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems[0]!, /^--broker-token-file \(env SEAWAY_BROKER_TOKEN_FILE or BROKER_K8S_APISERVERTOKEN\): is required for "seaway gateway" with Submariner's broker variables \(or give --broker-kubeconfig instead of them\)$/);
  assert.match(problems[1]!, /^env BROKER_K8S_CA: is required for "seaway gateway" with Submariner's broker variables/);
  const noServer = gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: undefined });
  assert.deepEqual(noServer.map((p) => p.split(':')[0]), ['--broker-api-server (env BROKER_K8S_APISERVER)']);
});

test('BROKER_K8S_INSECURE=true is refused: seaway always verifies the broker\'s certificate', () => {
  for (const value of ['true', 'True', 'TRUE', 't', '1']) {
    for (const env of [SUBMARINER_ENV, ENV]) {
      const problems = gatewayProblems([], { ...env, BROKER_K8S_INSECURE: value });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /^env BROKER_K8S_INSECURE: value ".*" from BROKER_K8S_INSECURE asks not to verify the broker's certificate: seaway always verifies it/);
    }
  }
  for (const value of ['false', 'False', '0', 'f']) assert.equal(gateway([], { ...SUBMARINER_ENV, BROKER_K8S_INSECURE: value }).broker.kind, 'submariner-env');
  assert.match(gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_INSECURE: 'yes' }).join('\n'), /BROKER_K8S_INSECURE.*is not true or false/);
  assert.equal(parseConfig(['run'], { ...ENV, BROKER_K8S_INSECURE: 'true' }).command, 'run', 'the route agent does not read it');
});

test('the broker token\'s value never appears in a ConfigError, whatever else is broken', () => {
  const fragments = [TOKEN, 'SECRET-TOKEN', 'q7Xw9', 'eyJhbGciOiJSUzI1NiJ9'];
  const broken: Array<[string[], Env]> = [
    [[], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: 'http://172.18.0.4:6443' }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: '172.18.0.4' }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_CA: 'not base64!' }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_CA: undefined }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_INSECURE: 'true' }],
    [[], { ...SUBMARINER_ENV, SEAWAY_BROKER_KUBECONFIG: '/b/kubeconfig' }],
    [['--broker-kubeconfig', '/b/kubeconfig'], SUBMARINER_ENV],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: `${TOKEN} second-half` }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: `${TOKEN}\u0000` }],
    [[], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: `  ${TOKEN}\tX` }],
    [[], { ...SUBMARINER_ENV, SEAWAY_PSK_FILE: undefined, SUBMARINER_CLUSTERID: 'Bad_ID' }],
    [['--cni-interface', 'eth0'], SUBMARINER_ENV],
  ];
  for (const [argv, env] of broken) {
    const message = messageOf(['gateway', ...argv], env);
    for (const fragment of fragments) assert.ok(!message.includes(fragment), `${fragment} in: ${message}`);
  }
  // A token that cannot be one names only its variable.
  const problems = gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVERTOKEN: `${TOKEN} second-half` });
  assert.deepEqual(problems, ['--broker-token-file (env SEAWAY_BROKER_TOKEN_FILE or BROKER_K8S_APISERVERTOKEN): the value from BROKER_K8S_APISERVERTOKEN (not shown) '
    + 'contains whitespace or characters outside printable ASCII, which a bearer token cannot']);
  // Neither the warnings nor the configuration, logged whole, show it.
  const config = gateway([], { ...SUBMARINER_ENV, SEAWAY_HOST_IP: undefined });
  assert.ok(config.warnings.length > 0 && config.warnings.every((w) => !w.includes(TOKEN)));
  assert.ok(!JSON.stringify(config).includes(TOKEN), JSON.stringify(config));
  assert.ok(!inspect(config, { depth: 10 }).includes(TOKEN));
  assert.ok(config.broker.kind === 'submariner-env' && 'value' in config.broker.token && config.broker.token.value === TOKEN, 'yet the value is there to use');
});

test('the broker API server: host:port or https://host[:port], normalised; http, paths, empty hosts and bad ports refused', () => {
  const good: Array<[string, string]> = [
    ['172.18.0.4:6443', 'https://172.18.0.4:6443'],
    ['broker.example.com:443', 'https://broker.example.com:443'],
    ['Broker.Example.COM:6443', 'https://broker.example.com:6443'],
    ['https://broker.example.com', 'https://broker.example.com'],
    ['https://broker.example.com/', 'https://broker.example.com'],
    ['HTTPS://10.0.0.1:8443', 'https://10.0.0.1:8443'],
    ['https://[fd00::1]:6443', 'https://[fd00::1]:6443'],
    ['[FD00::1]:6443', 'https://[fd00::1]:6443'],
    ['https://[::1]', 'https://[::1]'],
    ['api:06443', 'https://api:6443'],
  ];
  for (const [text, url] of good) {
    assert.deepEqual(brokerServerUrl(text), { ok: true, value: url }, text);
    const config = gateway([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: ` ${text} ` });
    assert.ok(config.broker.kind === 'submariner-env' && config.broker.server === url, text);
  }
  const bad: Array<[string, RegExp]> = [
    ['http://172.18.0.4:6443', /uses http:\/\/: .*https only/],
    ['ftp://broker:21', /scheme "ftp:\/\/"/],
    ['https://broker:6443/api', /has a path/],
    ['broker:6443/k8s', /has a path/],
    ['https://broker?x=1', /query/],
    ['https://user:pw@broker:6443', /user information/],
    ['https://', /has no host/],
    [':6443', /has no host/],
    ['https://:6443', /has no host/],
    ['172.18.0.4', /has no port/],
    ['broker', /has no port/],
    ['broker:', /port "" is not a number from 1 to 65535/],
    ['broker:0', /port "0"/],
    ['broker:65536', /port "65536"/],
    ['broker:https', /port "https"/],
    ['broker:-1', /port "-1"/],
    ['fd00::1:6443', /IPv6 host must be written in brackets/],
    ['[fd00::1', /without its "\]"/],
    ['[nothost]:6443', /"nothost" is not an IPv6 address/],
    ['[::1]6443', /expected \[ipv6\]:port/],
    ['300.1.1.1:6443', /above 255/],
    ['broker_1:6443', /host "broker_1" is not an IPv4 address or DNS name/],
    ['bro ker:6443', /is not an IPv4 address or DNS name/],
  ];
  for (const [text, expected] of bad) {
    const parsed = brokerServerUrl(text);
    assert.ok(!parsed.ok && expected.test(parsed.message), `${text}: ${JSON.stringify(parsed)}`);
    const problems = gatewayProblems(['--broker-api-server', text], SUBMARINER_ENV);
    assert.ok(problems.some((p) => p.startsWith('--broker-api-server (env BROKER_K8S_APISERVER): value ') && expected.test(p)), `${text}: ${problems.join(' | ')}`);
  }
  assert.match(gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: 'http://b:80' }).join('\n'), /from BROKER_K8S_APISERVER uses http:\/\//);
  assert.match(gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_APISERVER: '   ' }).join('\n'), /--broker-api-server .*is empty/);
});

test('BROKER_K8S_CA: non-empty standard base64, decoded to the PEM text', () => {
  assert.deepEqual(base64Text(CA), { ok: true, value: PEM });
  assert.deepEqual(base64Text(`${CA.slice(0, 20)}\n ${CA.slice(20)}\n`), { ok: true, value: PEM }, 'wrapped');
  for (const text of ['not base64!', 'QUJD=', 'QQ', 'QQ==QQ==', 'QUJD-_', 'A===', '====']) {
    assert.deepEqual(base64Text(text), { ok: false, message: 'is not valid base64' }, text);
  }
  assert.deepEqual(base64Text(' \n '), { ok: false, message: 'is empty' });
  const problems = gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_CA: 'QUJD=' });
  assert.deepEqual(problems, ['env BROKER_K8S_CA: value "QUJD=" from BROKER_K8S_CA is not valid base64']);
  assert.match(gatewayProblems([], { ...SUBMARINER_ENV, BROKER_K8S_CA: ' ' }).join('\n'), /^env BROKER_K8S_CA: value " " from BROKER_K8S_CA is empty$/m);
});

test('the gateway label: key=value with a valid label key and value', () => {
  const good: Array<[string, { key: string; value: string }]> = [
    ['submariner.io/gateway=true', { key: 'submariner.io/gateway', value: 'true' }],
    ['gateway=true', { key: 'gateway', value: 'true' }],
    ['Gate_way.x-1=Yes_1.0', { key: 'Gate_way.x-1', value: 'Yes_1.0' }],
    ['example.com/role=', { key: 'example.com/role', value: '' }],
    [`${'a'.repeat(253)}/${'b'.repeat(63)}=${'c'.repeat(63)}`, { key: `${'a'.repeat(253)}/${'b'.repeat(63)}`, value: 'c'.repeat(63) }],
  ];
  for (const [text, label] of good) {
    assert.deepEqual(parseLabel(text), { ok: true, value: label }, text);
    assert.deepEqual(gateway(['--gateway-label', text]).gatewayLabel, label, text);
  }
  const bad: Array<[string, RegExp]> = [
    ['gateway', /is not key=value/],
    ['=true', /empty name/],
    ['/gw=true', /empty prefix/],
    ['example.com/=true', /empty name/],
    ['a/b/c=true', /more than one '\/'/],
    ['Example.com/gw=true', /key prefix "Example.com" is not a DNS-1123 subdomain/],
    ['example..com/gw=true', /key prefix .*DNS-1123 subdomain/],
    [`${'a'.repeat(254)}/gw=true`, /has at most 253/],
    [`${'b'.repeat(64)}=true`, /key name .* 64 characters long; at most 63/],
    ['-gw=true', /key name "-gw" is not a label name/],
    ['gw.=true', /is not a label name/],
    ['g w=true', /is not a label name/],
    ['gw=t rue', /value "t rue" is not a label value/],
    ['gw=-true', /is not a label value/],
    ['gw==true', /value "=true" is not a label value/],
    [`gw=${'v'.repeat(64)}`, /64 characters long; at most 63/],
  ];
  for (const [text, expected] of bad) {
    const parsed = parseLabel(text);
    assert.ok(!parsed.ok && expected.test(parsed.message), `${text}: ${JSON.stringify(parsed)}`);
    const problems = gatewayProblems([], { ...ENV, SEAWAY_GATEWAY_LABEL: text });
    assert.ok(problems.length === 1 && problems[0]!.startsWith('--gateway-label (env SEAWAY_GATEWAY_LABEL): value ') && /from SEAWAY_GATEWAY_LABEL/.test(problems[0]!)
      && expected.test(problems[0]!), `${text}: ${problems.join(' | ')}`);
  }
});

test('the public IP: optional, ipv4:<unicast IPv4 address> only, kept as given', () => {
  assert.equal(gateway(['--public-ip', 'ipv4:203.0.113.7']).publicIp, 'ipv4:203.0.113.7');
  assert.equal(gateway([], { ...ENV, SEAWAY_PUBLIC_IP: '' }).publicIp, null);
  const bad: Array<[string, RegExp]> = [
    ['203.0.113.7', /is not ipv4:<IPv4 address>/],
    ['lb:my-service', /is not ipv4:<IPv4 address> .*no other method/],
    ['dns:gw.example.com', /is not ipv4:/],
    ['IPV4:203.0.113.7', /is not ipv4:/],
    ['ipv4:', /not a dotted-quad/],
    ['ipv4:203.0.113', /not a dotted-quad/],
    ['ipv4:203.0.113.300', /above 255/],
    ['ipv4:203.0.113.07', /leading zero/],
    ['ipv4:fd00::1', /IPv6 address; only IPv4/],
    ['ipv4: 203.0.113.7', /not a valid IPv4 address|not a dotted-quad/],
    ['ipv4:203.0.113.7,dns:x', /not a valid IPv4 address|decimal number/],
    ['ipv4:0.0.0.0', /"this network"/],
    ['ipv4:127.0.0.1', /loopback/],
    ['ipv4:224.0.0.1', /multicast/],
    ['ipv4:255.255.255.255', /reserved/],
  ];
  for (const [text, expected] of bad) {
    const problem = publicIpProblem(text);
    assert.ok(problem !== null && expected.test(problem), `${text}: ${problem}`);
    const problems = gatewayProblems(['--public-ip', text]);
    assert.ok(problems.length === 1 && problems[0]!.startsWith('--public-ip (env SEAWAY_PUBLIC_IP): value ') && expected.test(problems[0]!), `${text}: ${problems.join(' | ')}`);
  }
});

test('each gateway setting\'s malformed value is refused naming its flag, its variables and where the value came from', () => {
  const label = (flag: string, ...env: string[]) => `${flag} (env ${env.join(' or ')}): value `;
  const cases: Array<[string[], Env, string, RegExp]> = [
    [['--psk-file', 'psk'], {}, label('--psk-file', 'SEAWAY_PSK_FILE'), /must be an absolute path/],
    [[], { SEAWAY_PSK_FILE: 'relative/psk' }, label('--psk-file', 'SEAWAY_PSK_FILE'), /from SEAWAY_PSK_FILE must be an absolute path/],
    [['--psk-file', ' '], {}, label('--psk-file', 'SEAWAY_PSK_FILE'), /is empty/],
    [['--broker-namespace', 'Broker'], {}, label('--broker-namespace', 'SEAWAY_BROKER_NAMESPACE', 'BROKER_K8S_REMOTENAMESPACE'), /not a DNS-1123 label/],
    [[], { BROKER_K8S_REMOTENAMESPACE: 'a.b' }, label('--broker-namespace', 'SEAWAY_BROKER_NAMESPACE', 'BROKER_K8S_REMOTENAMESPACE'), /from BROKER_K8S_REMOTENAMESPACE is not a DNS-1123 label/],
    [['--broker-namespace', 'n'.repeat(64)], {}, label('--broker-namespace', 'SEAWAY_BROKER_NAMESPACE', 'BROKER_K8S_REMOTENAMESPACE'), /at most 63/],
    [['--lease-name', 'Seaway_Lock'], {}, label('--lease-name', 'SEAWAY_LEASE_NAME'), /not a DNS-1123 subdomain/],
    [['--lease-name', SUBMARINER_LEASE_NAME], {}, label('--lease-name', 'SEAWAY_LEASE_NAME'), /is Submariner's gateway Lease, which seaway only reads/],
    [[], { SEAWAY_LEASE_NAME: 'submariner-gateway-lock' }, label('--lease-name', 'SEAWAY_LEASE_NAME'), /from SEAWAY_LEASE_NAME is Submariner's/],
    [['--lease-duration-seconds', '1'], {}, label('--lease-duration-seconds', 'SEAWAY_LEASE_DURATION_SECONDS'), /out of range 2-300/],
    [['--lease-duration-seconds', '301'], {}, label('--lease-duration-seconds', 'SEAWAY_LEASE_DURATION_SECONDS'), /out of range 2-300/],
    [['--lease-duration-seconds', '5s'], {}, label('--lease-duration-seconds', 'SEAWAY_LEASE_DURATION_SECONDS'), /not a whole number/],
    [['--lease-retry-ms', '99'], {}, label('--lease-retry-ms', 'SEAWAY_LEASE_RETRY_MS'), /out of range 100-60000/],
    [['--lease-retry-ms', '60001'], {}, label('--lease-retry-ms', 'SEAWAY_LEASE_RETRY_MS'), /out of range 100-60000/],
    [['--nat-t-port', '0'], {}, label('--nat-t-port', 'SEAWAY_NAT_T_PORT', 'CE_IPSEC_NATTPORT'), /out of range 1-65535/],
    [['--nat-t-port', '65536'], {}, label('--nat-t-port', 'SEAWAY_NAT_T_PORT', 'CE_IPSEC_NATTPORT'), /out of range 1-65535/],
    [[], { CE_IPSEC_NATTPORT: 'udp' }, label('--nat-t-port', 'SEAWAY_NAT_T_PORT', 'CE_IPSEC_NATTPORT'), /from CE_IPSEC_NATTPORT is not a whole number/],
    [['--natt-discovery-port', '0'], {}, label('--natt-discovery-port', 'SEAWAY_NATT_DISCOVERY_PORT'), /out of range 1-65535/],
    [['--natt-discovery-port', '-4490'], {}, label('--natt-discovery-port', 'SEAWAY_NATT_DISCOVERY_PORT'), /not a whole number/],
    [['--nat-enabled', 'yes'], {}, label('--nat-enabled', 'SEAWAY_NAT_ENABLED', 'SUBMARINER_NATENABLED'), /not one of true, false/],
    [[], { SUBMARINER_NATENABLED: 'True' }, label('--nat-enabled', 'SEAWAY_NAT_ENABLED', 'SUBMARINER_NATENABLED'), /from SUBMARINER_NATENABLED is not one of true, false/],
    [['--psk-rotation-window-seconds', '0'], {}, label('--psk-rotation-window-seconds', 'SEAWAY_PSK_ROTATION_WINDOW_SECONDS'), /out of range 1-86400/],
    [['--psk-rotation-window-seconds', '86401'], {}, label('--psk-rotation-window-seconds', 'SEAWAY_PSK_ROTATION_WINDOW_SECONDS'), /out of range 1-86400/],
    [['--cable-connect-timeout-seconds', '3601'], {}, label('--cable-connect-timeout-seconds', 'SEAWAY_CABLE_CONNECT_TIMEOUT_SECONDS'), /out of range 1-3600/],
    [['--cable-connect-timeout-seconds', '1e3'], {}, label('--cable-connect-timeout-seconds', 'SEAWAY_CABLE_CONNECT_TIMEOUT_SECONDS'), /not a whole number/],
    [['--status-refresh-seconds', '15'], {}, label('--status-refresh-seconds', 'SEAWAY_STATUS_REFRESH_SECONDS'), /out of range 1-14/],
    [['--status-refresh-seconds', '0'], {}, label('--status-refresh-seconds', 'SEAWAY_STATUS_REFRESH_SECONDS'), /out of range 1-14/],
    [['--broker-refresh-seconds', '0'], {}, label('--broker-refresh-seconds', 'SEAWAY_BROKER_REFRESH_SECONDS'), /out of range 1-3600/],
    [['--broker-refresh-seconds', '3601'], {}, label('--broker-refresh-seconds', 'SEAWAY_BROKER_REFRESH_SECONDS'), /out of range 1-3600/],
    [['--remote-stale-seconds', '1'], {}, label('--remote-stale-seconds', 'SEAWAY_REMOTE_STALE_SECONDS'), /out of range 2-86400/],
    [['--remote-stale-seconds', '86401'], {}, label('--remote-stale-seconds', 'SEAWAY_REMOTE_STALE_SECONDS'), /out of range 2-86400/],
    [['--ipsec-tick-ms', '99'], {}, label('--ipsec-tick-ms', 'SEAWAY_IPSEC_TICK_MS'), /out of range 100-60000/],
    [['--ipsec-tick-ms', '60001'], {}, label('--ipsec-tick-ms', 'SEAWAY_IPSEC_TICK_MS'), /out of range 100-60000/],
    [['--resync-seconds', '0'], {}, label('--resync-seconds', 'SEAWAY_RESYNC_SECONDS'), /out of range 1-86400/],
    [['--min-pass-interval-ms', '60001'], {}, label('--min-pass-interval-ms', 'SEAWAY_MIN_PASS_INTERVAL_MS'), /out of range 0-60000/],
    [['--retry-min-ms', '0'], {}, label('--retry-min-ms', 'SEAWAY_RETRY_MIN_MS'), /out of range 1-60000/],
    [['--node-ip', '127.0.0.1'], {}, label('--node-ip', 'SEAWAY_NODE_IP'), /loopback/],
    [['--host-ip', 'node-1'], {}, label('--host-ip', 'SEAWAY_HOST_IP'), /not an IPv4 or IPv6 address/],
    [['--kubeconfig', '/a:/b'], {}, label('--kubeconfig', 'SEAWAY_KUBECONFIG', 'KUBECONFIG'), /exactly one kubeconfig path/],
    [['--log-level', 'loud'], {}, label('--log-level', 'SEAWAY_LOG_LEVEL'), /not one of/],
    [['--api-qps', '0'], {}, label('--api-qps', 'SEAWAY_API_QPS'), /out of range 1-1000/],
    [['--pod-cidrs', '10.96.0.0/16'], {}, '--pod-cidrs (env SEAWAY_POD_CIDRS or SUBMARINER_CLUSTERCIDR) and --service-cidrs', /overlap: 10.96.0.0\/16 and 10.96.0.0\/12/],
    [['--service-cidrs', 'fd00::/108'], {}, label('--service-cidrs', 'SEAWAY_SERVICE_CIDRS', 'SUBMARINER_SERVICECIDR'), /only IPv4/],
    [['--cluster-id', 'East'], {}, label('--cluster-id', 'SEAWAY_CLUSTER_ID', 'SUBMARINER_CLUSTERID'), /not a DNS-1123 label/],
  ];
  for (const [argv, env, prefix, expected] of cases) {
    const problems = gatewayProblems(argv, { ...ENV, ...env });
    assert.equal(problems.length, 1, `${argv.join(' ')} ${JSON.stringify(env)} -> ${problems.join(' | ')}`);
    assert.ok(problems[0]!.startsWith(prefix) && expected.test(problems[0]!), `${argv.join(' ')} ${JSON.stringify(env)} -> ${problems[0]}`);
  }
});

test('the lease retry must be less than half the lease duration; the error names both', () => {
  assert.equal(gateway(['--lease-retry-ms', '2499']).leaseRetryMs, 2499);
  assert.deepEqual(gatewayProblems(['--lease-retry-ms', '2500']), [
    '--lease-retry-ms (env SEAWAY_LEASE_RETRY_MS): 2500 is not less than half of --lease-duration-seconds (env SEAWAY_LEASE_DURATION_SECONDS) 5 s '
      + '(a holder must get at least two tries to renew before its Lease expires)',
  ]);
  assert.match(gatewayProblems(['--lease-duration-seconds', '2']).join('\n'), /--lease-retry-ms .*1000 is not less than half of --lease-duration-seconds .* 2 s/);
  assert.equal(gateway(['--lease-duration-seconds', '3']).leaseDurationSeconds, 3);
  assert.equal(gateway(['--lease-duration-seconds', '300', '--lease-retry-ms', '60000']).leaseRetryMs, 60_000);
  // A value refused on its own is not judged again against the other's fallback.
  assert.equal(gatewayProblems(['--lease-duration-seconds', '0', '--lease-retry-ms', '4000']).length, 1);
  assert.equal(gatewayProblems(['--lease-duration-seconds', '4', '--lease-retry-ms', 'x']).length, 1);
});

test('the remote staleness must exceed the broker refresh; the error names both', () => {
  assert.equal(gateway(['--broker-refresh-seconds', '60', '--remote-stale-seconds', '61']).remoteStaleSeconds, 61);
  assert.deepEqual(gatewayProblems(['--broker-refresh-seconds', '60', '--remote-stale-seconds', '60']), [
    '--remote-stale-seconds (env SEAWAY_REMOTE_STALE_SECONDS): 60 is not more than --broker-refresh-seconds (env SEAWAY_BROKER_REFRESH_SECONDS) 60 '
      + '(every remote Endpoint would be stale between two refreshes)',
  ]);
  assert.match(gatewayProblems([], { ...ENV, SEAWAY_BROKER_REFRESH_SECONDS: '600' }).join('\n'), /--remote-stale-seconds .*120 is not more than --broker-refresh-seconds .* 600/);
  assert.match(gatewayProblems(['--remote-stale-seconds', '30']).join('\n'), /30 is not more than --broker-refresh-seconds .* 30/);
  assert.equal(gatewayProblems(['--remote-stale-seconds', '1', '--broker-refresh-seconds', '30']).length, 1, 'only the range');
});

test('the NAT-T and NAT discovery ports must differ; the error names both', () => {
  assert.deepEqual(gatewayProblems(['--natt-discovery-port', '4500']), [
    '--natt-discovery-port (env SEAWAY_NATT_DISCOVERY_PORT): 4500 is also --nat-t-port (env SEAWAY_NAT_T_PORT or CE_IPSEC_NATTPORT); the two ports must differ',
  ]);
  assert.match(gatewayProblems([], { ...ENV, CE_IPSEC_NATTPORT: '4490' }).join('\n'), /4490 is also --nat-t-port/);
});

test('the retry bounds of run apply to the gateway too', () => {
  assert.match(gatewayProblems(['--retry-min-ms', '500', '--retry-max-ms', '100']).join('\n'), /--retry-max-ms \(env SEAWAY_RETRY_MAX_MS\): 100 is less than --retry-min-ms/);
  assert.match(gatewayProblems(['--api-retry-min-ms', '5000', '--api-retry-max-ms', '1000']).join('\n'), /--api-retry-max-ms .*: 1000 is less than --api-retry-min-ms/);
});

test('missing required settings are all reported at once, as required for "seaway gateway"', () => {
  const problems = gatewayProblems([], {});
  assert.equal(problems.length, 6, problems.join('\n'));
  for (const flag of ['--cluster-id', '--node-name', '--pod-cidrs', '--service-cidrs', '--psk-file']) {
    assert.ok(problems.some((p) => p.startsWith(`${flag} (env `) && p.endsWith('is required for "seaway gateway"')), `${flag}: ${problems.join(' | ')}`);
  }
  assert.ok(problems.some((p) => p.startsWith('the broker\'s credentials are required for "seaway gateway"')));
  assert.ok(problems.every((p) => !p.includes('seaway run')));
  assert.ok(problemsOf(['run'], {}).every((p) => !p.includes('seaway gateway')), 'run names itself');
});

test('a flag of the other agent command is refused; its variables are ignored', () => {
  for (const flag of ['--cni-interface', '--underlay-interface', '--filter-backend', '--fight-repairs', '--fight-window-seconds', '--fight-backoff-min-ms',
    '--fight-backoff-max-ms', '--min-prefix-length', '--max-subnets-per-endpoint', '--max-remote-subnets', '--remote-grace-seconds', '--event-burst',
    '--event-interval-seconds', '--cni-wait-log-seconds', '--xtables-lock']) {
    const problems = gatewayProblems([flag, '1']);
    assert.deepEqual(problems, [`${flag} is not a setting of "seaway gateway" (only of "seaway run")`], flag);
    assert.deepEqual(gatewayProblems([`${flag}=x`]), [`${flag} is not a setting of "seaway gateway" (only of "seaway run")`], `${flag}=`);
  }
  const run = ['run', '--cluster-id', 'east', '--node-name', 'node-1', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'];
  for (const flag of ['--psk-file', '--broker-kubeconfig', '--broker-api-server', '--broker-token-file', '--broker-namespace', '--lease-name',
    '--lease-duration-seconds', '--lease-retry-ms', '--gateway-label', '--public-ip', '--nat-t-port', '--natt-discovery-port', '--nat-enabled',
    '--psk-rotation-window-seconds', '--cable-connect-timeout-seconds', '--status-refresh-seconds', '--broker-refresh-seconds', '--remote-stale-seconds', '--ipsec-tick-ms']) {
    assert.deepEqual(problemsOf([...run, flag, '5'], {}), [`${flag} is not a setting of "seaway run" (only of "seaway gateway")`], flag);
  }
  // One DaemonSet env may carry both agents' variables, broken ones included: each reads only its own.
  const config = gateway([], { ...ENV, SEAWAY_CNI_INTERFACE: 'not/valid', SEAWAY_FILTER_BACKEND: 'ebpf', SEAWAY_FIGHT_REPAIRS: '0', SEAWAY_MIN_PREFIX_LENGTH: '99' });
  assert.equal(config.command, 'gateway');
  const runConfig = parseConfig(['run'], { ...ENV, SEAWAY_PSK_FILE: 'relative', SEAWAY_LEASE_NAME: SUBMARINER_LEASE_NAME, BROKER_K8S_APISERVER: 'http://x', SEAWAY_NAT_T_PORT: '0' });
  assert.equal(runConfig.command, 'run');
  // Several at once are all listed; unknown flags are still unknown.
  const problems = gatewayProblems(['--cni-interface', 'eth0', '--fight-repairs', '3', '--bogus=1']);
  assert.deepEqual(problems, ['unknown flag "--bogus" (see --help)', '--cni-interface is not a setting of "seaway gateway" (only of "seaway run")', '--fight-repairs is not a setting of "seaway gateway" (only of "seaway run")']);
  assert.match(gatewayProblems(['--json']).join('\n'), /--json is only for "seaway status"/);
  assert.match(gatewayProblems(['--psk-file', '/a', '--psk-file', '/b']).join('\n'), /--psk-file given more than once/);
});

test('cleanup still accepts every flag, the gateway\'s included, and ignores them', () => {
  assert.deepEqual(parseConfig(['cleanup', '--psk-file', 'relative', '--lease-name', SUBMARINER_LEASE_NAME, '--broker-api-server', 'http://x', '--cni-interface', 'eth0'], {}),
    { command: 'cleanup', logLevel: 'info', filterBackend: 'auto', stateDir: '/var/lib/seaway', xtablesLock: '/run/xtables.lock', warnings: [] });
});

test('BROKER_K8S_CA and BROKER_K8S_INSECURE have no flag', () => {
  assert.match(gatewayProblems(['--broker-ca', CA]).join('\n'), /unknown flag "--broker-ca"/);
  assert.match(gatewayProblems(['--broker-token', TOKEN]).join('\n'), /unknown flag "--broker-token"/);
  assert.match(gatewayProblems(['--broker-insecure', 'false']).join('\n'), /unknown flag "--broker-insecure"/);
});

test('--help lists the gateway command and the gateway-only settings under their own heading', () => {
  const help = helpText();
  assert.match(help, /^ {2}gateway {3}run the gateway role on this node: election, tunnels, broker sync, status$/m);
  const shared = help.slice(help.indexOf('Settings of run and gateway:'), help.indexOf('Settings of run only:'));
  const runOnly = help.slice(help.indexOf('Settings of run only:'), help.indexOf('Settings of gateway only:'));
  const gatewayOnly = help.slice(help.indexOf('Settings of gateway only:'));
  for (const text of [shared, runOnly, gatewayOnly]) assert.ok(text.length > 30);
  for (const flag of ['--cluster-id', '--pod-cidrs', '--listen', '--state-dir', '--status-socket', '--api-qps', '--retry-min-ms', '--resync-seconds']) assert.ok(shared.includes(`  ${flag} VALUE`), flag);
  for (const flag of ['--cni-interface', '--filter-backend', '--fight-repairs', '--xtables-lock']) assert.ok(runOnly.includes(`  ${flag} VALUE`) && !shared.includes(`  ${flag} VALUE`), flag);
  for (const flag of ['--psk-file', '--broker-kubeconfig', '--broker-api-server', '--broker-token-file', '--broker-namespace', '--lease-name', '--lease-duration-seconds',
    '--lease-retry-ms', '--gateway-label', '--public-ip', '--nat-t-port', '--natt-discovery-port', '--nat-enabled', '--psk-rotation-window-seconds',
    '--cable-connect-timeout-seconds', '--status-refresh-seconds', '--broker-refresh-seconds', '--remote-stale-seconds', '--ipsec-tick-ms']) {
    assert.ok(gatewayOnly.includes(`  ${flag} VALUE`) && !shared.includes(`  ${flag} VALUE`), flag);
  }
  for (const name of ['BROKER_K8S_APISERVER', 'BROKER_K8S_APISERVERTOKEN', 'BROKER_K8S_CA', 'BROKER_K8S_INSECURE', 'BROKER_K8S_REMOTENAMESPACE', 'CE_IPSEC_NATTPORT', 'SUBMARINER_NATENABLED']) {
    assert.ok(gatewayOnly.includes(name), name);
  }
  assert.match(shared, /port 9083/);
  assert.match(gatewayOnly, /default: submariner\.io\/gateway=true/);
  assert.equal(parseConfig(['gateway', '--help'], {}).command, 'help');
});

test('the cable: ipsec by default, Submariner\'s driver names accepted (libreswan is the same IPsec), anything else refused by name', () => {
  assert.equal(gateway([]).cable, 'ipsec');
  assert.equal(gateway([], { ...ENV, SUBMARINER_CABLEDRIVER: 'libreswan' }).cable, 'ipsec');
  assert.equal(gateway([], { ...ENV, SUBMARINER_CABLEDRIVER: 'wireguard' }).cable, 'wireguard');
  assert.equal(gateway(['--cable', 'vxlan'], { ...ENV, SEAWAY_CABLE: 'wireguard' }).cable, 'vxlan', 'the flag wins');
  assert.match(gatewayProblems(['--cable', 'gre']).join('\n'), /--cable .*"gre".*not one of ipsec, wireguard, vxlan, libreswan/);
});

test('forcing UDP encapsulation: Submariner\'s CE_IPSEC_FORCEENCAPS is read, anything but true or false refused', () => {
  assert.equal(gateway([], { ...ENV, CE_IPSEC_FORCEENCAPS: 'true' }).forceUdpEncapsulation, true);
  assert.match(gatewayProblems(['--force-udp-encapsulation', 'yes']).join('\n'), /--force-udp-encapsulation .*not one of true, false/);
});
