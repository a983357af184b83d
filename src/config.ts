/**
 * Command line and environment -> validated configuration. Pure: the caller hands in argv and env.
 * Precedence per setting: flag, then SEAWAY_* variable, then Submariner's variable name, then default.
 */
import { isIP, isIPv6 } from 'node:net';
import { dirname, join } from 'node:path';
import { clip, overlaps, parseCidr, parseIpv4, type Cidr } from './model/cidr.ts';
import { dns1123Label, dns1123Subdomain, interfaceName } from './model/names.ts';
import { apiServerAddresses } from './model/api-server-addresses.ts';
import { nodeIpProblem } from './model/host-network.ts';
import { OWNERSHIP } from './model/ownership.ts';
import { MAX_CIDRS_PER_SET } from './plan/filter-input.ts';
import { DEFAULT_HEALTH_SETTINGS } from './plan/health-probes.ts';
import { ROUTE_AGENT_HEALTH_INTERVAL_SECONDS, ROUTE_AGENT_MAX_PROBES_PER_SECOND } from './plan/route-agent-health.ts';
import { DEFAULT_EXEC_TIMEOUT_MS } from './kernel/exec.ts';
import { base64Text, bearerTokenProblem, brokerServerUrl, parseLabel, publicIpProblem, secretValue, type Parsed } from './gateway-config.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const FILTER_BACKENDS = ['auto', 'iptables', 'nftables'] as const;
export type FilterBackend = (typeof FILTER_BACKENDS)[number];

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export interface RunConfig {
  command: 'run';
  clusterId: string;
  namespace: string;
  nodeName: string;
  /** Canonical IPv4 CIDRs, in the order given. */
  podCidrs: string[];
  serviceCidrs: string[];
  /** Interface named by configuration; null means "find the one holding an address in the pod CIDR". */
  cniInterface: string | null;
  /** The node's VXLAN address; null: this Node's InternalIP, else the default route's source (plan/underlay.ts). */
  nodeIp: string | null;
  /** The interface VXLAN leaves through; null: the one holding the node IP, else the default route's. */
  underlayInterface: string | null;
  listen: ListenAddress[];
  logLevel: LogLevel;
  /** Path to a kubeconfig; null means in-cluster configuration. */
  kubeconfig: string | null;
  minPrefixLength: number;
  maxSubnetsPerEndpoint: number;
  /** Most remote subnets routed in total; whole Endpoints past it are rejected, in cluster precedence order. */
  maxRemoteSubnets: number;
  /** Kubernetes Events about Endpoints: at most this many at once, then one per eventIntervalSeconds. */
  eventBurst: number;
  eventIntervalSeconds: number;
  /** How long a remote cluster with no Endpoint left keeps its routes and exemptions (its gateway failing over). */
  remoteGraceSeconds: number;
  /**
   * The API server's IPv4 addresses, which no remote subnet may cover: KUBERNETES_SERVICE_HOST here;
   * the composition root adds the kubeconfig server's host once it has loaded the kubeconfig.
   */
  apiServerAddresses: string[];
  filterBackend: FilterBackend;
  resyncSeconds: number;
  cniWaitLogSeconds: number;
  /** Where seaway keeps what it must remember across restarts (the sysctl values it replaced). */
  stateDir: string;
  /** The local socket `seaway status` reads the per-object status from. */
  statusSocket: string;
  /** Throttle: the least time between the starts of two reconcile passes. */
  minPassIntervalMs: number;
  /** Bounds of each object's retry backoff (and of a whole pass that failed). */
  retryMinMs: number;
  retryMaxMs: number;
  /** Tug-of-war: this many repairs of one object within fightWindowSeconds hold its repairs on a backoff. */
  fightRepairs: number;
  fightWindowSeconds: number;
  fightBackoffMinMs: number;
  fightBackoffMaxMs: number;
  /** Deadline of each packet filter tool (iptables-restore, nft, ipset); killed past it. */
  execTimeoutSeconds: number;
  /** The host's xtables lock file, shared with kube-proxy and the CNI (XTABLES_LOCKFILE of every iptables run). */
  xtablesLock: string;
  /** Deadline of each netlink request; past it the socket is reopened. */
  netlinkTimeoutSeconds: number;
  /** A stop (SIGTERM) finishes within this, whatever hangs. */
  shutdownTimeoutSeconds: number;
  /** The agent's Kubernetes API rate limit (client-go's QPS and burst), over every list and watch request. */
  apiQps: number;
  apiBurst: number;
  /** Deadline of each API list page and of a watch's response headers. */
  apiTimeoutSeconds: number;
  /** Each watch asks the server to end it after [this, 2 x this) seconds; silent for min(2 x this, 120 s), it is presumed dead. */
  apiWatchTimeoutSeconds: number;
  /** Bounds of an informer's backoff after API failures (list and watch share it). */
  apiRetryMinMs: number;
  apiRetryMaxMs: number;
  /** Between two health checks from this node to one remote gateway (seconds; stretched past a node-wide budget); 0: none. */
  healthCheckIntervalSeconds: number;
  /** Accepted but noteworthy input (e.g. a CIDR with host bits set), for main to log. */
  warnings: string[];
}

/** `seaway status`: asks the running agent for its per-object status over its local socket. */
export interface StatusConfig {
  command: 'status';
  statusSocket: string;
  json: boolean;
}

/** `seaway rotate-wireguard-key`: a new WireGuard key in the gateway's state directory, taken up by the running gateway. */
export interface RotateKeyConfig {
  command: 'rotate-wireguard-key';
  stateDir: string;
}

/** The cables a gateway can run, by seaway's name. */
export const CABLES = ['ipsec', 'wireguard', 'vxlan'] as const;
export type CableKind = (typeof CABLES)[number];

/** Cleanup must work with the API server gone and a half-broken environment: it needs nothing else. */
export interface CleanupConfig {
  command: 'cleanup';
  logLevel: LogLevel;
  filterBackend: FilterBackend;
  stateDir: string;
  xtablesLock: string;
  warnings: string[];
}

/**
 * `seaway uninstall`: the uninstall DaemonSet's pod on each node (manifests/uninstall). It stops the agents,
 * cleans its node as `cleanup` does, deletes what seaway made in the API and, once every node is clean,
 * removes itself. Like cleanup it never refuses to clean the node for a setting it does not need.
 */
export interface UninstallConfig {
  command: 'uninstall';
  cleanup: Omit<CleanupConfig, 'command' | 'warnings'>;
  clusterId: string;
  namespace: string;
  nodeName: string;
  kubeconfig: string | null;
  /** The cluster's broker credentials, to delete its copies there; null when none are given (a cluster that never joined). */
  broker: BrokerCredentials | null;
  brokerNamespace: string;
  /** Where /readyz says whether this node is clean (the DaemonSet's readiness probe). */
  listen: ListenAddress[];
  /** The route agent's and the gateway's status sockets on this node: while either answers, an agent still runs here. */
  agentSockets: string[];
  /** How long to wait for every node to be clean before deleting the cluster's objects anyway. */
  uninstallTimeoutSeconds: number;
  apiTimeoutSeconds: number;
  warnings: string[];
}

/** How the gateway reaches the broker: a kubeconfig, or Submariner's BROKER_K8S_* variables. */
export type BrokerCredentials =
  | { kind: 'kubeconfig'; path: string }
  | {
    kind: 'submariner-env';
    /** An https URL without a path, e.g. https://192.168.1.1:6443. */
    server: string;
    /** A token file (read at run time), or the token itself (from BROKER_K8S_APISERVERTOKEN; never logged). */
    token: { file: string } | { value: string };
    /** The broker's CA bundle (PEM text, decoded from BROKER_K8S_CA; its content is checked at run time). */
    caPem: string;
  };

/** A node label, as `key=value`. */
export interface GatewayLabel { key: string; value: string }

/** `seaway gateway`: the gateway role of this node (election, tunnels, broker sync, status). */
export interface GatewayConfig {
  command: 'gateway';
  clusterId: string;
  namespace: string;
  nodeName: string;
  /** Canonical IPv4 CIDRs, in the order given. */
  podCidrs: string[];
  serviceCidrs: string[];
  /** The node's private IP; null: this Node's InternalIP. */
  nodeIp: string | null;
  listen: ListenAddress[];
  logLevel: LogLevel;
  /** Path to a kubeconfig of the local cluster; null means in-cluster configuration. */
  kubeconfig: string | null;
  /** The gateway's own state directory (charon's files live there). */
  stateDir: string;
  statusSocket: string;
  /** The IPsec pre-shared key's file (its content is checked at run time). */
  pskFile: string;
  broker: BrokerCredentials;
  /** The broker's namespace the Endpoint and Cluster objects are exchanged in. */
  brokerNamespace: string;
  /** seaway's election Lease (in `namespace`); never Submariner's, which seaway only reads. */
  leaseName: string;
  leaseDurationSeconds: number;
  /** How often the Lease is tried or renewed; less than half its duration. */
  leaseRetryMs: number;
  /** The label that makes a node a gateway candidate. */
  gatewayLabel: GatewayLabel;
  /** `ipv4:<address>`, used when the node names no gateway.submariner.io/public-ip; null: none. */
  publicIp: string | null;
  natTPort: number;
  nattDiscoveryPort: number;
  natEnabled: boolean;
  /** The cable to the other clusters' gateways. */
  cable: CableKind;
  /** Between two health checks to one remote gateway (ms), and how many lost in a row make its connection an error. */
  healthCheckIntervalMs: number;
  healthCheckMaxLoss: number;
  /** IPsec: ESP always in UDP (NAT-T port), for networks that block raw ESP. */
  forceUdpEncapsulation: boolean;
  /** After a PSK change, the old key stays accepted this long. */
  pskRotationWindowSeconds: number;
  /** A cable not connected within this is reported as failing. */
  cableConnectTimeoutSeconds: number;
  /** How often the Gateway status object is written (Submariner treats one older than 15 s as stale). */
  statusRefreshSeconds: number;
  /** How often the local Endpoint's liveness annotation on the broker is refreshed. */
  brokerRefreshSeconds: number;
  /** A remote Endpoint not refreshed within this is stale; more than brokerRefreshSeconds. */
  remoteStaleSeconds: number;
  resyncSeconds: number;
  minPassIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** How often the PSK is re-read and the cables repaired. */
  ipsecTickMs: number;
  execTimeoutSeconds: number;
  netlinkTimeoutSeconds: number;
  shutdownTimeoutSeconds: number;
  apiQps: number;
  apiBurst: number;
  apiTimeoutSeconds: number;
  apiWatchTimeoutSeconds: number;
  apiRetryMinMs: number;
  apiRetryMaxMs: number;
  /** Accepted but noteworthy input, for main to log (never a secret). */
  warnings: string[];
}

