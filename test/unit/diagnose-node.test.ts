import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, type DiagnoseConfig } from '../../src/config.ts';
import type { DiagnoseDeps, DiagnoseKernel, DiagnoseNetwork, KernelLink } from '../../src/diagnose/diagnose-deps.ts';
import { diagnoseNode } from '../../src/diagnose/node-diagnosis.ts';
import type { NodeSummary } from '../../src/k8s/diagnose-reads.ts';
import type { UdpExchangeOptions } from '../../src/kernel/udp-exchange.ts';
import { diagnoseExitCode, type Finding } from '../../src/model/diagnose-finding.ts';
import { decodeIkeMessage, stripNonEspMarker, withNonEspMarker } from '../../src/model/ike-message.ts';
import { decodeNatDiscoveryMessage, encodeNatDiscoveryMessage, ResponseType } from '../../src/model/nat-discovery-message.ts';

const NS = 'submariner-operator';
const config = (node: string, extra: string[] = []) => parseConfig(['diagnose', '--cluster-id', 'east', '--node-name', node, '--pod-cidrs', '10.1.0.0/16', '--service-cidrs', '10.101.0.0/16',
  '--listen', node === 'east-gw' ? '192.168.1.11:9082' : '192.168.1.20:9082', '--status-socket', '/run/seaway/route-agent.sock', ...extra], {}) as DiagnoseConfig;

const endpoint = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) =>
  ({ metadata: { name, namespace: NS, labels }, spec: { backend: 'libreswan', backend_config: { 'udp-port': '4500', 'natt-discovery-port': '4490' }, ...spec } });
