import { parseArgs } from 'node:util';
import { resolveOptions, UNDERLAY_VARIANTS, type LabOptions, type UnderlayVariant } from './addressing.ts';
import type { LabUpOptions } from './lab.ts';
import { API_CUTS, type ApiCut } from './api-faults.ts';

export const USAGE = `usage:
  npm run lab -- up [--clusters N] [--nodes M] [--pods K] [--gateways G] [--node-ready-delay S]
                    [--cni-delay S|never] [--cni-interface NAME] [--prefix P] [--no-agents] [--simulated]
                    [--cable ipsec|wireguard|vxlan] [--nat CLUSTER]... [--deploy manifests|processes]
                    [--underlay NODE=VARIANT]... [--wait] [--json]
  npm run lab -- status [--prefix P] [--json]
  npm run lab -- down [--prefix P]
  npm run lab -- fault blackhole|reset|lift [--target cluster1|broker] [--seconds S] [--prefix P]
defaults: 2 clusters of 3 nodes, 1 pod per node, 1 gateway-capable node per cluster, Ready after 1 s,
CNI (cni0) 1 s after Ready, agents started: the route agent on every node and \`seaway gateway\` on the
gateway-capable ones, which elect, publish to the broker and build IPsec tunnels over the WAN; prefix sw.
--simulated: no gateways; instead every cluster's Submariner Endpoint and Cluster in every cluster
(gateway: node 1) and plain WAN routes between the gateways standing in for tunnels (route-agent tests).
--deploy: manifests (default) applies manifests/ with kubectl (the ConfigMap seaway-cluster and the Secrets
seaway-ipsec-psk and seaway-broker created first, as an operator does) and each node's kubelet runs the
DaemonSets' Pods from the image npm run image built; processes starts the agents by hand instead.
--cable: the cable every gateway runs (seaway gateway --cable; default ipsec).
--nat: puts a cluster's (e.g. cluster2) gateway-capable nodes behind a NAT namespace <prefix>-c<i>-nat: their
eth1 on 172.31.<i>.0/24, the NAT's public address 198.18.<i>.254 (their public-ip annotation), UDP 4500 and
4490 forwarded to gateway node 1 (a failover to another gateway is not followed); repeatable.
fault: cuts the network to an API server (default cluster1's) inside its namespace, blackhole (DROP) or
reset (TCP reset), until lifted, or for S seconds and then lifted.
underlay: how a node (e.g. cluster1-node2) reaches beyond its LAN, one of ${UNDERLAY_VARIANTS.join(', ')}
(see test/lab/addressing.ts); every other node is plain`;

export type LabCommand =
  | { command: 'up'; options: LabUpOptions & { prefix: string }; json: boolean }
  | { command: 'status'; prefix: string; json: boolean }
  | { command: 'down'; prefix: string }
  | { command: 'fault'; prefix: string; action: ApiCut | 'lift'; target: string; seconds: number | undefined }
  | { command: 'help' };

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} needs a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function seconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`--${flag} needs a number of seconds, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `NODE=VARIANT` pairs; resolveOptions judges the node names. */
function underlays(values: readonly string[]): Record<string, UnderlayVariant> {
  const out: Record<string, UnderlayVariant> = {};
  for (const value of values) {
    const [node, variant, ...rest] = value.split('=');
    if (!node || rest.length > 0 || !(UNDERLAY_VARIANTS as readonly unknown[]).includes(variant)) {
      throw new Error(`--underlay needs NODE=VARIANT with VARIANT one of ${UNDERLAY_VARIANTS.join(', ')}, got ${JSON.stringify(value)}`);
    }
    out[node] = variant as UnderlayVariant;
  }
  return out;
}

/** Parses the CLI's arguments (pure); bad input throws an Error naming the flag. */
export function parseLabArgs(argv: readonly string[]): LabCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  const common = { prefix: { type: 'string' }, json: { type: 'boolean' } } as const;
  if (command === 'up') {
    const { values } = parseArgs({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        ...common,
        clusters: { type: 'string' },
        nodes: { type: 'string' },
        pods: { type: 'string' },
        gateways: { type: 'string' },
        'node-ready-delay': { type: 'string' },
        'cni-delay': { type: 'string' },
        'cni-interface': { type: 'string' },
        'no-agents': { type: 'boolean' },
        deploy: { type: 'string' },
        simulated: { type: 'boolean' },
        cable: { type: 'string' },
        underlay: { type: 'string', multiple: true },
        nat: { type: 'string', multiple: true },
        wait: { type: 'boolean' },
      },
    });
    const deploy = values.deploy ?? 'manifests';
    if (deploy !== 'manifests' && deploy !== 'processes') throw new Error(`--deploy is manifests or processes, got ${JSON.stringify(deploy)}`);
    const cniDelay = values['cni-delay'] === 'never' ? null : seconds('cni-delay', values['cni-delay']);
    const options = {
      prefix: values.prefix ?? 'sw',
      clusters: count('clusters', values.clusters),
      nodes: count('nodes', values.nodes),
      podsPerNode: count('pods', values.pods),
      gateways: count('gateways', values.gateways),
      nodeReadyDelay: seconds('node-ready-delay', values['node-ready-delay']),
      cniDelay,
      cniInterface: values['cni-interface'],
      endpoints: values.simulated ? true : undefined,
      cable: values.cable as LabOptions['cable'] | undefined,
      underlays: values.underlay === undefined ? undefined : underlays(values.underlay),
      nat: values.nat,
    };
    resolveOptions(options);
    return { command: 'up', options: { ...options, agents: !values['no-agents'], deploy, wait: values.wait ?? false }, json: values.json ?? false };
  }
  if (command === 'fault') {
    const { values, positionals } = parseArgs({
      args: [...rest], strict: true, allowPositionals: true,
      options: { prefix: common.prefix, target: { type: 'string' }, seconds: { type: 'string' } },
    });
    const [action, ...extra] = positionals;
    if (action === undefined || extra.length > 0 || !([...API_CUTS, 'lift'] as string[]).includes(action)) {
      throw new Error(`fault needs one of ${[...API_CUTS, 'lift'].join(', ')}, got ${JSON.stringify(positionals.join(' '))}`);
    }
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    if (values.seconds !== undefined && (!/^\d+(\.\d+)?$/.test(values.seconds) || seconds === 0)) throw new Error(`--seconds needs a positive number, got ${JSON.stringify(values.seconds)}`);
    if (action === 'lift' && seconds !== undefined) throw new Error('--seconds goes with blackhole or reset, not lift');
    return { command: 'fault', prefix: values.prefix ?? 'sw', action: action as ApiCut | 'lift', target: values.target ?? 'cluster1', seconds };
  }
  if (command === 'status' || command === 'down') {
    if (command === 'down') {
      const { values } = parseArgs({ args: [...rest], strict: true, allowPositionals: false, options: { prefix: common.prefix } });
      return { command, prefix: values.prefix ?? 'sw' };
    }
    const { values } = parseArgs({ args: [...rest], strict: true, allowPositionals: false, options: common });
    return { command, prefix: values.prefix ?? 'sw', json: values.json ?? false };
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}
