/**
 * Address and name planning for the lab (pure). Every name and address of a lab follows from
 * its options, so `status`, `down` and the tests can all recompute them.
 *
 * Cluster i (1-based), node n, pod k:
 *   LAN           192.168.i.0/24, control plane 192.168.i.1, node n 192.168.i.(10+n)
 *   cluster CIDR  10.i.0.0/16, node n's pod CIDR 10.i.n.0/24, CNI interface 10.i.n.1, pod k 10.i.n.(1+k)
 *   service CIDR  10.(100+i).0.0/16
 *   WAN           198.18.0.0/16, broker 198.18.0.1, gateway-capable node n of cluster i 198.18.i.n
 *   second NIC    (underlays ecmp and multi-nic) eth2, 172.30.i.(10+n)/24, next hop 172.30.i.1
 *   behind NAT    (option nat) the gateway-capable nodes' eth1 on the segment 172.31.i.0/24 (node n
 *                 172.31.i.(10+n), the NAT namespace 172.31.i.1), public address 198.18.i.254
 */

export const MAX_CLUSTERS = 50;
export const MAX_NODES = 200;
export const MAX_PODS_PER_NODE = 200;
export const API_PORT = 6443;
export const AGENT_PORT = 8080;
/** The gateway role's HTTP port (beside the route agent's on the same node address). */
export const GATEWAY_PORT = 8083;
export const WAN_CIDR = '198.18.0.0/16';
export const BROKER_IP = '198.18.0.1';
export const DEFAULT_CNI_INTERFACE = 'cni0';

/**
 * How a node reaches beyond its LAN: the underlays real nodes have. Every node keeps its InternalIP on
 * `eth0`; the variants differ in the default route and in a second NIC, `eth2` (a veth whose peer
 * stays in the node: an uplink to nowhere, as nothing in the lab uses the default route).
 *   plain      default via the control plane dev eth0 (the lab's default)
 *   ecmp       default with two next hops: the control plane on eth0 and 172.30.i.1 on eth2
 *   nhid       default through nexthop object 1 (via the control plane on eth0), and
 *              net.ipv4.nexthop_compat_mode=0 so the route dump names only the object
 *   policy     no default in main; default via the control plane in table 200, behind rule 32800
 *   none       no default route at all (air-gapped); the agent is given SEAWAY_UNDERLAY_INTERFACE=eth0
 *   multi-nic  default via 172.30.i.1 on eth2 (MTU 9000): the InternalIP is on another NIC than the default route
 */
export const UNDERLAY_VARIANTS = ['plain', 'ecmp', 'nhid', 'policy', 'none', 'multi-nic'] as const;
export type UnderlayVariant = (typeof UNDERLAY_VARIANTS)[number];
/** The table and rule priority of the `policy` variant's default route: consulted after main (32766). */
export const POLICY_TABLE = 200;
export const POLICY_RULE_PRIORITY = 32800;
export const SECOND_NIC = 'eth2';
export const SECOND_NIC_MTU = 9000;
/** The NAT namespace's interface on the WAN bridge (its other side is the bridge `br0` of the gateways' segment). */
export const NAT_WAN_INTERFACE = 'wan0';
/**
 * The UDP ports a NAT namespace forwards to its cluster's gateway: Submariner's defaults for `udp-port`
 * (IKE/NAT-T, WireGuard) and `natt-discovery-port`, what a gateway needs reachable from its peers.
 */
export const NAT_FORWARDED_UDP_PORTS = [4500, 4490] as const;