/**
 * `seaway diagnose`: real probes from this node (ports, tunnels, VXLAN, the agents' HTTP port), the
 * Endpoints and the kernel's leftovers, judged into findings. It reads the cluster settings of run
 * and gateway (as `kubectl exec` into the route agent's pod has them) and a few of its own.
 */
export interface DiagnoseConfig {
  command: 'diagnose';
  /** Every node's findings, asked of each route agent's /diagnose through the API's Node list. */
  all: boolean;
  json: boolean;
  clusterId: string;
  namespace: string;
  nodeName: string;
  podCidrs: string[];
  serviceCidrs: string[];
  cniInterface: string | null;
  nodeIp: string | null;
  /** Where the route agent serves /healthz, /readyz (and /diagnose): its --listen, with run's default. */
  listen: ListenAddress[];
  /** Where this node's gateway serves them: --gateway-listen, else the route agent's host on the gateway's port. */
  gatewayListen: ListenAddress[];
  kubeconfig: string | null;
  /** The broker's credentials when given (as `seaway gateway` takes them); null: the broker is not checked. */
  broker: BrokerCredentials | null;
  brokerNamespace: string;
  leaseName: string;
  remoteStaleSeconds: number;
  filterBackend: FilterBackend;
  stateDir: string;
  /** The route agent's local status socket (whether it runs here). */
  statusSocket: string;
  /** The gateway's local status socket. */
  gatewayStatusSocket: string;
  xtablesLock: string;
  apiTimeoutSeconds: number;
  execTimeoutSeconds: number;
  warnings: string[];
}

export type Config = RunConfig | GatewayConfig | CleanupConfig | UninstallConfig | StatusConfig | RotateKeyConfig | DiagnoseConfig | { command: 'version' } | { command: 'help'; text: string };

