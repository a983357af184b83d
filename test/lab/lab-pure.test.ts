/** Unit tests of the lab's pure parts: CLI arguments, agent launch, the status document, Node objects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planLab } from './addressing.ts';
import { agentLaunch, AGENT_ENTRY } from './agents.ts';
import { parseLabArgs } from './cli-args.ts';
import { formatStatus } from './format.ts';
import { kubeconfig } from './kubeconfig.ts';
import { GATEWAY_LABEL, nodeObject, nodeStatus, PUBLIC_IP_ANNOTATION } from './kubelet-sim.ts';
import { labPaths } from './paths.ts';
import { clusterObject, endpointObject, submarinerObjects } from './submariner-sim.ts';
import { topologyPhases, wanRouteLines, WAN_RULE_PRIORITY } from './topology.ts';
import { buildStatus, type LabState } from './state.ts';

describe('lab CLI arguments', () => {
  it('parses up with every flag', () => {
    const parsed = parseLabArgs([
      'up', '--clusters', '3', '--nodes', '4', '--pods', '2', '--gateways', '2', '--node-ready-delay', '0', '--cni-delay', '2.5', '--cni-interface', 'vxlan.calico',
      '--prefix', 'swb9', '--json', '--no-agents', '--simulated', '--underlay', 'cluster1-node2=ecmp', '--underlay', 'cluster3-node4=none', '--wait',
      '--cable', 'wireguard', '--deploy', 'processes',
    ]);
    assert.deepEqual(parsed, {
      command: 'up',
      json: true,
      options: {
        prefix: 'swb9', clusters: 3, nodes: 4, podsPerNode: 2, gateways: 2, nodeReadyDelay: 0, cniDelay: 2.5, cniInterface: 'vxlan.calico', endpoints: true, cable: 'wireguard',
        underlays: { 'cluster1-node2': 'ecmp', 'cluster3-node4': 'none' }, agents: false, deploy: 'processes', wait: true,
        // --simulated and --nat exclude each other (their own test below).
        nat: undefined,
      },
    });
  });

  it('--deploy defaults to manifests (the lab installs as an operator does) and takes only manifests or processes', () => {
    const parsed = parseLabArgs(['up']);
    assert.equal(parsed.command === 'up' && parsed.options.deploy, 'manifests');
    assert.throws(() => parseLabArgs(['up', '--deploy', 'helm']), /--deploy is manifests or processes, got "helm"/);
  });

  it('--nat is repeatable, names clusters of the lab, and does not go with --simulated', () => {
    const parsed = parseLabArgs(['up', '--clusters', '3', '--nat', 'cluster2', '--nat', 'cluster3']);
    assert.equal(parsed.command, 'up');
    if (parsed.command !== 'up') return;
    assert.deepEqual(parsed.options.nat, ['cluster2', 'cluster3']);
    assert.deepEqual(planLab(parsed.options).options.nat, ['cluster2', 'cluster3']);
    assert.throws(() => parseLabArgs(['up', '--nat', 'cluster3']), /nat names "cluster3", which is not a cluster of this lab \(cluster1\.\.cluster2\)/);
    assert.throws(() => parseLabArgs(['up', '--nat', 'cluster2', '--nat', 'cluster2']), /nat names cluster2 twice/);
    assert.throws(() => parseLabArgs(['up', '--nat', 'cluster2', '--simulated']), /nat does not go with the simulated Endpoints/);
    assert.throws(() => parseLabArgs(['up', '--nat']), /argument missing|--nat/);
  });

  it('defaults: prefix sw, agents on, no wait; --cni-delay never means no CNI', () => {
    const parsed = parseLabArgs(['up', '--cni-delay', 'never']);
    assert.equal(parsed.command, 'up');
    if (parsed.command !== 'up') return;
    assert.equal(parsed.options.prefix, 'sw');
    assert.equal(parsed.options.agents, true);
    assert.equal(parsed.options.wait, false);
    assert.equal(parsed.options.cniDelay, null);
    assert.equal(parsed.options.endpoints, undefined, 'no simulated Endpoints unless --simulated');
    assert.equal(parsed.options.clusters, undefined, 'unset flags leave the library defaults');
  });

  it('--cable takes only the cables seaway has', () => {
    assert.throws(() => parseLabArgs(['up', '--cable', 'gre']), /cable must be one of ipsec, wireguard, vxlan, got "gre"/);
  });

  it('parses status and down', () => {
    assert.deepEqual(parseLabArgs(['status', '--prefix', 'x1', '--json']), { command: 'status', prefix: 'x1', json: true });
    assert.deepEqual(parseLabArgs(['status']), { command: 'status', prefix: 'sw', json: false });
    assert.deepEqual(parseLabArgs(['down', '--prefix', 'x1']), { command: 'down', prefix: 'x1' });
    assert.deepEqual(parseLabArgs([]), { command: 'help' });
    assert.deepEqual(parseLabArgs(['--help']), { command: 'help' });
  });

  it('rejects malformed input with a message naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['start'], /unknown command "start"/],
      [['up', '--clusters', 'two'], /--clusters needs a whole number/],
      [['up', '--clusters', '-1'], /--clusters|argument/],
      [['up', '--nodes', '1.5'], /--nodes needs a whole number/],
      [['up', '--node-ready-delay', 'soon'], /--node-ready-delay needs a number of seconds/],
      [['up', '--cni-delay', '-3'], /--cni-delay|argument/],
      [['up', '--clusters', '0'], /clusters must be an integer from 1/],
      [['up', '--nodes', '2', '--gateways', '5'], /gateways must be an integer from 0 to 2/],
      [['up', '--prefix', 'Bad-Prefix'], /lab prefix "Bad-Prefix" is invalid/],
      [['up', '--colour', 'red'], /Unknown option '--colour'/],
      [['up', 'extra'], /Unexpected argument 'extra'|positional/],
      [['status', '--nodes', '3'], /Unknown option '--nodes'/],
      [['down', '--json'], /Unknown option '--json'/],
      [['up', '--underlay', 'cluster1-node2'], /--underlay needs NODE=VARIANT with VARIANT one of plain, ecmp, nhid, policy, none, multi-nic/],
      [['up', '--underlay', 'cluster1-node2=vrf'], /--underlay needs NODE=VARIANT/],
      [['up', '--underlay', '=ecmp'], /--underlay needs NODE=VARIANT/],
      [['up', '--underlay', 'cluster3-node1=ecmp'], /underlays names "cluster3-node1", which is not a node of this lab \(cluster1-node1 to cluster2-node3\)/],
      [['up', '--underlay', 'node1=ecmp'], /not a node of this lab/],
    ];
    for (const [argv, message] of cases) assert.throws(() => parseLabArgs(argv), message, argv.join(' '));
  });
});

describe('agent launch', () => {
  it('runs `<node> src/main.ts run` inside the node namespace with the DaemonSet environment', () => {
    const plan = planLab({ prefix: 'swb3' });
    const paths = labPaths('swb3', '/tmp/labs');
    const cluster = plan.clusters[1] as typeof plan.clusters[0];
    const node = cluster.nodes[2] as typeof cluster.nodes[0];
    const launch = agentLaunch(cluster, node, paths, '/opt/node24/bin/node');
    assert.equal(launch.file, 'ip');
    assert.deepEqual(launch.args, ['netns', 'exec', 'swb3-c2-n3', '/opt/node24/bin/node', AGENT_ENTRY, 'run']);
    assert.ok(AGENT_ENTRY.endsWith('/src/main.ts'));
    assert.deepEqual(launch.env, {
      NODE_NAME: 'cluster2-node3',
      SUBMARINER_CLUSTERID: 'cluster2',
      SUBMARINER_NAMESPACE: 'submariner-operator',
      SUBMARINER_CLUSTERCIDR: '10.2.0.0/16',
      SUBMARINER_SERVICECIDR: '10.102.0.0/16',
      KUBECONFIG: '/tmp/labs/swb3/cluster2/kubeconfig.agent',
      SEAWAY_LISTEN: '192.168.2.13:8080,unix:/tmp/labs/swb3/cluster2-node3/agent.sock',
      SEAWAY_STATE_DIR: '/tmp/labs/swb3/cluster2-node3/state',
    });
    assert.deepEqual(launch.info, {
      healthUrl: 'http://192.168.2.13:8080',
      socket: '/tmp/labs/swb3/cluster2-node3/agent.sock',
      log: '/tmp/labs/swb3/cluster2-node3/agent.log',
    });
  });

  it('a node without any default route (underlay none) is told its underlay interface; the others are not', () => {
    const plan = planLab({ prefix: 'swb3', underlays: { 'cluster1-node2': 'none', 'cluster1-node3': 'multi-nic' } });
    const paths = labPaths('swb3', '/tmp/labs');
    const cluster = plan.clusters[0] as typeof plan.clusters[0];
    const env = (n: number) => agentLaunch(cluster, cluster.nodes[n] as typeof cluster.nodes[0], paths, '/opt/node24/bin/node').env;
    assert.equal(env(1).SEAWAY_UNDERLAY_INTERFACE, 'eth0');
    assert.equal(env(2).SEAWAY_UNDERLAY_INTERFACE, undefined);
    assert.equal(env(0).SEAWAY_UNDERLAY_INTERFACE, undefined);
  });

  it('kubeconfigs point at the given HTTPS server, carry the lab CA to verify it (never skip-TLS-verify) and the given token, with a current context', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const config = kubeconfig('sw-cluster1', 'https://192.168.1.1:6443', ca, 'token-1') as { clusters: { cluster: Record<string, unknown> }[]; users: { user: Record<string, unknown> }[]; 'current-context': string; contexts: { name: string }[] };
    assert.deepEqual(config.users[0]?.user, { token: 'token-1' });
    assert.deepEqual(config.clusters[0]?.cluster, { server: 'https://192.168.1.1:6443', 'certificate-authority-data': Buffer.from(ca).toString('base64') });
    assert.equal(config['current-context'], 'sw-cluster1');
    assert.equal(config.contexts[0]?.name, 'sw-cluster1');
  });
});

describe('simulated kubelet objects', () => {
  const plan = planLab({ prefix: 'sw' });
  const cluster = plan.clusters[0] as typeof plan.clusters[0];

  it('registers a gateway-capable Node with InternalIP, pod CIDR and the gateway label, NotReady', () => {
    const node = nodeObject(cluster.nodes[0] as typeof cluster.nodes[0]) as {
      metadata: { name: string; labels: Record<string, string> }; spec: { podCIDR: string; podCIDRs: string[] };
      status: { addresses: { type: string; address: string }[]; conditions: { type: string; status: string }[] };
    };
    assert.equal(node.metadata.name, 'cluster1-node1');
    assert.equal(node.metadata.labels[GATEWAY_LABEL], 'true');
    assert.equal(node.spec.podCIDR, '10.1.1.0/24');
    assert.deepEqual(node.spec.podCIDRs, ['10.1.1.0/24']);
    assert.deepEqual(node.status.addresses.find((a) => a.type === 'InternalIP'), { type: 'InternalIP', address: '192.168.1.11' });
    assert.deepEqual(node.status.conditions.map((c) => [c.type, c.status]), [['Ready', 'False']]);
  });

  it('names the gateway\'s public IP: its own WAN address, or behind NAT the NAT\'s public address; workers none', () => {
    const annotations = (n: typeof cluster.nodes[0]) => (nodeObject(n) as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    assert.deepEqual(annotations(cluster.nodes[0]!), { [PUBLIC_IP_ANNOTATION]: 'ipv4:198.18.1.1' });
    assert.deepEqual(annotations(cluster.nodes[1]!), {});
    const natPlan = planLab({ prefix: 'sw', gateways: 2, nat: ['cluster2'] });
    const [natGateway1, natGateway2, natWorker] = natPlan.clusters[1]!.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
    assert.deepEqual(annotations(natGateway1), { [PUBLIC_IP_ANNOTATION]: 'ipv4:198.18.2.254' });
    assert.deepEqual(annotations(natGateway2), { [PUBLIC_IP_ANNOTATION]: 'ipv4:198.18.2.254' });
    assert.deepEqual(annotations(natWorker), {});
    assert.deepEqual(annotations(natPlan.clusters[0]!.nodes[1]!), { [PUBLIC_IP_ANNOTATION]: 'ipv4:198.18.1.2' }, 'cluster1 is not behind NAT');
    const internalIp = (nodeStatus(natGateway1, true, new Date(0)) as { addresses: { type: string; address: string }[] }).addresses.find((a) => a.type === 'InternalIP');
    assert.equal(internalIp?.address, '192.168.2.11', 'the InternalIP (seaway\'s private IP) stays the LAN address behind NAT');
  });

  it('workers carry no gateway label; Ready status flips the condition with RFC 3339 times', () => {
    const worker = cluster.nodes[1] as typeof cluster.nodes[0];
    const labels = (nodeObject(worker) as { metadata: { labels: Record<string, string> } }).metadata.labels;
    assert.equal(labels[GATEWAY_LABEL], undefined);
    const status = nodeStatus(worker, true, new Date('2030-01-02T03:04:05.678Z')) as { conditions: { status: string; reason: string; lastTransitionTime: string }[] };
    assert.equal(status.conditions[0]?.status, 'True');
    assert.equal(status.conditions[0]?.reason, 'KubeletReady');
    assert.equal(status.conditions[0]?.lastTransitionTime, '2030-01-02T03:04:05Z');
  });
});

describe('lab status document', () => {
  const plan = planLab({ prefix: 'swb4', nodes: 2 });
  const paths = labPaths('swb4', '/tmp/labs');
  const state: LabState = {
    prefix: 'swb4',
    dir: paths.dir,
    createdAt: '2030-01-01T00:00:00.000Z',
    plan,
    controller: { pid: 10, log: paths.controllerLog },
    apiservers: { broker: { pid: 11, log: 'b.log', socket: 'b.sock' }, cluster1: { pid: 12, log: 'c1.log', socket: 'c1.sock' } },
    agents: { 'cluster1-node2': { pid: 20, healthUrl: 'http://192.168.1.12:8080', socket: 's', log: 'l' } },
  };

  it('merges what up wrote with what the controller recorded', () => {
    const status = buildStatus(state, {
      pid: 10,
      localUrls: { broker: 'https://127.0.0.1:1001', cluster1: 'https://127.0.0.1:1002' },
      nodes: { 'cluster1-node1': { readyAt: '2030-01-01T00:00:01.000Z', cniAt: '2030-01-01T00:00:02.500Z' } },
      errors: ['e1'],
    }, paths);
    assert.equal(status.prefix, 'swb4');
    assert.deepEqual(status.broker, {
      namespace: 'swb4-broker', url: 'https://198.18.0.1:6443', localUrl: 'https://127.0.0.1:1001', socket: '/tmp/labs/swb4/broker/apiserver.sock',
      pid: 11, log: 'b.log', kubeconfig: '/tmp/labs/swb4/broker/kubeconfig',
    });
    const [c1, c2] = status.clusters;
    assert.equal(c1?.apiserver.localUrl, 'https://127.0.0.1:1002');
    assert.equal(c1?.nat, null, 'no NAT unless the option names the cluster');
    assert.equal(c1?.apiserver.namespace, 'swb4-c1-cp');
    assert.equal(c2?.apiserver.localUrl, null);
    assert.equal(c1?.kubeconfig, '/tmp/labs/swb4/cluster1/kubeconfig');
    assert.equal(c1?.agentKubeconfig, '/tmp/labs/swb4/cluster1/kubeconfig.agent');
    assert.equal(c1?.gatewayKubeconfig, '/tmp/labs/swb4/cluster1/kubeconfig.gateway');
    assert.equal(c1?.brokerKubeconfig, '/tmp/labs/swb4/cluster1/kubeconfig.broker');
    assert.deepEqual(c1?.nodes[0], {
      name: 'cluster1-node1', namespace: 'swb4-c1-n1', ip: '192.168.1.11', wanIp: '198.18.1.1', publicIp: '198.18.1.1', podCidr: '10.1.1.0/24', gatewayCapable: true,
      cniInterface: 'cni0', cniIp: '10.1.1.1', readyAt: '2030-01-01T00:00:01.000Z', cniAt: '2030-01-01T00:00:02.500Z',
    });
    assert.equal(c1?.nodes[1]?.readyAt, null);
    assert.equal(c1?.nodes[1]?.agent?.pid, 20);
    assert.deepEqual(c1?.pods.map((p) => [p.name, p.namespace, p.ip, p.node]), [
      ['cluster1-node1-pod1', 'swb4-c1-n1-p1', '10.1.1.2', 'cluster1-node1'],
      ['cluster1-node2-pod1', 'swb4-c1-n2-p1', '10.1.2.2', 'cluster1-node2'],
    ]);
    assert.deepEqual(status.controllerErrors, ['e1']);
    const text = formatStatus(status);
    assert.match(text, /cluster1-node1 \[swb4-c1-n1\] 192\.168\.1\.11 .*Ready \+1\.0 s, CNI cni0 10\.1\.1\.1 at \+2\.5 s/);
    assert.match(text, /cluster1-node2 .*Ready not yet, CNI cni0 not yet; agent pid 20/);
    assert.match(text, /controller errors/);
  });

  it('a cluster behind NAT: its NAT in the document, its gateways with their segment and public addresses, in the text too', () => {
    const natPlan = planLab({ prefix: 'swb4', nodes: 2, gateways: 2, nat: ['cluster2'] });
    const status = buildStatus({ ...state, plan: natPlan }, null, paths);
    const [c1, c2] = status.clusters;
    assert.equal(c1?.nat, null);
    assert.equal(c2?.nat?.namespace, 'swb4-c2-nat');
    assert.deepEqual(c2?.nodes.map((n) => [n.wanIp, n.publicIp]), [['172.31.2.11', '198.18.2.254'], ['172.31.2.12', '198.18.2.254']]);
    assert.deepEqual(c1?.nodes.map((n) => [n.wanIp, n.publicIp]), [['198.18.1.1', '198.18.1.1'], ['198.18.1.2', '198.18.1.2']]);
    const text = formatStatus(status);
    assert.match(text, /cluster2: .*; gateways behind NAT 198\.18\.2\.254 \[swb4-c2-nat\], segment 172\.31\.2\.0\/24/);
    assert.match(text, /cluster2-node1 .*\(gateway-capable, behind NAT 198\.18\.2\.254 \(eth1 172\.31\.2\.11\)\)/);
    assert.match(text, /cluster1-node1 .*\(gateway-capable, WAN 198\.18\.1\.1\)/);
    assert.doesNotMatch(text, /cluster1: .*NAT/);
  });

  it('without controller progress, nothing is Ready and no local URL is claimed', () => {
    const status = buildStatus(state, null, paths);
    assert.equal(status.controllerRunning, null, 'only labStatus, which can look at the process, knows');
    assert.ok(status.clusters.every((c) => c.apiserver.localUrl === null && c.nodes.every((n) => n.readyAt === null && n.cniAt === null)));
  });
});

describe('Submariner objects and WAN routes', () => {
  const plan = planLab({ prefix: 'swb5', clusters: 3, endpoints: true });
  const [c1, c2, c3] = plan.clusters as [typeof plan.clusters[0], typeof plan.clusters[0], typeof plan.clusters[0]];

  it('each cluster\'s Endpoint names node 1 with its LAN and WAN addresses and both cluster CIDRs', () => {
    assert.deepEqual(endpointObject(c2), {
      apiVersion: 'submariner.io/v1',
      kind: 'Endpoint',
      metadata: { name: 'cluster2-submariner-cable-cluster2-198-18-2-1', namespace: 'submariner-operator', labels: { 'submariner-io/clusterID': 'cluster2' } },
      spec: {
        cluster_id: 'cluster2', cable_name: 'submariner-cable-cluster2-198-18-2-1', healthCheckIP: '10.2.1.1', hostname: 'cluster2-node1',
        subnets: ['10.2.0.0/16', '10.102.0.0/16'], private_ip: '192.168.2.11', public_ip: '198.18.2.1', nat_enabled: false,
        backend: 'libreswan', backend_config: {},
      },
    });
    assert.deepEqual((clusterObject(c1) as { spec: unknown }).spec, {
      cluster_id: 'cluster1', color_codes: ['blue'], service_cidr: ['10.101.0.0/16'], cluster_cidr: ['10.1.0.0/16'], global_cidr: [],
    });
    assert.deepEqual(submarinerObjects(plan).map((o) => `${o.plural}/${(o.object.metadata as { name: string }).name}`), [
      'endpoints/cluster1-submariner-cable-cluster1-198-18-1-1', 'clusters/cluster1',
      'endpoints/cluster2-submariner-cable-cluster2-198-18-2-1', 'clusters/cluster2',
      'endpoints/cluster3-submariner-cable-cluster3-198-18-3-1', 'clusters/cluster3',
    ]);
  });

  it('a gateway routes every other cluster\'s CIDRs via its gateway on the WAN, with rules ahead of table 150', () => {
    assert.equal(WAN_RULE_PRIORITY < 150, true, 'ahead of seaway\'s rule 150');
    assert.deepEqual(wanRouteLines(plan, c1), [
      'route add 10.2.0.0/16 via 198.18.2.1 dev eth1 table 140', 'rule add priority 140 to 10.2.0.0/16 lookup 140',
      'route add 10.102.0.0/16 via 198.18.2.1 dev eth1 table 140', 'rule add priority 140 to 10.102.0.0/16 lookup 140',
      'route add 10.3.0.0/16 via 198.18.3.1 dev eth1 table 140', 'rule add priority 140 to 10.3.0.0/16 lookup 140',
      'route add 10.103.0.0/16 via 198.18.3.1 dev eth1 table 140', 'rule add priority 140 to 10.103.0.0/16 lookup 140',
    ]);
    const leaves = topologyPhases(plan)[1] ?? [];
    const linesOf = (namespace: string) => leaves.find((b) => b.namespace === namespace)?.lines ?? [];
    assert.ok(linesOf(c3.nodes[0]!.namespace).includes('route add 10.1.0.0/16 via 198.18.1.1 dev eth1 table 140'));
    assert.ok(!linesOf(c3.nodes[1]!.namespace).some((l) => l.includes('198.18.')), 'workers have no WAN routes');
    const bare = planLab({ prefix: 'swb5', clusters: 3, endpoints: false });
    assert.ok(!(topologyPhases(bare)[1] ?? []).some((b) => b.lines.some((l) => l.includes('lookup 140'))), 'endpoints: false adds no WAN routes');
  });

  it('simulated Endpoints are off by default (seaway gateways connect the lab) and need a gateway-capable node 1', () => {
    assert.throws(() => planLab({ prefix: 'swb5', gateways: 0, endpoints: true }), /endpoints need a gateway-capable node.*leave the simulated Endpoints off/);
    assert.equal(planLab({ prefix: 'swb5', gateways: 0 }).options.endpoints, false);
    assert.equal(planLab({ prefix: 'swb5' }).options.endpoints, false, 'the default lab runs seaway gateways');
    assert.equal(planLab({ prefix: 'swb5', endpoints: true }).options.endpoints, true);
    assert.throws(() => planLab({ prefix: 'swb5', endpoints: 'yes' as unknown as boolean }), /endpoints must be true or false/);
  });
});