const LOCAL_EP = endpoint('east-ep', { cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.11', cable_name: 'submariner-cable-east-192-168-1-11', healthCheckIP: '10.1.1.1' });
const REMOTE_EP = endpoint('west-ep', { cluster_id: 'west', hostname: 'west-gw', private_ip: '198.18.2.1', cable_name: 'submariner-cable-west-198-18-2-1', healthCheckIP: '10.2.1.1' }, { 'submariner-io/clusterID': 'west' });

const summary = (name: string, labels: Record<string, string> = {}): NodeSummary => ({ name, internalIp: name === 'east-gw' ? '192.168.1.11' : '192.168.1.20', labels, annotations: {} });

function kernel(over: Partial<DiagnoseKernel> = {}, links: KernelLink[] = [], addresses: Array<{ ifindex: number; address: string; prefixLength: number }> = []): DiagnoseKernel {
  return {
    links: async () => [{ index: 1, name: 'lo', mtu: 65536, up: true }, { index: 2, name: 'eth0', mtu: 1500, up: true }, { index: 3, name: 'cni0', mtu: 1450, up: true }, ...links],
    addresses: async () => [{ ifindex: 3, address: '10.1.1.1', prefixLength: 24 }, ...addresses],
    routes: async () => [], rules: async () => [], iptablesSave: async () => '', nftTables: async () => [], ipsets: async () => [],
    xfrmPolicies: async () => ({ count: 0, sample: [] }), seawayBackend: async () => ({ backend: 'iptables', iptablesMode: 'nft' }),
    ...over,
  };
}

interface Sent { udp: UdpExchangeOptions[]; echo: Array<{ source?: string; target: string }>; ping: number[]; http: string[]; gatewayHere: boolean }

/** A network where everything answers as a healthy cluster's would. */
function network(sent: Sent, over: Partial<DiagnoseNetwork> = {}): DiagnoseNetwork {
  return {
    async udp(options) {
      sent.udp.push(options as UdpExchangeOptions);
      const payload = options.payload({ port: 40000 });
      let answer: Buffer;
      if (options.port === 4490) {
        const request = decodeNatDiscoveryMessage(payload);
        assert.ok(request.ok && request.message.request);
        answer = encodeNatDiscoveryMessage({ version: 0, response: {
          requestNumber: request.message.request.requestNumber, response: ResponseType.OK, srcIpNatDetected: false, srcPortNatDetected: false, dstIpNatDetected: false,
        } });
      } else {
        const ike = decodeIkeMessage((stripNonEspMarker(payload) as { ike: Uint8Array }).ike);
        assert.ok(ike.ok);
        const header = Buffer.alloc(36);
        ike.header.initiatorSpi.copy(header, 0);
        header[16] = 41; header[17] = 0x20; header[18] = 34; header[19] = 0x20;
        header.writeUInt32BE(36, 24);
        header.writeUInt16BE(8, 30);
        header.writeUInt16BE(14, 34);
        answer = withNonEspMarker(header);
      }
      assert.ok(options.accept(answer, { address: options.target, port: options.port }), 'the answer is accepted');
      return { answered: true, message: answer, from: { address: options.target, port: options.port }, rttMs: 1, sends: 1 };
    },
    async echo(options) { sent.echo.push(options); return { replied: true, rttMs: 0.5 }; },
    async dfPing(options) { sent.ping.push(options.size); return { replied: true }; },
    async routeLookup() { return { dev: 'ipsec0' }; },
    async http(options) {
      sent.http.push(options.socketPath ?? `${options.url}${options.path}`);
      // The gateway (its socket, its port) answers on the gateway node only.
      if (options.socketPath?.endsWith('gateway.sock') && !sent.gatewayHere) throw Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' });
      if (options.url?.endsWith(':9083') && !sent.gatewayHere) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return { status: 200, body: 'ok\n', rttMs: 1 };
    },
    async sourceIpFor() { return '192.168.1.11'; },
    ...over,
  };
}

function deps(node: string, sent: Sent, over: { api?: DiagnoseDeps['api']; kernel?: DiagnoseKernel; network?: Partial<DiagnoseNetwork> } = {}): DiagnoseDeps {
  return {
    api: over.api ?? {
      endpoints: async () => ({ ok: true, value: [LOCAL_EP, REMOTE_EP] }),
      node: async (name) => ({ ok: true, value: name === node || name === 'east-gw' ? summary(name, name === 'east-gw' ? { 'submariner.io/gateway': 'true' } : {}) : null }),
      leaseHolder: async () => ({ ok: false, problem: 'HTTP 403 Forbidden', forbidden: true }),
      brokerEndpoints: null,
    },
    kernel: over.kernel ?? kernel(),
    network: network(sent, over.network),
    now: () => 1_800_000_000_000,
    random: (bytes) => Buffer.alloc(bytes, 7),
  };
}
const fresh = (gatewayHere = false): Sent => ({ udp: [], echo: [], ping: [], http: [], gatewayHere });
const ids = (findings: Finding[], severity: Finding['severity']) => findings.filter((f) => f.severity === severity).map((f) => f.id).sort();

test('on the active gateway: NAT discovery and IKE to the remote gateway, the tunnel echo and the MTU, all fine', async () => {
  const sent = fresh(true);
  const gatewayKernel = kernel({}, [{ index: 9, name: 'ipsec0', mtu: 1400, up: true }]);
  const findings = await diagnoseNode(config('east-gw'), deps('east-gw', sent, { kernel: gatewayKernel }));
  assert.deepEqual(ids(findings, 'error'), [], JSON.stringify(findings.filter((f) => f.severity === 'error'), null, 2));
  assert.deepEqual(ids(findings, 'warning'), ['api'], 'only the Lease the route agent may not read');
  for (const id of ['udp-4490', 'udp-4500', 'tunnel', 'mtu', 'http-route-agent', 'http-gateway', 'udp-4800', 'endpoints', 'cni-interface', 'leftovers', 'iptables-backend']) {
    assert.ok(findings.some((f) => f.id === id && f.severity === 'ok'), id);
  }
  assert.equal(diagnoseExitCode(findings), 0);
  // What went out: one NAT discovery request and one IKE_SA_INIT to the remote's private IP, as the remote's Endpoint says.
  assert.deepEqual(sent.udp.map((u) => `${u.target}:${u.port}`), ['198.18.2.1:4490', '198.18.2.1:4500']);
  const request = decodeNatDiscoveryMessage(sent.udp[0]!.payload({ port: 40000 }));
  assert.ok(request.ok);
  assert.deepEqual(request.message.request, {
    requestNumber: Buffer.alloc(8, 7).readBigUInt64BE(), sender: { clusterId: 'east', endpointId: 'submariner-cable-east-192-168-1-11' },
    receiver: { clusterId: 'west', endpointId: 'submariner-cable-west-198-18-2-1' }, usingSrc: { ip: '192.168.1.11', port: 40000 }, usingDst: { ip: '198.18.2.1', port: 4490 },
  });
  assert.deepEqual(sent.echo, [{ source: '10.1.1.1', target: '10.2.1.1', sends: 3, timeoutMs: 3000 }]);
  assert.deepEqual(sent.ping, [1400], 'one DF probe at the cable device\'s MTU settles the MTU');
  assert.deepEqual(sent.http.filter((h) => h.startsWith('http')).sort(), ['http://192.168.1.11:9082/healthz', 'http://192.168.1.11:9082/readyz', 'http://192.168.1.11:9083/healthz', 'http://192.168.1.11:9083/readyz']);
  assert.deepEqual(sent.http.filter((h) => h.startsWith('/')).sort(), ['/run/seaway/gateway.sock', '/run/seaway/route-agent.sock']);
});

test('on another node: VXLAN to the gateway\'s VTEP from this node\'s, and the remote probes left to the gateway', async () => {
  const sent = fresh();
  const worker = kernel({}, [{ index: 5, name: 'vx-submariner', mtu: 1450, up: true, kind: 'vxlan', vxlan: { port: 4800, local: '192.168.1.20', remote: '192.168.1.11' } }],
    [{ ifindex: 5, address: '240.168.1.20', prefixLength: 8 }]);
  const findings = await diagnoseNode(config('east-w'), deps('east-w', sent, { kernel: worker }));
  assert.deepEqual(ids(findings, 'error'), []);
  assert.deepEqual(sent.echo.map((e) => `${e.source}->${e.target}`), ['240.168.1.20->240.168.1.11']);
  assert.deepEqual(sent.udp, [], 'no packet to a remote gateway from a worker');
  assert.match(findings.find((f) => f.id === 'remote-gateways')!.found, /run from the active gateway east-gw/);
  assert.match(findings.find((f) => f.id === 'http-gateway')!.found, /no gateway on this node/);
});

test('an API that cannot be reached, and credentials that do not load, are findings; the kernel checks still run', async () => {
  const sent = fresh();
  const down = await diagnoseNode(config('east-w'), deps('east-w', sent, { api: {
    endpoints: async () => ({ ok: false, problem: 'unreachable: connect ECONNREFUSED 10.96.0.1:443', forbidden: false }),
    node: async () => ({ ok: false, problem: 'unreachable', forbidden: false }),
    leaseHolder: async () => ({ ok: false, problem: 'unreachable', forbidden: false }),
    brokerEndpoints: null,
  } }));
  assert.deepEqual(ids(down, 'error'), ['api']);
  assert.ok(down.some((f) => f.id === 'cni-interface' && f.severity === 'ok'));
  assert.match(down.find((f) => f.id === 'udp-4800')!.found, /which node is the gateway is unknown \(unreachable: connect ECONNREFUSED/);
  const noCredentials = await diagnoseNode(config('east-w', ['--broker-kubeconfig', '/nope']), deps('east-w', fresh(), { api: { problem: 'the kubeconfig does not load' } }));
  assert.ok(noCredentials.some((f) => f.id === 'api' && /the kubeconfig does not load/.test(f.found)));
});

test('a silent port is an error naming it; a probe that throws is a warning; a kernel that cannot be read is an error', async () => {
  const sent = fresh();
  const gatewayKernel = kernel({ rules: async () => { throw new Error('netlink: EPERM'); } }, [{ index: 9, name: 'ipsec0', mtu: 1400, up: true }]);
  const findings = await diagnoseNode(config('east-gw'), deps('east-gw', sent, {
    kernel: gatewayKernel,
    network: {
      async udp(options) {
        if (options.port === 4500) return { answered: false, sends: 3, waitedMs: 3000, rejected: 0 };
        throw new Error('socket exploded');
      },
    },
  }));
  const ike = findings.find((f) => f.id === 'udp-4500')!;
  assert.equal(ike.severity, 'error');
  assert.match(ike.target, /198\.18\.2\.1:4500\/udp/);
  // The NAT discovery probe failing to run costs only its own finding: IKE, the tunnel and the MTU were still probed.
  assert.match(findings.find((f) => f.id === 'udp-4490')!.found, /the probe failed to run: socket exploded/);
  assert.equal(findings.find((f) => f.id === 'udp-4490')!.severity, 'warning');
  assert.ok(['tunnel', 'mtu'].every((id) => findings.some((f) => f.id === id && f.severity === 'ok')));
  assert.match(findings.find((f) => f.id === 'kernel')!.found, /cannot read rules: netlink: EPERM/);
  assert.equal(diagnoseExitCode(findings), 1);
});

test('an agent that answers neither on its socket nor on its port makes its datapath a leftover', async () => {
  const sent = fresh();
  const worker = kernel({ routes: async () => [{ table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 5, protocol: 147 }] },
    [{ index: 5, name: 'vx-submariner', mtu: 1450, up: true, kind: 'vxlan', vxlan: { port: 4800, remote: '192.168.1.11' } }], [{ ifindex: 5, address: '240.168.1.20', prefixLength: 8 }]);
  const findings = await diagnoseNode(config('east-w'), deps('east-w', sent, {
    kernel: worker,
    network: {
      async http(options) {
        throw Object.assign(new Error(options.socketPath ? 'connect ENOENT' : 'connect ECONNREFUSED'), { code: options.socketPath ? 'ENOENT' : 'ECONNREFUSED' });
      },
    },
  }));
  const leftover = findings.find((f) => f.id === 'leftovers')!;
  assert.equal(leftover.severity, 'error');
  assert.match(leftover.found, /no seaway route agent answers on this node.*link vx-submariner/);
  assert.match(findings.find((f) => f.id === 'http-route-agent')!.found, /nothing listens at http:\/\/192\.168\.1\.20:9082/);
});

test('a route agent that answers on its port counts as running even when its socket is elsewhere', async () => {
  const worker = kernel({}, [{ index: 5, name: 'vx-submariner', mtu: 1450, up: true, kind: 'vxlan', vxlan: { port: 4800, remote: '192.168.1.11' } }], [{ ifindex: 5, address: '240.168.1.20', prefixLength: 8 }]);
  const findings = await diagnoseNode(config('east-w'), deps('east-w', fresh(), {
    kernel: worker,
    network: {
      async http(options) {
        if (options.socketPath) throw Object.assign(new Error('connect ENOENT'), { code: 'ENOENT' });
        if (options.url?.endsWith(':9083')) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return { status: 200, body: 'ok\n', rttMs: 1 };
      },
    },
  }));
  assert.deepEqual(findings.filter((f) => f.id === 'leftovers').map((f) => f.severity), ['ok']);
});

test('tokens never reach the findings: the node\'s and the broker\'s credentials fail against a closed loopback port', async () => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { realDiagnoseDeps } = await import('../../src/diagnose/real-deps.ts');
  const { loadApiConnection } = await import('../../src/k8s/api-connection.ts');
  const { findingsJson, renderFindings } = await import('../../src/plan/diagnose-table.ts');
  const dir = await mkdtemp(join(tmpdir(), 'seaway-diag-secret-'));
  try {
    const kubeconfig = (token: string) => JSON.stringify({
      apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:9' } }], users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c',
    });
    await writeFile(join(dir, 'node'), kubeconfig('node-token-SECRET-1'));
    await writeFile(join(dir, 'broker'), kubeconfig('broker-token-SECRET-2'));
    const cfg = config('east-w', ['--broker-kubeconfig', join(dir, 'broker'), '--api-timeout-seconds', '2']);
    const real = await realDiagnoseDeps(cfg, { connection: await loadApiConnection(join(dir, 'node'), {}), userAgent: 'test' });
    try {
      const findings = await diagnoseNode(cfg, { ...real.deps, kernel: kernel(), network: network(fresh()) });
      assert.ok(findings.some((f) => f.id === 'api' && f.severity === 'error'), JSON.stringify(findings));
      assert.ok(findings.some((f) => f.id === 'broker' && f.severity === 'error'), 'the broker is judged too');
      for (const text of [findingsJson(findings), renderFindings(findings)]) assert.doesNotMatch(text, /SECRET/);
    } finally {
      real.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