/** Submariner's gateway election Lease: seaway reads it (its gateway must not be active) and never writes it. */
export const SUBMARINER_LEASE_NAME = 'submariner-gateway-lock';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(problems.length === 1 ? `invalid configuration: ${problems[0]}` : `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Key =
  | 'clusterId' | 'namespace' | 'nodeName' | 'podCidrs' | 'serviceCidrs' | 'cniInterface' | 'nodeIp' | 'underlayInterface' | 'hostIp' | 'listen' | 'logLevel'
  | 'kubeconfig' | 'minPrefixLength' | 'maxSubnetsPerEndpoint' | 'maxRemoteSubnets' | 'remoteGraceSeconds' | 'eventBurst' | 'eventIntervalSeconds' | 'filterBackend' | 'resyncSeconds' | 'cniWaitLogSeconds' | 'stateDir'
  | 'statusSocket' | 'minPassIntervalMs' | 'retryMinMs' | 'retryMaxMs'
  | 'fightRepairs' | 'fightWindowSeconds' | 'fightBackoffMinMs' | 'fightBackoffMaxMs' | 'execTimeoutSeconds' | 'xtablesLock' | 'netlinkTimeoutSeconds' | 'shutdownTimeoutSeconds'
  | 'apiQps' | 'apiBurst' | 'apiTimeoutSeconds' | 'apiWatchTimeoutSeconds' | 'apiRetryMinMs' | 'apiRetryMaxMs'
  | 'pskFile' | 'brokerKubeconfig' | 'brokerApiServer' | 'brokerToken' | 'brokerCa' | 'brokerInsecure' | 'brokerNamespace'
  | 'leaseName' | 'leaseDurationSeconds' | 'leaseRetryMs' | 'gatewayLabel' | 'publicIp' | 'natTPort' | 'nattDiscoveryPort' | 'natEnabled' | 'cable' | 'healthCheckIntervalMs' | 'healthCheckMaxLoss' | 'forceUdpEncapsulation'
  | 'healthCheckIntervalSeconds'
  | 'pskRotationWindowSeconds' | 'cableConnectTimeoutSeconds' | 'statusRefreshSeconds' | 'brokerRefreshSeconds' | 'remoteStaleSeconds' | 'ipsecTickMs'
  | 'gatewayListen' | 'gatewayStatusSocket' | 'uninstallTimeoutSeconds';

/** The commands that read agent settings; a flag of the other one is refused (variables are ignored). */
type AgentCommand = 'run' | 'gateway';

interface Setting {
  /** null: only an environment variable sets it (Submariner's, or one a command line must not show). */
  flag: string | null;
  /** Environment variables in order of precedence. */
  env: string[];
  help: string;
  defaultText?: string;
  /** Read by this agent command only; absent: by both (and maybe by cleanup or status). Diagnose reads every setting. */
  only?: AgentCommand | 'diagnose' | 'uninstall';
}

/** Variables holding secrets: errors name them and never show their value. */
const SECRET_ENV = new Set(['BROKER_K8S_APISERVERTOKEN']);

const SETTINGS: Record<Key, Setting> = {
  clusterId: { flag: '--cluster-id', env: ['SEAWAY_CLUSTER_ID', 'SUBMARINER_CLUSTERID'], help: 'this cluster\'s id (DNS-1123 label); required for run and gateway' },
  namespace: { flag: '--namespace', env: ['SEAWAY_NAMESPACE', 'SUBMARINER_NAMESPACE'], help: 'namespace of the Endpoint and Cluster objects', defaultText: 'submariner-operator' },
  nodeName: { flag: '--node-name', env: ['SEAWAY_NODE_NAME', 'NODE_NAME'], help: 'this node\'s name; required for run and gateway' },
  podCidrs: { flag: '--pod-cidrs', env: ['SEAWAY_POD_CIDRS', 'SUBMARINER_CLUSTERCIDR'], help: 'local pod CIDRs, comma separated IPv4; required for run and gateway' },
  serviceCidrs: { flag: '--service-cidrs', env: ['SEAWAY_SERVICE_CIDRS', 'SUBMARINER_SERVICECIDR'], help: 'local service CIDRs, comma separated IPv4; required for run and gateway' },
  cniInterface: { only: 'run', flag: '--cni-interface', env: ['SEAWAY_CNI_INTERFACE'], help: 'CNI interface name', defaultText: 'the interface holding an address in the pod CIDR' },
  nodeIp: {
    flag: '--node-ip', env: ['SEAWAY_NODE_IP'], defaultText: 'this Node\'s first IPv4 InternalIP, else the default route\'s source address',
    help: 'this node\'s IPv4 address for VXLAN between nodes (vx-submariner\'s local address, and 240.x.y.z its VTEP); an address of this node, which gateways reach at its InternalIP',
  },
  underlayInterface: {
    only: 'run', flag: '--underlay-interface', env: ['SEAWAY_UNDERLAY_INTERFACE'], defaultText: 'the interface holding the node IP, else the default route\'s',
    help: 'the interface VXLAN between nodes leaves through; vx-submariner\'s MTU is its MTU less 50',
  },
  hostIp: {
    flag: '--host-ip', env: ['SEAWAY_HOST_IP'], defaultText: 'none',
    help: 'the address the kubelet\'s probes and Prometheus reach this node at (the downward API\'s status.hostIP, IPv4 or IPv6): where the HTTP endpoints are served by default',
  },
  listen: {
    flag: '--listen', env: ['SEAWAY_LISTEN'],
    defaultText: 'the host IP (--host-ip), else the node IP (--node-ip), on port 9082; else 127.0.0.1:9082 with a warning; never every interface, as /metrics has no authentication',
    help: 'HTTP listen addresses of /metrics, /healthz and /readyz, comma separated host:port, [v6]:port or unix:/path. '
      + 'Port 9082 is taken by none of Submariner\'s (8080 and 8081 of its metrics proxy, 32780-32782 of its gateway, globalnet and route agent); '
      + 'the gateway\'s default is port 9083 instead, beside the route agent on the same node',
  },
  logLevel: { flag: '--log-level', env: ['SEAWAY_LOG_LEVEL'], help: `one of ${LOG_LEVELS.join(', ')}`, defaultText: 'info' },
  kubeconfig: { flag: '--kubeconfig', env: ['SEAWAY_KUBECONFIG', 'KUBECONFIG'], help: 'path to a kubeconfig file', defaultText: 'in-cluster configuration' },
  minPrefixLength: { only: 'run', flag: '--min-prefix-length', env: ['SEAWAY_MIN_PREFIX_LENGTH'], help: 'reject remote subnets broader than this prefix length (1-32)', defaultText: '8' },
  maxSubnetsPerEndpoint: { only: 'run', flag: '--max-subnets-per-endpoint', env: ['SEAWAY_MAX_SUBNETS_PER_ENDPOINT'], help: 'reject Endpoints listing more subnets (1-4096)', defaultText: '64' },
  eventBurst: { only: 'run', flag: '--event-burst', env: ['SEAWAY_EVENT_BURST'], help: 'Kubernetes Events about rejected or duplicate Endpoints posted at once before the rate applies (1-1000)', defaultText: '10' },
  eventIntervalSeconds: { only: 'run', flag: '--event-interval-seconds', env: ['SEAWAY_EVENT_INTERVAL_SECONDS'], help: 'after the burst, one such Event per this many seconds; the rest wait for a later pass (1-3600)', defaultText: '10' },
  remoteGraceSeconds: { only: 'run', flag: '--remote-grace-seconds', env: ['SEAWAY_REMOTE_GRACE_SECONDS'], help: 'a remote cluster whose Endpoints are all gone keeps its routes this long, so its failover never falls through to the default route (0-86400)', defaultText: '120' },
  maxRemoteSubnets: { only: 'run', flag: '--max-remote-subnets', env: ['SEAWAY_MAX_REMOTE_SUBNETS'], help: 'route at most this many remote subnets in total; Endpoints past it are rejected whole, by cluster precedence (1-262144)', defaultText: '10000' },
  filterBackend: { only: 'run', flag: '--filter-backend', env: ['SEAWAY_FILTER_BACKEND'], help: `packet filter backend: ${FILTER_BACKENDS.join(', ')}`, defaultText: 'auto' },
  resyncSeconds: { flag: '--resync-seconds', env: ['SEAWAY_RESYNC_SECONDS'], help: 'periodic full reconcile interval (1-86400)', defaultText: '30' },
  stateDir: { flag: '--state-dir', env: ['SEAWAY_STATE_DIR'], help: 'directory for state kept across restarts (absolute path)', defaultText: '/var/lib/seaway; /var/lib/seaway/gateway for gateway' },
  cniWaitLogSeconds: { only: 'run', flag: '--cni-wait-log-seconds', env: ['SEAWAY_CNI_WAIT_LOG_SECONDS'], help: 'how often the CNI interface wait logs what it waits for (1-3600)', defaultText: '15' },
  statusSocket: { flag: '--status-socket', env: ['SEAWAY_STATUS_SOCKET'], help: 'local unix socket serving the per-object status to `seaway status` (absolute path)', defaultText: 'seaway.sock in the state directory; gateway.sock for gateway' },
  minPassIntervalMs: { flag: '--min-pass-interval-ms', env: ['SEAWAY_MIN_PASS_INTERVAL_MS'], help: 'least time between two reconcile passes, whatever wakes them (0-60000)', defaultText: '250' },
  retryMinMs: { flag: '--retry-min-ms', env: ['SEAWAY_RETRY_MIN_MS'], help: 'first retry delay of an object that failed (1-60000)', defaultText: '200' },
  retryMaxMs: { flag: '--retry-max-ms', env: ['SEAWAY_RETRY_MAX_MS'], help: 'longest retry delay of an object that keeps failing (1-3600000, at least --retry-min-ms)', defaultText: '30000' },
  xtablesLock: {
    only: 'run', flag: '--xtables-lock', env: ['SEAWAY_XTABLES_LOCK'], defaultText: '/run/xtables.lock',
    help: 'the host\'s xtables lock file (absolute path), shared with kube-proxy so iptables-legacy writers never undo each other; mount the host\'s',
  },
  fightRepairs: { only: 'run', flag: '--fight-repairs', env: ['SEAWAY_FIGHT_REPAIRS'], help: 'repairs of one object within --fight-window-seconds that mean another agent keeps undoing it: its repairs then back off (2-1000)', defaultText: '5' },
  fightWindowSeconds: { only: 'run', flag: '--fight-window-seconds', env: ['SEAWAY_FIGHT_WINDOW_SECONDS'], help: 'the window --fight-repairs are counted in (1-3600)', defaultText: '60' },
  fightBackoffMinMs: { only: 'run', flag: '--fight-backoff-min-ms', env: ['SEAWAY_FIGHT_BACKOFF_MIN_MS'], help: 'first pause before repairing an object fought over again (1-3600000)', defaultText: '5000' },
  fightBackoffMaxMs: { only: 'run', flag: '--fight-backoff-max-ms', env: ['SEAWAY_FIGHT_BACKOFF_MAX_MS'], help: 'longest pause between repairs of an object fought over (1-86400000, at least --fight-backoff-min-ms)', defaultText: '300000' },
  healthCheckIntervalSeconds: {
    only: 'run', flag: '--health-check-interval-seconds', env: ['SEAWAY_HEALTH_CHECK_INTERVAL_SECONDS'], defaultText: String(ROUTE_AGENT_HEALTH_INTERVAL_SECONDS),
    help: 'on nodes other than the gateway, how often each remote gateway\'s healthCheckIP is pinged from this node\'s CNI address through the gateway, '
      + `for the RouteAgent status (0-3600; 0 disables; stretched to stay within ${ROUTE_AGENT_MAX_PROBES_PER_SECOND} probes a second over all remotes)`,
  },
  execTimeoutSeconds: { flag: '--exec-timeout-seconds', env: ['SEAWAY_EXEC_TIMEOUT_SECONDS'], help: 'deadline of each iptables, nft or ipset run; killed past it (1-600)', defaultText: '30' },
  netlinkTimeoutSeconds: { flag: '--netlink-timeout-seconds', env: ['SEAWAY_NETLINK_TIMEOUT_SECONDS'], help: 'deadline of each netlink request; the socket is reopened past it (1-600)', defaultText: '10' },
  shutdownTimeoutSeconds: { flag: '--shutdown-timeout-seconds', env: ['SEAWAY_SHUTDOWN_TIMEOUT_SECONDS'], help: 'a stop (SIGTERM) ends within this, whatever still hangs (1-600)', defaultText: '10' },
  apiQps: { flag: '--api-qps', env: ['SEAWAY_API_QPS'], help: 'Kubernetes API requests per second, sustained, over all informers (1-1000)', defaultText: '5' },
  apiBurst: { flag: '--api-burst', env: ['SEAWAY_API_BURST'], help: 'Kubernetes API requests allowed at once after a quiet period (1-10000)', defaultText: '10' },
  apiTimeoutSeconds: { flag: '--api-timeout-seconds', env: ['SEAWAY_API_TIMEOUT_SECONDS'], help: 'deadline of each API list page and of a watch\'s answer (1-600)', defaultText: '30' },
  apiWatchTimeoutSeconds: {
    flag: '--api-watch-timeout-seconds', env: ['SEAWAY_API_WATCH_TIMEOUT_SECONDS'], defaultText: '300',
    help: 'the API server ends each watch after [this, 2 x this) seconds and it is resumed from its last version; a watch silent for min(2 x this, 120) seconds is presumed dead (1-3600)',
  },
  apiRetryMinMs: { flag: '--api-retry-min-ms', env: ['SEAWAY_API_RETRY_MIN_MS'], help: 'first wait of an informer after an API failure (1-60000)', defaultText: '1000' },
  apiRetryMaxMs: { flag: '--api-retry-max-ms', env: ['SEAWAY_API_RETRY_MAX_MS'], help: 'longest wait of an informer that keeps failing (1-3600000, at least --api-retry-min-ms)', defaultText: '60000' },
  pskFile: { only: 'gateway', flag: '--psk-file', env: ['SEAWAY_PSK_FILE'], help: 'the file holding the IPsec pre-shared key (absolute path; its content is read at run time); required for gateway' },
  brokerKubeconfig: {
    only: 'gateway', flag: '--broker-kubeconfig', env: ['SEAWAY_BROKER_KUBECONFIG'],
    help: 'path to a kubeconfig of the broker; give it, or Submariner\'s broker variables (--broker-api-server, the token and BROKER_K8S_CA), not both',
  },
  brokerApiServer: { only: 'gateway', flag: '--broker-api-server', env: ['BROKER_K8S_APISERVER'], help: 'the broker\'s API server, host:port or https://host[:port] (https only)' },
  brokerToken: {
    only: 'gateway', flag: '--broker-token-file', env: ['SEAWAY_BROKER_TOKEN_FILE', 'BROKER_K8S_APISERVERTOKEN'],
    help: 'the broker token: a file holding it (flag or SEAWAY_BROKER_TOKEN_FILE, absolute path), or BROKER_K8S_APISERVERTOKEN holding the token itself (never shown)',
  },
  brokerCa: { only: 'gateway', flag: null, env: ['BROKER_K8S_CA'], help: 'the broker\'s CA bundle, base64 of its PEM text; required with BROKER_K8S_APISERVER' },
  brokerInsecure: {
    only: 'gateway', flag: null, env: ['BROKER_K8S_INSECURE'], defaultText: 'false',
    help: 'must not be true: seaway always verifies the broker\'s certificate',
  },
  brokerNamespace: {
    only: 'gateway', flag: '--broker-namespace', env: ['SEAWAY_BROKER_NAMESPACE', 'BROKER_K8S_REMOTENAMESPACE'], defaultText: 'submariner-k8s-broker',
    help: 'the broker\'s namespace, where the clusters exchange their Endpoint and Cluster objects',
  },
  leaseName: {
    only: 'gateway', flag: '--lease-name', env: ['SEAWAY_LEASE_NAME'], defaultText: 'seaway-gateway-lock',
    help: `the Lease the gateways of this cluster elect the active one with (DNS-1123 subdomain, in --namespace); never ${SUBMARINER_LEASE_NAME}, Submariner's, which seaway only reads`,
  },
  leaseDurationSeconds: { only: 'gateway', flag: '--lease-duration-seconds', env: ['SEAWAY_LEASE_DURATION_SECONDS'], help: 'a holder that has not renewed the Lease for this long has lost it (2-300)', defaultText: '5' },
  leaseRetryMs: {
    only: 'gateway', flag: '--lease-retry-ms', env: ['SEAWAY_LEASE_RETRY_MS'], defaultText: '1000',
    help: 'how often the Lease is tried for or renewed (100-60000, less than half of --lease-duration-seconds)',
  },
  gatewayLabel: {
    only: 'gateway', flag: '--gateway-label', env: ['SEAWAY_GATEWAY_LABEL'], defaultText: 'submariner.io/gateway=true',
    help: 'key=value: the node label that makes a node a gateway candidate',
  },
  publicIp: {
    only: 'gateway', flag: '--public-ip', env: ['SEAWAY_PUBLIC_IP'], defaultText: 'none',
    help: 'ipv4:<address>, the public IP published when the node has no gateway.submariner.io/public-ip label or annotation',
  },
  natTPort: { only: 'gateway', flag: '--nat-t-port', env: ['SEAWAY_NAT_T_PORT', 'CE_IPSEC_NATTPORT'], help: 'UDP port of IKE and IPsec with NAT traversal (1-65535)', defaultText: '4500' },
  nattDiscoveryPort: {
    only: 'gateway', flag: '--natt-discovery-port', env: ['SEAWAY_NATT_DISCOVERY_PORT'], defaultText: '4490',
    help: 'UDP port published for Submariner\'s NAT discovery (1-65535, not --nat-t-port)',
  },
  natEnabled: {
    only: 'gateway', flag: '--nat-enabled', env: ['SEAWAY_NAT_ENABLED', 'SUBMARINER_NATENABLED'], defaultText: 'true',
    help: 'true or false: whether cables may go through NAT (as subctl join --natt)',
  },
  cable: {
    only: 'gateway', flag: '--cable', env: ['SEAWAY_CABLE', 'SUBMARINER_CABLEDRIVER'], defaultText: 'ipsec',
    help: 'the cable to the other clusters: ipsec (strongSwan; Submariner\'s libreswan is accepted as the same), wireguard, or vxlan (unencrypted, for trusted networks)',
  },
  forceUdpEncapsulation: {
    only: 'gateway', flag: '--force-udp-encapsulation', env: ['SEAWAY_FORCE_UDP_ENCAPSULATION', 'CE_IPSEC_FORCEENCAPS'], defaultText: 'false',
    help: 'true or false: IPsec sends ESP inside UDP on the NAT-T port even without NAT, where raw ESP is blocked (set it on every cluster; kernel-libipsec always does)',
  },
  healthCheckIntervalMs: {
    only: 'gateway', flag: '--health-check-interval-ms', env: ['SEAWAY_HEALTH_CHECK_INTERVAL_MS'], defaultText: '1000',
    help: 'how often each remote gateway\'s healthCheckIP is pinged through its cable (10-60000; stretched to stay within 100 probes a second over all remotes)',
  },
  healthCheckMaxLoss: {
    only: 'gateway', flag: '--health-check-max-loss', env: ['SEAWAY_HEALTH_CHECK_MAX_LOSS'], defaultText: '5',
    help: 'health checks lost in a row that make a connection an error although its tunnel is up (1-100)',
  },
  pskRotationWindowSeconds: {
    only: 'gateway', flag: '--psk-rotation-window-seconds', env: ['SEAWAY_PSK_ROTATION_WINDOW_SECONDS'], defaultText: '300',
    help: 'after the pre-shared key changes, the previous one is still accepted this long (1-86400)',
  },
  cableConnectTimeoutSeconds: {
    only: 'gateway', flag: '--cable-connect-timeout-seconds', env: ['SEAWAY_CABLE_CONNECT_TIMEOUT_SECONDS'], defaultText: '60',
    help: 'a cable not connected within this is reported as failing (1-3600)',
  },
  statusRefreshSeconds: {
    only: 'gateway', flag: '--status-refresh-seconds', env: ['SEAWAY_STATUS_REFRESH_SECONDS'], defaultText: '5',
    help: 'how often the Gateway status object is written (1-14: Submariner treats one older than 15 s as stale)',
  },
  brokerRefreshSeconds: {
    only: 'gateway', flag: '--broker-refresh-seconds', env: ['SEAWAY_BROKER_REFRESH_SECONDS'], defaultText: '30',
    help: 'how often the local Endpoint\'s liveness annotation on the broker is refreshed (1-3600)',
  },
  remoteStaleSeconds: {
    only: 'gateway', flag: '--remote-stale-seconds', env: ['SEAWAY_REMOTE_STALE_SECONDS'], defaultText: '120',
    help: 'a remote Endpoint whose liveness annotation is older than this is stale (2-86400, more than --broker-refresh-seconds)',
  },
  gatewayListen: {
    only: 'diagnose', flag: '--gateway-listen', env: ['SEAWAY_GATEWAY_LISTEN'], defaultText: 'the route agent\'s listen host on port 9083',
    help: 'where this node\'s gateway serves /healthz and /readyz (host:port, as its --listen); an unspecified host (:port) means the route agent\'s host',
  },
  gatewayStatusSocket: {
    only: 'diagnose', flag: '--gateway-status-socket', env: ['SEAWAY_GATEWAY_STATUS_SOCKET'],
    defaultText: 'gateway.sock beside --status-socket when that is given, else /var/lib/seaway/gateway/gateway.sock',
    help: 'the gateway\'s local status socket (absolute path), asked whether a gateway runs on this node',
  },
  uninstallTimeoutSeconds: {
    only: 'uninstall', flag: '--uninstall-timeout-seconds', env: ['SEAWAY_UNINSTALL_TIMEOUT_SECONDS'], defaultText: '600',
    help: 'how long `seaway uninstall` waits for every node to be clean (and for the agents\' pods to stop) before it deletes the cluster\'s objects and itself anyway (10-86400)',
  },
  ipsecTickMs: {
    only: 'gateway', flag: '--ipsec-tick-ms', env: ['SEAWAY_IPSEC_TICK_MS'], defaultText: '2000',
    help: 'how often the pre-shared key is re-read and the cables repaired (100-60000)',
  },
};