export interface LabOptions {
  prefix: string;
  clusters: number;
  nodes: number;
  podsPerNode: number;
  /** The first `gateways` nodes of each cluster carry submariner.io/gateway=true and join the WAN. */
  gateways: number;
  /** Seconds from a Node's creation to Ready. */
  nodeReadyDelay: number;
  /** Seconds from a Node's Ready to its CNI interface; null: the CNI never comes. */
  cniDelay: number | null;
  cniInterface: string;
  /** Per node name (`cluster<i>-node<n>`), an underlay other than `plain`. */
  underlays: Record<string, UnderlayVariant>;
  /**
   * Simulated connectivity, for route-agent-only tests: create every cluster's Submariner Endpoint and
   * Cluster objects in every cluster's API server (as the broker sync would; the gateway is node 1), and
   * give gateway-capable nodes plain routes over the WAN to the other clusters, standing in for tunnels.
   * Off by default: then the gateway-capable nodes run `seaway gateway`, which elects, publishes to the
   * broker and builds IPsec tunnels over the WAN.
   */
  endpoints: boolean;
  /** The cable every cluster's gateways run (`seaway gateway --cable`), unless cableOverrides names another for a cluster. */
  cable: LabCable;
  /** Per cluster id (`cluster<i>`), a cable other than `cable`: clusters whose cables differ must say so on both sides. */
  cableOverrides: Record<string, LabCable>;
  /**
   * Cluster ids (`cluster<i>`) whose gateway-capable nodes reach the WAN only through a NAT namespace
   * (`<prefix>-c<i>-nat`), as gateways in a cloud VPC or behind a home router do: their `eth1` sits on a
   * private segment, the NAT's one public address is on the WAN, it masquerades whatever leaves and forwards
   * UDP 4500 and 4490 at its public address to the cluster's gateway node 1; nothing else gets in. The
   * nodes' `gateway.submariner.io/public-ip` names the NAT's address. Needs gateways >= 1 and real gateways
   * (not the simulated Endpoints, whose plain routes cannot cross a NAT).
   */
  nat: string[];
}

export const LAB_CABLES = ['ipsec', 'wireguard', 'vxlan'] as const;
export type LabCable = (typeof LAB_CABLES)[number];

export const DEFAULT_OPTIONS: Omit<LabOptions, 'prefix'> = {
  clusters: 2,
  nodes: 3,
  podsPerNode: 1,
  gateways: 1,
  nodeReadyDelay: 1,
  cniDelay: 1,
  cniInterface: DEFAULT_CNI_INTERFACE,
  underlays: {},
  endpoints: false,
  cable: 'ipsec',
  cableOverrides: {},
  nat: [],
};

export interface PodPlan {
  name: string;
  namespace: string;
  ip: string;
  /** The pod's end of its veth is `eth0`; the node's end is this. */
  hostVeth: string;
  node: string;
}

export interface NodePlan {
  name: string;
  index: number;
  namespace: string;
  /** InternalIP on the cluster LAN, on `eth0`. */
  ip: string;
  /**
   * Address on `eth1`, only for gateway-capable nodes: on the WAN (198.18.i.n), or, behind NAT, on the
   * cluster's NAT segment (172.31.i.(10+n)).
   */
  wanIp: string | null;
  /**
   * Where peers on the WAN reach the node, what its `gateway.submariner.io/public-ip` names: its WAN address,
   * or behind NAT the NAT's public address. Only for gateway-capable nodes.
   */
  publicIp: string | null;
  underlay: UnderlayVariant;
  /** Address on the second NIC (`eth2`), for the underlays that have one. */
  secondIp: string | null;
  gatewayCapable: boolean;
  podCidr: string;
  cniIp: string;
  /** Port name of this node's veth inside the LAN bridge namespace. */
  lanPort: string;
  /** Port name of this node's veth inside the WAN bridge namespace (gateway-capable nodes not behind NAT). */
  wanPort: string | null;
  /** Port name of this node's veth on the bridge of its NAT namespace (gateway-capable nodes behind NAT). */
  natPort: string | null;
  pods: PodPlan[];
}

/** A ClusterIP Service of the lab: its VIP in the service CIDR, DNATed to one pod (as kube-proxy does on every node). */
export interface ServicePlan {
  name: string;
  ip: string;
  port: number;
  /** The pod behind it (the cluster's first pod) and the port it listens on. */
  backend: string;
  targetPort: number;
}

/** The port of the lab's Service (the e2e tests' echo server listens on it in every pod). */
export const SERVICE_PORT = 7007;