export const DEFAULTS = {
  namespace: 'submariner-operator',
  // Submariner's metrics proxy has 8080 and 8081, its gateway, globalnet and route agent 32780-32782.
  listenPort: 9082,
  logLevel: 'info' as LogLevel,
  minPrefixLength: 8,
  // Submariner Endpoints list the cluster's pod and service CIDRs (a handful, more with extra IP pools or
  // globalnet). 64 is far beyond real use yet bounds what one bad object can make us program.
  maxSubnetsPerEndpoint: 64,
  // Far beyond real use (a few subnets per cluster), well inside the packet filter's 262,144 per set.
  maxRemoteSubnets: 10_000,
  // A Submariner gateway failover deletes the cluster's Endpoint and creates another: lease expiry
  // (15 s) plus election and broker sync fit well inside two minutes.
  remoteGraceSeconds: 120,
  // A thousand bad Endpoints must not become a thousand POSTs at once to a struggling API server.
  eventBurst: 10,
  eventIntervalSeconds: 10,
  filterBackend: 'auto' as FilterBackend,
  // Drift is repaired from kernel events; the resync is only a safety net, so it can be lazy.
  resyncSeconds: 30,
  cniWaitLogSeconds: 15,
  stateDir: '/var/lib/seaway',
  statusSocketName: 'seaway.sock',
  // Felix's apply throttle and kube-proxy's minSyncPeriod: bursts of events cost one pass.
  minPassIntervalMs: 250,
  retryMinMs: 200,
  retryMaxMs: 30_000,
  xtablesLock: '/run/xtables.lock',
  // Five repairs in a minute is no accident; the pause then doubles from 5 s to 5 min.
  fightRepairs: 5,
  fightWindowSeconds: 60,
  fightBackoffMinMs: 5000,
  fightBackoffMaxMs: 300_000,
  execTimeoutSeconds: DEFAULT_EXEC_TIMEOUT_MS / 1000,
  // Calico Felix's netlink timeout.
  netlinkTimeoutSeconds: 10, // DEFAULT_NETLINK_TIMEOUT_MS; not imported: connection.ts loads the native netlink binding
  shutdownTimeoutSeconds: 10,
  // client-go's default QPS and burst (Submariner's agents run with them).
  apiQps: 5,
  apiBurst: 10,
  apiTimeoutSeconds: 30,
  // client-go's reflector: watches last 5 to 10 minutes.
  apiWatchTimeoutSeconds: 300,
  // Waits drawn from [ceiling/2, ceiling], the ceiling doubling from 1 s to 60 s: client-go's reflector
  // (800 ms doubling to 30 s, jittered up to twice), so 60 s of errors cost at most 7 requests per informer.
  apiRetryMinMs: 1000,
  apiRetryMaxMs: 60_000,
  // The gateway: on the same hostNetwork node as the route agent, so its own port and state.
  gatewayListenPort: 9083,
  // The uninstall pod's /readyz (the route agent's and the gateway's ports are still in use while it starts).
  uninstallListenPort: 9084,
  uninstallTimeoutSeconds: 600,
  gatewayStateDir: '/var/lib/seaway/gateway',
  gatewayStatusSocketName: 'gateway.sock',
  brokerNamespace: 'submariner-k8s-broker',
  leaseName: 'seaway-gateway-lock',
  leaseDurationSeconds: 5,
  leaseRetryMs: 1000,
  gatewayLabel: { key: 'submariner.io/gateway', value: 'true' } as GatewayLabel,
  // Submariner's defaults (subctl join: --nattport 4500, --natt-discovery-port 4490, --natt).
  natTPort: 4500,
  nattDiscoveryPort: 4490,
  natEnabled: true,
  pskRotationWindowSeconds: 300,
  cableConnectTimeoutSeconds: 60,
  // Submariner treats a Gateway object not updated for 15 s as stale.
  statusRefreshSeconds: 5,
  brokerRefreshSeconds: 30,
  remoteStaleSeconds: 120,
  ipsecTickMs: 2000,
};

const FLAG_TO_KEY = new Map<string, Key>(Object.entries(SETTINGS).flatMap(([key, setting]) => (setting.flag === null ? [] : [[setting.flag, key as Key] as const])));

interface Raw {
  value: string;
  /** Where the value came from, for error messages: a flag or an environment variable name. */
  source: string;
}