export interface ClusterPlan {
  id: string;
  index: number;
  lanCidr: string;
  podCidr: string;
  serviceCidr: string;
  /** 10.(100+i).0.10 to the cluster's first pod; null when the lab has no pods. */
  service: ServicePlan | null;
  lanNamespace: string;
  controlPlane: { namespace: string; ip: string; url: string };
  nodes: NodePlan[];
  /** The cable this cluster's gateways run. */
  cable: LabCable;
  /** The NAT its gateway-capable nodes sit behind (option nat), or null: they are on the WAN themselves. */
  nat: NatPlan | null;
}

/**
 * A cluster's NAT namespace: a router between its gateways' segment (bridge `br0`) and the WAN
 * (NAT_WAN_INTERFACE on the WAN bridge). What leaves for the WAN is SNATed to the public address;
 * UDP NAT_FORWARDED_UDP_PORTS arriving at it are DNATed to `forwardTo`; other traffic from the WAN
 * is forwarded only as the reply of a connection from inside.
 */
export interface NatPlan {
  namespace: string;
  /** On the WAN, 198.18.i.254: the gateways' public IP. */
  publicIp: string;
  /** The gateways' segment, 172.31.i.0/24. */
  segmentCidr: string;
  /** The NAT's address on the segment, 172.31.i.1: the gateways' next hop to the WAN. */
  segmentIp: string;
  /** Port name of the NAT's veth inside the WAN bridge namespace. */
  wanPort: string;
  /**
   * Gateway node 1's private IP (its InternalIP, the Endpoint's private_ip, what seaway's IKE binds to behind
   * NAT), routed via its segment address. Fixed: the NAT cannot know which gateway is active, so after a
   * failover to another node, inbound connections still go to node 1.
   */
  forwardTo: string;
}

export interface LabPlan {
  options: LabOptions;
  wan: { namespace: string; cidr: string };
  broker: { namespace: string; ip: string; url: string; wanPort: string };
  clusters: ClusterPlan[];
}

const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
const INTERFACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;

/** Prefixes have no dash, so `<prefix>-` never matches another lab's namespaces. */
export function validatePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix)) {
    throw new Error(`lab prefix ${JSON.stringify(prefix)} is invalid: use 1-16 lowercase letters and digits, starting with a letter (no dashes)`);
  }
  return prefix;
}

function validateCount(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function validateDelay(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 86_400) {
    throw new Error(`${name} must be a number of seconds from 0 to 86400, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Fills defaults and rejects anything the lab cannot build, naming the option at fault. */
export function resolveOptions(input: Partial<LabOptions> & { prefix: string }): LabOptions {
  const merged = { ...DEFAULT_OPTIONS, ...stripUndefined(input) };
  const clusters = validateCount('clusters', merged.clusters, 1, MAX_CLUSTERS);
  const nodes = validateCount('nodes', merged.nodes, 1, MAX_NODES);
  const cniInterface = merged.cniInterface;
  if (typeof cniInterface !== 'string' || !INTERFACE_PATTERN.test(cniInterface) || ['lo', 'eth0', 'eth1', SECOND_NIC, `${SECOND_NIC}p`].includes(cniInterface)) {
    throw new Error(`cniInterface ${JSON.stringify(cniInterface)} is not a usable interface name (1-15 characters of letters, digits, . _ -; not lo, eth0, eth1, ${SECOND_NIC} or ${SECOND_NIC}p)`);
  }
  const gateways = validateCount('gateways', merged.gateways, 0, nodes);
  const endpoints = input.endpoints ?? false;
  if (typeof endpoints !== 'boolean') throw new Error(`endpoints must be true or false, got ${JSON.stringify(endpoints)}`);
  if (endpoints && gateways < 1) {
    throw new Error('endpoints need a gateway-capable node (gateways >= 1): the Endpoint names node 1 and its WAN address; or leave the simulated Endpoints off');
  }
  const nat = validateNat(merged.nat, clusters);
  if (nat.length > 0 && gateways < 1) throw new Error(`nat puts gateway-capable nodes behind a NAT: it needs gateways >= 1 (nat names ${nat.join(', ')})`);
  if (nat.length > 0 && endpoints) {
    throw new Error('nat does not go with the simulated Endpoints: their plain WAN routes to a gateway cannot cross a NAT; run real gateways (leave endpoints off)');
  }
  return {
    prefix: validatePrefix(merged.prefix),
    clusters,
    nodes,
    podsPerNode: validateCount('podsPerNode', merged.podsPerNode, 0, MAX_PODS_PER_NODE),
    gateways,
    nodeReadyDelay: validateDelay('nodeReadyDelay', merged.nodeReadyDelay),
    cniDelay: merged.cniDelay === null ? null : validateDelay('cniDelay', merged.cniDelay),
    cniInterface,
    underlays: validateUnderlays(merged.underlays, clusters, nodes),
    endpoints,
    cable: validateCable('cable', merged.cable),
    cableOverrides: validateCableOverrides(merged.cableOverrides, clusters),
    nat,
  };
}

function validateNat(value: unknown, clusters: number): string[] {
  if (!Array.isArray(value)) throw new Error(`nat must be a list of cluster ids (cluster1..cluster${clusters}), got ${JSON.stringify(value)}`);
  const seen = new Set<string>();
  for (const id of value) {
    const match = typeof id === 'string' ? /^cluster([1-9][0-9]*)$/.exec(id) : null;
    if (!match || Number(match[1]) > clusters) throw new Error(`nat names ${JSON.stringify(id)}, which is not a cluster of this lab (cluster1..cluster${clusters})`);
    if (seen.has(id as string)) throw new Error(`nat names ${id as string} twice`);
    seen.add(id as string);
  }
  return [...seen];
}

function validateCable(what: string, value: unknown): LabCable {
  if (typeof value !== 'string' || !(LAB_CABLES as readonly string[]).includes(value)) throw new Error(`${what} must be one of ${LAB_CABLES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as LabCable;
}

function validateCableOverrides(value: unknown, clusters: number): Record<string, LabCable> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`cableOverrides must map cluster ids to ${LAB_CABLES.join(', ')}, got ${JSON.stringify(value)}`);
  const overrides: Record<string, LabCable> = {};
  for (const [id, cable] of Object.entries(value)) {
    const match = /^cluster([1-9][0-9]*)$/.exec(id);
    if (!match || Number(match[1]) > clusters) throw new Error(`cableOverrides names ${JSON.stringify(id)}, which is not a cluster of this lab (cluster1..cluster${clusters})`);
    overrides[id] = validateCable(`cableOverrides.${id}`, cable);
  }
  return overrides;
}

function validateUnderlays(value: unknown, clusters: number, nodes: number): Record<string, UnderlayVariant> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`underlays must map node names to ${UNDERLAY_VARIANTS.join(', ')}, got ${JSON.stringify(value)}`);
  const underlays: Record<string, UnderlayVariant> = {};
  for (const [name, variant] of Object.entries(value)) {
    const match = /^cluster([1-9]\d*)-node([1-9]\d*)$/.exec(name);
    if (!match || Number(match[1]) > clusters || Number(match[2]) > nodes) throw new Error(`underlays names ${JSON.stringify(name)}, which is not a node of this lab (cluster1-node1 to cluster${clusters}-node${nodes})`);
    if (!(UNDERLAY_VARIANTS as readonly unknown[]).includes(variant)) throw new Error(`underlays: ${name} has ${JSON.stringify(variant)}, not one of ${UNDERLAY_VARIANTS.join(', ')}`);
    underlays[name] = variant as UnderlayVariant;
  }
  return underlays;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function planLab(input: Partial<LabOptions> & { prefix: string }): LabPlan {
  const options = resolveOptions(input);
  const p = options.prefix;
  const clusters: ClusterPlan[] = [];
  for (let i = 1; i <= options.clusters; i++) {
    const id = `cluster${i}`;
    const cpIp = `192.168.${i}.1`;
    const behindNat = options.nat.includes(id);
    const nat: NatPlan | null = behindNat ? {
      namespace: `${p}-c${i}-nat`,
      publicIp: `198.18.${i}.254`,
      segmentCidr: `172.31.${i}.0/24`,
      segmentIp: `172.31.${i}.1`,
      wanPort: `c${i}nat`,
      forwardTo: `192.168.${i}.11`,
    } : null;
    const nodes: NodePlan[] = [];
    for (let n = 1; n <= options.nodes; n++) {
      const name = `${id}-node${n}`;
      const gatewayCapable = n <= options.gateways;
      const underlay = options.underlays[name] ?? 'plain';
      const pods: PodPlan[] = [];
      for (let k = 1; k <= options.podsPerNode; k++) {
        pods.push({ name: `${name}-pod${k}`, namespace: `${p}-c${i}-n${n}-p${k}`, ip: `10.${i}.${n}.${1 + k}`, hostVeth: `vp${k}`, node: name });
      }
      nodes.push({
        name,
        index: n,
        namespace: `${p}-c${i}-n${n}`,
        ip: `192.168.${i}.${10 + n}`,
        wanIp: !gatewayCapable ? null : nat ? `172.31.${i}.${10 + n}` : `198.18.${i}.${n}`,
        publicIp: !gatewayCapable ? null : nat ? nat.publicIp : `198.18.${i}.${n}`,
        underlay,
        secondIp: underlay === 'ecmp' || underlay === 'multi-nic' ? `172.30.${i}.${10 + n}` : null,
        gatewayCapable,
        podCidr: `10.${i}.${n}.0/24`,
        cniIp: `10.${i}.${n}.1`,
        lanPort: `n${n}`,
        wanPort: gatewayCapable && !nat ? `c${i}n${n}` : null,
        natPort: gatewayCapable && nat ? `n${n}` : null,
        pods,
      });
    }
    const firstPod = nodes[0]?.pods[0];
    clusters.push({
      id,
      index: i,
      lanCidr: `192.168.${i}.0/24`,
      podCidr: `10.${i}.0.0/16`,
      serviceCidr: `10.${100 + i}.0.0/16`,
      service: firstPod ? { name: 'echo', ip: `10.${100 + i}.0.10`, port: SERVICE_PORT, backend: firstPod.ip, targetPort: SERVICE_PORT } : null,
      lanNamespace: `${p}-c${i}-lan`,
      controlPlane: { namespace: `${p}-c${i}-cp`, ip: cpIp, url: `https://${cpIp}:${API_PORT}` },
      nodes,
      cable: options.cableOverrides[id] ?? options.cable,
      nat,
    });
  }
  return {
    options,
    wan: { namespace: `${p}-wan`, cidr: WAN_CIDR },
    broker: { namespace: `${p}-broker`, ip: BROKER_IP, url: `https://${BROKER_IP}:${API_PORT}`, wanPort: 'broker' },
    clusters,
  };
}

/** Every namespace of a plan, bridges first (they must exist before the veths into them). */
export function planNamespaces(plan: LabPlan): string[] {
  const names = [plan.wan.namespace, plan.broker.namespace];
  for (const cluster of plan.clusters) {
    names.push(cluster.lanNamespace, cluster.controlPlane.namespace, ...(cluster.nat ? [cluster.nat.namespace] : []));
    for (const node of cluster.nodes) names.push(node.namespace, ...node.pods.map((pod) => pod.namespace));
  }
  return names;
}

/**
 * Whether a namespace name has the shape of one of this prefix's lab namespaces, whatever the
 * lab's size was: how `down` finds what a crashed run of unknown options left behind.
 */
export function isLabNamespace(prefix: string, name: string): boolean {
  if (!name.startsWith(`${prefix}-`)) return false;
  return /^(wan|broker|c\d+-(lan|cp|nat|n\d+(-p\d+)?))$/.test(name.slice(prefix.length + 1));
}