const cableKind = (name: CableKind | 'libreswan'): CableKind => (name === 'libreswan' ? 'ipsec' : name);

export function helpText(): string {
  const rows = (only: Setting['only']) => Object.values(SETTINGS).filter((s) => s.only === only).map((s) => {
    const defaults = s.defaultText ? ` (default: ${s.defaultText})` : '';
    if (s.flag === null) return `  env ${s.env.join(', ')}\n      ${s.help}${defaults}`;
    return `  ${s.flag} VALUE\n      ${s.help}${defaults}\n      env: ${s.env.join(', ')}`;
  });
  return [
    'Usage: seaway <command> [flags]',
    '',
    'Commands:',
    '  run       run the route agent on this node',
    '  gateway   run the gateway role on this node: election, tunnels, broker sync, status',
    '  cleanup   remove everything seaway owns on this node and exit (needs no API server)',
    '  uninstall the uninstall DaemonSet\'s command (manifests/uninstall): stop the agents, clean this node,',
    '            delete seaway\'s objects here and on the broker, then remove the uninstall workload; /readyz',
    '            on port 9084 says when this node is clean',
    '  status    show what the running agent has programmed, pending and failing on this node',
    '            (--status-socket or --state-dir, --json)',
    '  diagnose  probe this node for real: UDP 4490/4500 to the remote gateways (from the gateway node),',
    '            the tunnels and their MTU, VXLAN (UDP 4800) to the gateway, the agents\' HTTP port, the',
    '            CNI interface, the iptables backend, the Endpoints and leftovers of earlier installs;',
    '            --json, --all (every node, through each route agent\'s /diagnose); exit 1 on an error',
    '  rotate-wireguard-key',
    '            make a new WireGuard key in the gateway\'s state directory (--state-dir); the running',
    '            gateway takes it up and announces its public key',
    '  version   print the version',
    '',
    'Settings of diagnose only (diagnose also reads the settings of run and gateway below; the route',
    'agent\'s /diagnose reads these variables):',
    ...rows('diagnose'),
    '',
    'Flags (flags win over SEAWAY_* variables, which win over Submariner\'s names; run and gateway refuse',
    'each other\'s flags and ignore each other\'s variables):',
    '',
    'Settings of run and gateway:',
    ...rows(undefined),
    '',
    'Settings of run only:',
    ...rows('run'),
    '',
    'Settings of gateway only:',
    ...rows('gateway'),
    '',
    'Settings of uninstall only (uninstall also reads the cleanup settings, the cluster, node, namespace,',
    'kubeconfig and broker settings; broker credentials are optional there):',
    ...rows('uninstall'),
    '',
    '  --help, -h',
    '      show this text',
    '',
  ].join('\n');
}

export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  const problems: string[] = [];
  const flags = new Map<Key, Raw>();
  let command: string | null = null;
  let help = false;
  let json = false;
  let all = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h' || arg === 'help') { help = true; continue; }
    if (arg === '--version') { command ??= 'version'; continue; }
    if (arg === '--json') { json = true; continue; }
    if (arg === '--all') { all = true; continue; }
    if (!arg.startsWith('-')) {
      if (command === null) command = arg;
      else problems.push(`unexpected argument "${clip(arg)}"`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const key = FLAG_TO_KEY.get(name);
    if (key === undefined) { problems.push(`unknown flag "${clip(name)}" (see --help)`); continue; }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) { problems.push(`${name} needs a value`); continue; }
      value = next;
      i++;
    }
    if (flags.has(key)) { problems.push(`${name} given more than once (use a comma separated list)`); continue; }
    flags.set(key, { value, source: name });
  }

  if (help) return { command: 'help', text: helpText() };
  if (command === 'version') {
    if (problems.length > 0) throw new ConfigError(problems);
    return { command: 'version' };
  }
  const commands = 'run, gateway, cleanup, uninstall, status, diagnose, rotate-wireguard-key or version';
  if (command === null) problems.unshift(`missing command: expected ${commands} (see --help)`);
  else if (!['run', 'gateway', 'cleanup', 'uninstall', 'status', 'diagnose', 'rotate-wireguard-key'].includes(command)) problems.unshift(`unknown command "${clip(command)}": expected ${commands}`);
  if (json && command !== 'status' && command !== 'diagnose') problems.push('--json is only for "seaway status"');
  if (all && command !== 'diagnose') problems.push('--all is only for "seaway diagnose"');
  // One DaemonSet env may carry both agents' variables, but a flag is given to one command on purpose.
  if (command === 'run' || command === 'gateway') {
    for (const [key, raw] of flags) {
      const only = SETTINGS[key].only;
      if (only !== undefined && only !== command) problems.push(`${raw.source} is not a setting of "seaway ${command}" (only of "seaway ${only}")`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const lookup = (key: Key): Raw | undefined => {
    const fromFlag = flags.get(key);
    if (fromFlag) return fromFlag;
    for (const name of SETTINGS[key].env) {
      const value = env[name];
      // An empty variable is how DaemonSet templates say "not set".
      if (value !== undefined && value !== '') return { value, source: name };
    }
    return undefined;
  };
  const warnings: string[] = [];
  const reader = new Reader(command ?? '', lookup, problems, warnings);

  if (command === 'rotate-wireguard-key') {
    const config: RotateKeyConfig = { command: 'rotate-wireguard-key', stateDir: reader.optional('stateDir', absolutePath) ?? DEFAULTS.gatewayStateDir };
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  }

  if (command === 'status') {
    const stateDir = reader.optional('stateDir', absolutePath) ?? DEFAULTS.stateDir;
    const config: StatusConfig = { command: 'status', statusSocket: reader.optional('statusSocket', socketPath) ?? join(stateDir, DEFAULTS.statusSocketName), json };
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  }

  // Cleanup reads only what it needs; the rest is accepted (an uninstall may reuse the agent's arguments)
  // and not validated, so a broken setting can never block removing seaway from a node.
  if (command === 'cleanup') {
    const config: CleanupConfig = {
      command: 'cleanup',
      logLevel: reader.oneOf('logLevel', LOG_LEVELS, DEFAULTS.logLevel),
      filterBackend: reader.oneOf('filterBackend', FILTER_BACKENDS, DEFAULTS.filterBackend),
      stateDir: reader.optional('stateDir', absolutePath) ?? DEFAULTS.stateDir,
      xtablesLock: reader.optional('xtablesLock', absolutePath) ?? DEFAULTS.xtablesLock,
      warnings,
    };
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  }

  if (command === 'gateway') return gatewayConfig(reader, problems, warnings);
  if (command === 'uninstall') return uninstallConfig(reader, problems, warnings);
  if (command === 'diagnose') return diagnoseConfig(reader, problems, warnings, { all, json });

  // Read in the order of --help so problems are listed in that order too.
  const node = readNode(reader);
  const cniInterface = reader.optional('cniInterface', interfaceName) ?? null;
  // Read before the listen addresses, whose default is on one of them.
  const nodeIp = reader.optional('nodeIp', nodeIpAddress) ?? null;
  const hostIp = reader.optional('hostIp', hostAddress) ?? null;
  const config: RunConfig = {
    command: 'run',
    ...node,
    cniInterface,
    nodeIp,
    underlayInterface: reader.optional('underlayInterface', underlayName) ?? null,
    listen: reader.listen(hostIp ?? nodeIp, DEFAULTS.listenPort),
    logLevel: reader.oneOf('logLevel', LOG_LEVELS, DEFAULTS.logLevel),
    kubeconfig: reader.optional('kubeconfig', kubeconfigPath) ?? null,
    minPrefixLength: reader.integer('minPrefixLength', 1, 32, DEFAULTS.minPrefixLength),
    maxSubnetsPerEndpoint: reader.integer('maxSubnetsPerEndpoint', 1, 4096, DEFAULTS.maxSubnetsPerEndpoint),
    maxRemoteSubnets: reader.integer('maxRemoteSubnets', 1, MAX_CIDRS_PER_SET, DEFAULTS.maxRemoteSubnets),
    remoteGraceSeconds: reader.integer('remoteGraceSeconds', 0, 86400, DEFAULTS.remoteGraceSeconds),
    eventBurst: reader.integer('eventBurst', 1, 1000, DEFAULTS.eventBurst),
    eventIntervalSeconds: reader.integer('eventIntervalSeconds', 1, 3600, DEFAULTS.eventIntervalSeconds),
    apiServerAddresses: apiServerAddresses(undefined, env),
    filterBackend: reader.oneOf('filterBackend', FILTER_BACKENDS, DEFAULTS.filterBackend),
    cniWaitLogSeconds: reader.integer('cniWaitLogSeconds', 1, 3600, DEFAULTS.cniWaitLogSeconds),
    stateDir: reader.optional('stateDir', absolutePath) ?? DEFAULTS.stateDir,
    statusSocket: '',
    ...readPasses(reader),
    xtablesLock: reader.optional('xtablesLock', absolutePath) ?? DEFAULTS.xtablesLock,
    fightRepairs: reader.integer('fightRepairs', 2, 1000, DEFAULTS.fightRepairs),
    fightWindowSeconds: reader.integer('fightWindowSeconds', 1, 3600, DEFAULTS.fightWindowSeconds),
    fightBackoffMinMs: reader.integer('fightBackoffMinMs', 1, 3_600_000, DEFAULTS.fightBackoffMinMs),
    fightBackoffMaxMs: reader.integer('fightBackoffMaxMs', 1, 86_400_000, DEFAULTS.fightBackoffMaxMs),
    healthCheckIntervalSeconds: reader.integer('healthCheckIntervalSeconds', 0, 3600, ROUTE_AGENT_HEALTH_INTERVAL_SECONDS),
    ...readDeadlinesAndApi(reader),
    warnings,
  };
  // Beside the state: the host and the agent's container both see it, and each agent has its own.
  config.statusSocket = reader.optional('statusSocket', socketPath) ?? join(config.stateDir, DEFAULTS.statusSocketName);
  reader.notLess('retryMaxMs', config.retryMaxMs, 'retryMinMs', config.retryMinMs);
  reader.notLess('fightBackoffMaxMs', config.fightBackoffMaxMs, 'fightBackoffMinMs', config.fightBackoffMinMs);
  reader.notLess('apiRetryMaxMs', config.apiRetryMaxMs, 'apiRetryMinMs', config.apiRetryMinMs);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Which cluster and node this is: the settings run and gateway share, checked alike. */
function uninstallConfig(reader: Reader, problems: string[], warnings: string[]): UninstallConfig {
  const hasBroker = reader.sourceOf('brokerKubeconfig') !== undefined || BROKER_ENV_FORM.some((key) => reader.sourceOf(key) !== undefined);
  const hostIp = reader.optional('hostIp', hostAddress) ?? null;
  const nodeIp = reader.optional('nodeIp', nodeIpAddress) ?? null;
  const config: UninstallConfig = {
    command: 'uninstall',
    cleanup: {
      logLevel: reader.oneOf('logLevel', LOG_LEVELS, DEFAULTS.logLevel),
      filterBackend: reader.oneOf('filterBackend', FILTER_BACKENDS, DEFAULTS.filterBackend),
      stateDir: reader.optional('stateDir', absolutePath) ?? DEFAULTS.stateDir,
      xtablesLock: reader.optional('xtablesLock', absolutePath) ?? DEFAULTS.xtablesLock,
    },
    clusterId: reader.required('clusterId', dns1123Label),
    namespace: reader.optional('namespace', dns1123Label) ?? DEFAULTS.namespace,
    nodeName: reader.required('nodeName', dns1123Subdomain),
    kubeconfig: reader.optional('kubeconfig', kubeconfigPath) ?? null,
    broker: hasBroker ? readBroker(reader) : null,
    brokerNamespace: reader.optional('brokerNamespace', dns1123Label) ?? DEFAULTS.brokerNamespace,
    listen: reader.listen(hostIp ?? nodeIp, DEFAULTS.uninstallListenPort),
    agentSockets: [
      reader.optional('statusSocket', socketPath) ?? join(DEFAULTS.stateDir, DEFAULTS.statusSocketName),
      reader.optional('gatewayStatusSocket', socketPath) ?? join(DEFAULTS.gatewayStateDir, DEFAULTS.gatewayStatusSocketName),
    ],
    uninstallTimeoutSeconds: reader.integer('uninstallTimeoutSeconds', 10, 86400, DEFAULTS.uninstallTimeoutSeconds),
    apiTimeoutSeconds: reader.integer('apiTimeoutSeconds', 1, 600, DEFAULTS.apiTimeoutSeconds),
    warnings,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readNode(reader: Reader): Pick<RunConfig, 'clusterId' | 'namespace' | 'nodeName' | 'podCidrs' | 'serviceCidrs'> {
  const clusterId = reader.required('clusterId', dns1123Label);
  const namespace = reader.optional('namespace', dns1123Label) ?? DEFAULTS.namespace;
  const nodeName = reader.required('nodeName', dns1123Subdomain);
  const podCidrs = reader.cidrList('podCidrs');
  const serviceCidrs = reader.cidrList('serviceCidrs');
  reader.requireDisjoint('podCidrs', podCidrs, 'serviceCidrs', serviceCidrs);
  return { clusterId, namespace, nodeName, podCidrs: podCidrs.map((c) => c.text), serviceCidrs: serviceCidrs.map((c) => c.text) };
}

/** The pace of the reconcile passes, shared by run and gateway. */
function readPasses(reader: Reader): Pick<RunConfig, 'resyncSeconds' | 'minPassIntervalMs' | 'retryMinMs' | 'retryMaxMs'> {
  return {
    resyncSeconds: reader.integer('resyncSeconds', 1, 86400, DEFAULTS.resyncSeconds),
    minPassIntervalMs: reader.integer('minPassIntervalMs', 0, 60_000, DEFAULTS.minPassIntervalMs),
    retryMinMs: reader.integer('retryMinMs', 1, 60_000, DEFAULTS.retryMinMs),
    retryMaxMs: reader.integer('retryMaxMs', 1, 3_600_000, DEFAULTS.retryMaxMs),
  };
}

type DeadlineKey = 'execTimeoutSeconds' | 'netlinkTimeoutSeconds' | 'shutdownTimeoutSeconds'
  | 'apiQps' | 'apiBurst' | 'apiTimeoutSeconds' | 'apiWatchTimeoutSeconds' | 'apiRetryMinMs' | 'apiRetryMaxMs';

/** Deadlines and the Kubernetes API client's limits, shared by run and gateway. */
function readDeadlinesAndApi(reader: Reader): Pick<RunConfig, DeadlineKey> {
  return {
    execTimeoutSeconds: reader.integer('execTimeoutSeconds', 1, 600, DEFAULTS.execTimeoutSeconds),
    netlinkTimeoutSeconds: reader.integer('netlinkTimeoutSeconds', 1, 600, DEFAULTS.netlinkTimeoutSeconds),
    shutdownTimeoutSeconds: reader.integer('shutdownTimeoutSeconds', 1, 600, DEFAULTS.shutdownTimeoutSeconds),
    apiQps: reader.integer('apiQps', 1, 1000, DEFAULTS.apiQps),
    apiBurst: reader.integer('apiBurst', 1, 10_000, DEFAULTS.apiBurst),
    apiTimeoutSeconds: reader.integer('apiTimeoutSeconds', 1, 600, DEFAULTS.apiTimeoutSeconds),
    apiWatchTimeoutSeconds: reader.integer('apiWatchTimeoutSeconds', 1, 3600, DEFAULTS.apiWatchTimeoutSeconds),
    apiRetryMinMs: reader.integer('apiRetryMinMs', 1, 60_000, DEFAULTS.apiRetryMinMs),
    apiRetryMaxMs: reader.integer('apiRetryMaxMs', 1, 3_600_000, DEFAULTS.apiRetryMaxMs),
  };
}

function gatewayConfig(reader: Reader, problems: string[], warnings: string[]): GatewayConfig {
  const node = readNode(reader);
  // Read before the listen addresses, whose default is on one of them.
  const nodeIp = reader.optional('nodeIp', nodeIpAddress) ?? null;
  const hostIp = reader.optional('hostIp', hostAddress) ?? null;
  const listen = reader.listen(hostIp ?? nodeIp, DEFAULTS.gatewayListenPort);
  const logLevel = reader.oneOf('logLevel', LOG_LEVELS, DEFAULTS.logLevel);
  const kubeconfig = reader.optional('kubeconfig', kubeconfigPath) ?? null;
  const stateDir = reader.optional('stateDir', absolutePath) ?? DEFAULTS.gatewayStateDir;
  const passes = readPasses(reader);
  const statusSocket = reader.optional('statusSocket', socketPath) ?? join(stateDir, DEFAULTS.gatewayStatusSocketName);
  const deadlines = readDeadlinesAndApi(reader);
  const config: GatewayConfig = {
    command: 'gateway',
    ...node,
    nodeIp,
    listen,
    logLevel,
    kubeconfig,
    stateDir,
    statusSocket,
    pskFile: reader.required('pskFile', absolutePath),
    broker: readBroker(reader),
    brokerNamespace: reader.optional('brokerNamespace', dns1123Label) ?? DEFAULTS.brokerNamespace,
    leaseName: reader.optional('leaseName', leaseName) ?? DEFAULTS.leaseName,
    leaseDurationSeconds: reader.integer('leaseDurationSeconds', 2, 300, DEFAULTS.leaseDurationSeconds),
    leaseRetryMs: reader.integer('leaseRetryMs', 100, 60_000, DEFAULTS.leaseRetryMs),
    gatewayLabel: reader.parsed('gatewayLabel', parseLabel) ?? { ...DEFAULTS.gatewayLabel },
    publicIp: reader.optional('publicIp', publicIpProblem) ?? null,
    natTPort: reader.integer('natTPort', 1, 65535, DEFAULTS.natTPort),
    nattDiscoveryPort: reader.integer('nattDiscoveryPort', 1, 65535, DEFAULTS.nattDiscoveryPort),
    natEnabled: reader.oneOf('natEnabled', ['true', 'false'] as const, DEFAULTS.natEnabled ? 'true' : 'false') === 'true',
    // Submariner names its IPsec driver libreswan: the same wire protocol, so the same cable.
    cable: cableKind(reader.oneOf('cable', [...CABLES, 'libreswan'] as const, 'ipsec')),
    healthCheckIntervalMs: reader.integer('healthCheckIntervalMs', 10, 60_000, DEFAULT_HEALTH_SETTINGS.intervalMs),
    healthCheckMaxLoss: reader.integer('healthCheckMaxLoss', 1, 100, DEFAULT_HEALTH_SETTINGS.maxLoss),
    forceUdpEncapsulation: reader.oneOf('forceUdpEncapsulation', ['true', 'false'] as const, 'false') === 'true',
    pskRotationWindowSeconds: reader.integer('pskRotationWindowSeconds', 1, 86400, DEFAULTS.pskRotationWindowSeconds),
    cableConnectTimeoutSeconds: reader.integer('cableConnectTimeoutSeconds', 1, 3600, DEFAULTS.cableConnectTimeoutSeconds),
    statusRefreshSeconds: reader.integer('statusRefreshSeconds', 1, 14, DEFAULTS.statusRefreshSeconds),
    brokerRefreshSeconds: reader.integer('brokerRefreshSeconds', 1, 3600, DEFAULTS.brokerRefreshSeconds),
    remoteStaleSeconds: reader.integer('remoteStaleSeconds', 2, 86400, DEFAULTS.remoteStaleSeconds),
    ...passes,
    ipsecTickMs: reader.integer('ipsecTickMs', 100, 60_000, DEFAULTS.ipsecTickMs),
    ...deadlines,
    warnings,
  };
  // Relations are judged only between values that were themselves fine (not against a fallback).
  if (reader.fine('leaseRetryMs', 'leaseDurationSeconds') && config.leaseRetryMs * 2 >= config.leaseDurationSeconds * 1000) {
    reader.problem(`${label('leaseRetryMs')}: ${config.leaseRetryMs} is not less than half of ${label('leaseDurationSeconds')} ${config.leaseDurationSeconds} s `
      + '(a holder must get at least two tries to renew before its Lease expires)');
  }
  if (reader.fine('natTPort', 'nattDiscoveryPort') && config.natTPort === config.nattDiscoveryPort) {
    reader.problem(`${label('nattDiscoveryPort')}: ${config.nattDiscoveryPort} is also ${label('natTPort')}; the two ports must differ`);
  }
  if (reader.fine('remoteStaleSeconds', 'brokerRefreshSeconds') && config.remoteStaleSeconds <= config.brokerRefreshSeconds) {
    reader.problem(`${label('remoteStaleSeconds')}: ${config.remoteStaleSeconds} is not more than ${label('brokerRefreshSeconds')} ${config.brokerRefreshSeconds} `
      + '(every remote Endpoint would be stale between two refreshes)');
  }
  reader.notLess('retryMaxMs', config.retryMaxMs, 'retryMinMs', config.retryMinMs);
  reader.notLess('apiRetryMaxMs', config.apiRetryMaxMs, 'apiRetryMinMs', config.apiRetryMinMs);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What diagnose reads beyond the cluster settings, the same for the command and for the route agent's /diagnose. */
type DiagnoseExtras = Pick<DiagnoseConfig, 'gatewayListen' | 'gatewayStatusSocket' | 'brokerNamespace' | 'leaseName' | 'remoteStaleSeconds'>;

function readDiagnoseExtras(reader: Reader, listen: readonly ListenAddress[], statusSocket: string, statusSocketGiven: boolean): DiagnoseExtras {
  const agentHost = listen.find((l) => l.kind === 'tcp');
  const gatewayListen = reader.sourceOf('gatewayListen') === undefined
    ? [{ kind: 'tcp' as const, host: agentHost?.kind === 'tcp' ? agentHost.host : '127.0.0.1', port: DEFAULTS.gatewayListenPort }]
    : reader.listen(null, DEFAULTS.gatewayListenPort, 'gatewayListen');
  return {
    gatewayListen,
    // Beside the route agent's socket when that is placed on purpose (the DaemonSets share /run/seaway), else the gateway's default.
    gatewayStatusSocket: reader.optional('gatewayStatusSocket', socketPath)
      ?? (statusSocketGiven ? join(dirname(statusSocket), DEFAULTS.gatewayStatusSocketName) : join(DEFAULTS.gatewayStateDir, DEFAULTS.gatewayStatusSocketName)),
    brokerNamespace: reader.optional('brokerNamespace', dns1123Label) ?? DEFAULTS.brokerNamespace,
    leaseName: reader.optional('leaseName', leaseName) ?? DEFAULTS.leaseName,
    remoteStaleSeconds: reader.integer('remoteStaleSeconds', 2, 86400, DEFAULTS.remoteStaleSeconds),
  };
}

function diagnoseConfig(reader: Reader, problems: string[], warnings: string[], flags: { all: boolean; json: boolean }): DiagnoseConfig {
  const node = readNode(reader);
  const cniInterface = reader.optional('cniInterface', interfaceName) ?? null;
  const nodeIp = reader.optional('nodeIp', nodeIpAddress) ?? null;
  const hostIp = reader.optional('hostIp', hostAddress) ?? null;
  const listen = reader.listen(hostIp ?? nodeIp, DEFAULTS.listenPort);
  const kubeconfig = reader.optional('kubeconfig', kubeconfigPath) ?? null;
  const stateDir = reader.optional('stateDir', absolutePath) ?? DEFAULTS.stateDir;
  const givenSocket = reader.optional('statusSocket', socketPath);
  const statusSocket = givenSocket ?? join(stateDir, DEFAULTS.statusSocketName);
  // The broker is checked only where its credentials are (the gateway's pod); a route agent's pod has none.
  const brokerGiven = reader.sourceOf('brokerKubeconfig') !== undefined || BROKER_ENV_FORM.some((key) => reader.sourceOf(key) !== undefined);
  const config: DiagnoseConfig = {
    command: 'diagnose', all: flags.all, json: flags.json,
    ...node, cniInterface, nodeIp, listen, kubeconfig,
    broker: brokerGiven ? readBroker(reader) : null,
    ...readDiagnoseExtras(reader, listen, statusSocket, givenSocket !== undefined),
    filterBackend: reader.oneOf('filterBackend', FILTER_BACKENDS, DEFAULTS.filterBackend),
    stateDir, statusSocket,
    xtablesLock: reader.optional('xtablesLock', absolutePath) ?? DEFAULTS.xtablesLock,
    apiTimeoutSeconds: reader.integer('apiTimeoutSeconds', 1, 600, DEFAULTS.apiTimeoutSeconds),
    execTimeoutSeconds: reader.integer('execTimeoutSeconds', 1, 600, DEFAULTS.execTimeoutSeconds),
    warnings,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * The route agent's own /diagnose: the agent's settings, and diagnose's own from the agent's
 * environment (the variables only: the agent's command line has no diagnose flags). A value that
 * does not parse ends the agent with a ConfigError, before it touches anything, like any other.
 */
export function agentDiagnoseConfig(run: RunConfig, env: Readonly<Record<string, string | undefined>>): DiagnoseConfig {
  const problems: string[] = [];
  const lookup = (key: Key): Raw | undefined => {
    for (const name of SETTINGS[key].env) {
      const value = env[name];
      if (value !== undefined && value !== '') return { value, source: name };
    }
    return undefined;
  };
  const reader = new Reader('run', lookup, problems, []);
  const extras = readDiagnoseExtras(reader, run.listen, run.statusSocket, run.statusSocket !== join(run.stateDir, DEFAULTS.statusSocketName));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    command: 'diagnose', all: false, json: true,
    clusterId: run.clusterId, namespace: run.namespace, nodeName: run.nodeName, podCidrs: run.podCidrs, serviceCidrs: run.serviceCidrs,
    cniInterface: run.cniInterface, nodeIp: run.nodeIp, listen: run.listen, kubeconfig: run.kubeconfig, broker: null,
    ...extras,
    filterBackend: run.filterBackend, stateDir: run.stateDir, statusSocket: run.statusSocket, xtablesLock: run.xtablesLock,
    apiTimeoutSeconds: run.apiTimeoutSeconds, execTimeoutSeconds: run.execTimeoutSeconds, warnings: [],
  };
}

const BROKER_ENV_FORM = ['brokerApiServer', 'brokerToken', 'brokerCa'] as const;

/**
 * The broker's credentials, in exactly one form: a kubeconfig, or Submariner's BROKER_K8S_*
 * variables (server, token, CA). The token's value never enters a message: only its variable's name.
 */
function readBroker(reader: Reader): BrokerCredentials {
  const none: BrokerCredentials = { kind: 'kubeconfig', path: '' };
  // Refused whichever form is used: a deployment that asks not to verify the broker gets no gateway.
  reader.optional('brokerInsecure', insecureProblem);
  const envForm = BROKER_ENV_FORM.filter((key) => reader.sourceOf(key) !== undefined);
  const kubeconfigSource = reader.sourceOf('brokerKubeconfig');
  const forms = `${label('brokerKubeconfig')}, or Submariner's broker variables ${BROKER_ENV_FORM.map(label).join(', ')}`;
  if (kubeconfigSource !== undefined && envForm.length > 0) {
    reader.problem(`the broker's credentials are given in two forms, ${kubeconfigSource} and ${envForm.map((key) => reader.sourceOf(key)).join(', ')}: `
      + `give exactly one of ${forms}`);
    return none;
  }
  if (kubeconfigSource !== undefined) return { kind: 'kubeconfig', path: reader.optional('brokerKubeconfig', kubeconfigPath) ?? '' };
  if (envForm.length === 0) {
    reader.problem(`the broker's credentials are required for "seaway gateway": give ${forms}`);
    return none;
  }
  const context = 'with Submariner\'s broker variables (or give --broker-kubeconfig instead of them)';
  const server = reader.parsed('brokerApiServer', brokerServerUrl, context) ?? '';
  const tokenSource = reader.sourceOf('brokerToken');
  const tokenText = reader.required('brokerToken', (value, source) => (SECRET_ENV.has(source) ? bearerTokenProblem(value) : absolutePath(value, source)), context);
  const token = tokenSource !== undefined && SECRET_ENV.has(tokenSource) ? secretValue(tokenText) : { file: tokenText };
  const caPem = reader.parsed('brokerCa', base64Text, context) ?? '';
  return { kind: 'submariner-env', server, token, caPem };
}

/** Go's strconv.ParseBool, as Submariner reads BROKER_K8S_INSECURE; only false is accepted. */
const insecureProblem: Check = (value) => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) {
    return 'asks not to verify the broker\'s certificate: seaway always verifies it (against BROKER_K8S_CA, or the broker kubeconfig\'s CA); unset it or set it to false';
  }
  return ['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value) ? null : 'is not true or false';
};

const leaseName: Check = (value) => (value === SUBMARINER_LEASE_NAME
  ? 'is Submariner\'s gateway Lease, which seaway only reads (to stay passive while Submariner\'s gateway is active); give seaway\'s Lease its own name'
  : dns1123Subdomain(value));

/** The status socket is a unix socket path: absolute, and within sun_path's 107 bytes. */
const socketPath: Check = (value) => {
  const parsed = parseListenAddress(`unix:${value}`);
  return typeof parsed === 'string' ? parsed : null;
};

const nodeIpAddress: Check = (value) => {
  const parsed = parseIpv4(value);
  return parsed.ok ? nodeIpProblem(parsed.address) : parsed.message;
};

/** status.hostIP: the node's primary address, IPv6 on an IPv6-primary cluster (only the listener uses it). */
const hostAddress: Check = (value) => (isIP(value) === 0 ? 'is not an IPv4 or IPv6 address' : null);

const underlayName: Check = (value) => {
  if (value === OWNERSHIP.vxlanDevice) return `is seaway's own VXLAN device, which runs over the underlay`;
  if (value === 'lo') return 'is the loopback device: nothing sent through it leaves the node';
  return interfaceName(value);
};

const absolutePath: Check = (value) => (value.startsWith('/') && !value.includes('\0') ? null : 'must be an absolute path');

/** A validator returns an error text, or null when the value is fine; `source` is the flag or variable it came from. */
type Check = (value: string, source: string) => string | null;

interface ParsedCidr { text: string; cidr: Cidr }

class Reader {
  /** The command the settings are read for, named by "is required" problems. */
  private readonly command: string;
  private readonly lookup: (key: Key) => Raw | undefined;
  private readonly problems: string[];
  private readonly warnings: string[];
  /** Settings whose given value was refused (they hold their fallback). */
  private readonly refused = new Set<Key>();

  constructor(command: string, lookup: (key: Key) => Raw | undefined, problems: string[], warnings: string[]) {
    this.command = command;
    this.lookup = lookup;
    this.problems = problems;
    this.warnings = warnings;
  }

  private fail(key: Key, raw: Raw | undefined, what: string): void {
    this.refused.add(key);
    const given = raw === undefined ? '' : SECRET_ENV.has(raw.source) ? `the value from ${raw.source} (not shown) ` : `value "${clip(raw.value)}" from ${raw.source} `;
    this.problems.push(`${label(key)}: ${given}${what}`);
  }

  /** A problem that is about no single value (relations, combinations). */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** The flag or variable a setting's value comes from; undefined when it is not given. */
  sourceOf(key: Key): string | undefined {
    return this.lookup(key)?.source;
  }

  /** None of these settings had a value refused. */
  fine(...keys: Key[]): boolean {
    return keys.every((key) => !this.refused.has(key));
  }

  optional(key: Key, check: Check): string | undefined {
    const raw = this.lookup(key);
    if (raw === undefined) return undefined;
    const value = raw.value.trim();
    const error = value === '' ? 'is empty' : check(value, raw.source);
    if (error !== null) { this.fail(key, raw, error); return undefined; }
    return value;
  }

  /** `context` says when the setting is required, if not always for the command. */
  required(key: Key, check: Check, context?: string): string {
    if (this.lookup(key) === undefined) { this.missing(key, context); return ''; }
    return this.optional(key, check) ?? '';
  }

  /** Like optional, when the value means something else than its text; required when `context` is given. */
  parsed<T>(key: Key, parse: (value: string) => Parsed<T>, context?: string): T | undefined {
    if (context !== undefined && this.lookup(key) === undefined) { this.missing(key, context); return undefined; }
    let result: T | undefined;
    this.optional(key, (value) => {
      const parsed = parse(value);
      if (!parsed.ok) return parsed.message;
      result = parsed.value;
      return null;
    });
    return result;
  }

  private missing(key: Key, context: string | undefined): void {
    this.fail(key, undefined, `is required for "seaway ${this.command}"${context === undefined ? '' : ` ${context}`}`);
  }

  /** A maximum below its minimum. */
  notLess(maxKey: Key, max: number, minKey: Key, min: number): void {
    if (max < min) this.problems.push(`${label(maxKey)}: ${max} is less than ${label(minKey)} ${min}`);
  }

  oneOf<T extends string>(key: Key, allowed: readonly T[], fallback: T): T {
    const value = this.optional(key, (v) => (allowed.includes(v as T) ? null : `is not one of ${allowed.join(', ')}`));
    return value === undefined ? fallback : (value as T);
  }

  integer(key: Key, min: number, max: number, fallback: number): number {
    const value = this.optional(key, (v) => {
      if (!/^[0-9]+$/.test(v)) return 'is not a whole number';
      const n = Number(v);
      return n < min || n > max ? `is out of range ${min}-${max}` : null;
    });
    return value === undefined ? fallback : Number(value);
  }

  cidrList(key: Key): ParsedCidr[] {
    const raw = this.lookup(key);
    if (raw === undefined) { this.missing(key, undefined); return []; }
    const items = raw.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) { this.fail(key, raw, 'lists no CIDR'); return []; }
    const parsed: ParsedCidr[] = [];
    for (const item of items) {
      const result = parseCidr(item);
      if (!result.ok) {
        this.fail(key, raw, result.family === 'ipv6' ? `contains IPv6 CIDR "${clip(item)}": only IPv4 is supported` : `contains an invalid CIDR: ${result.message}`);
        continue;
      }
      if (result.cidr.prefixLength === 0) { this.fail(key, raw, `contains "${item}", which covers every address`); continue; }
      if (result.hostBitsSet) this.warnings.push(`${label(key)}: "${item}" from ${raw.source} has host bits set; using ${result.text}`);
      const clash = parsed.find((p) => overlaps(p.cidr, result.cidr));
      if (clash) {
        this.fail(key, raw, clash.text === result.text ? `lists ${result.text} twice` : `contains overlapping CIDRs ${clash.text} and ${result.text}`);
        continue;
      }
      parsed.push({ text: result.text, cidr: result.cidr });
    }
    return parsed;
  }

  requireDisjoint(keyA: Key, a: ParsedCidr[], keyB: Key, b: ParsedCidr[]): void {
    for (const x of a) {
      for (const y of b) {
        if (overlaps(x.cidr, y.cidr)) this.problems.push(`${label(keyA)} and ${label(keyB)} overlap: ${x.text} and ${y.text}`);
      }
    }
  }

  listen(host: string | null, defaultPort: number, key: 'listen' | 'gatewayListen' = 'listen'): ListenAddress[] {
    let raw = this.lookup(key);
    if (raw === undefined) {
      const fallback = defaultListen(host, defaultPort);
      if (fallback.warning) this.warnings.push(fallback.warning);
      raw = { value: fallback.listen, source: 'the default' };
    }
    const items = raw.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) { this.fail(key, raw, 'lists no address'); return []; }
    const result: ListenAddress[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      const parsed = parseListenAddress(item);
      if (typeof parsed === 'string') { this.fail(key, raw, `contains "${clip(item)}": ${parsed}`); continue; }
      const id = parsed.kind === 'unix' ? `unix:${parsed.path}` : `${parsed.host}:${parsed.port}`;
      if (seen.has(id)) { this.fail(key, raw, `lists ${item} twice`); continue; }
      seen.add(id);
      result.push(parsed);
    }
    return result;
  }
}

/**
 * Where /metrics, /healthz and /readyz are served when --listen is not given: on the node's own
 * address (`host`: --host-ip, else --node-ip), which Prometheus and the kubelet's probes of a
 * hostNetwork pod reach, and not on every interface (a gateway's public one included: /metrics
 * has no authentication). Without either (the DaemonSet gives SEAWAY_HOST_IP from status.hostIP)
 * the Node's InternalIP is known only after the API answers, and /healthz must be served at once:
 * loopback then, and a warning saying what is unreachable. `port`: the route agent's 9082, or the
 * gateway's 9083 (both agents are hostNetwork pods of the same node).
 */
export function defaultListen(host: string | null, port: number = DEFAULTS.listenPort): { listen: string; warning?: string } {
  if (host !== null) return { listen: `${isIPv6(host) ? `[${host}]` : host}:${port}` };
  const listen = `127.0.0.1:${port}`;
  return {
    listen,
    warning: `${label('listen')} is not set and neither is ${label('hostIp')} or ${label('nodeIp')}: /metrics, /healthz and /readyz are served on ${listen} only, `
      + 'which neither Prometheus nor the kubelet\'s probes reach; give SEAWAY_HOST_IP from the downward API (status.hostIP), or --listen',
  };
}

function label(key: Key): string {
  const setting = SETTINGS[key];
  return setting.flag === null ? `env ${setting.env.join(' or ')}` : `${setting.flag} (env ${setting.env.join(' or ')})`;
}

/** host:port, [ipv6]:port, :port (all IPv4 interfaces) or unix:/absolute/path. Port 0 asks for an ephemeral port. */
export function parseListenAddress(text: string): ListenAddress | string {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (!path.startsWith('/')) return 'a unix socket path must be absolute';
    // sun_path holds 108 bytes including the terminating NUL.
    if (Buffer.byteLength(path) > 107) return 'the unix socket path is longer than 107 bytes';
    if (path.includes('\0')) return 'the unix socket path contains a NUL byte';
    return { kind: 'unix', path };
  }
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return 'expected [ipv6]:port';
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) return `"${clip(host)}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return 'expected host:port, [ipv6]:port or unix:/path';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === '') host = '0.0.0.0';
    else if (host.includes(':')) return 'an IPv6 host must be written in brackets, e.g. [::]:8080';
    else if (/^[0-9.]+$/.test(host)) {
      const address = parseIpv4(host);
      if (!address.ok) return address.message;
    } else if (dns1123Subdomain(host) !== null) return `"${clip(host)}" is not an IPv4 address or host name`;
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return `port "${clip(portText)}" is not a number from 0 to 65535`;
  return { kind: 'tcp', host, port: Number(portText) };
}

function kubeconfigPath(value: string): string | null {
  if (value.includes('\0')) return 'contains a NUL byte';
  if (value.includes(':')) return 'looks like a list of files; give exactly one kubeconfig path';
  return null;
}
