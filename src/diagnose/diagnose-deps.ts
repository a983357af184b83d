/**
 * What a node's diagnosis reads and sends, behind small interfaces: the real ones (real-deps.ts)
 * talk to the API, the kernel and the network; unit tests give fakes, so a failing API, a missing
 * tool or a silent port can be driven without a cluster.
 */
import type { NodeSummary } from '../k8s/diagnose-reads.ts';
import type { DfPingResult } from '../kernel/df-ping.ts';
import type { EchoProbeResult } from '../kernel/echo-probe.ts';
import type { HttpGetOptions, HttpGetResult } from '../kernel/http-get.ts';
import type { RouteLookup } from '../kernel/route-lookup.ts';
import type { UdpExchangeOptions, UdpExchangeResult } from '../kernel/udp-exchange.ts';
import type { XfrmPolicySummary } from '../kernel/xfrm-policies.ts';
import type { ApiRead } from '../plan/diagnose-endpoints.ts';
import type { IptablesFlavour } from '../plan/diagnose-leftovers.ts';

export interface DiagnoseApi {
  endpoints(namespace: string): Promise<ApiRead<unknown[]>>;
  /** One Node by name; null when it does not exist. */
  node(name: string): Promise<ApiRead<NodeSummary | null>>;
  leaseHolder(namespace: string, name: string): Promise<ApiRead<string>>;
  /** null: no broker credentials on this node. */
  brokerEndpoints: ((namespace: string) => Promise<ApiRead<unknown[]>>) | null;
}

export interface KernelLink { index: number; name: string; kind?: string; mtu: number; up: boolean; vxlan?: { local?: string; remote?: string; port: number } }
export interface KernelAddress { ifindex: number; address: string; prefixLength: number; label?: string }
export interface KernelRoute { table: number; dst: string; protocol: number; gateway?: string; oif?: number; blackhole?: boolean }
export interface KernelRule { priority: number; table: number; protocol: number }

/** Read-only views of this node's kernel state. */
export interface DiagnoseKernel {
  links(): Promise<KernelLink[]>;
  addresses(): Promise<KernelAddress[]>;
  routes(): Promise<KernelRoute[]>;
  rules(): Promise<KernelRule[]>;
  /** iptables-<flavour>-save, or null when the flavour is not usable here. */
  iptablesSave(flavour: IptablesFlavour): Promise<string | null>;
  nftTables(): Promise<string[]>;
  /** Which of these ipsets exist; null when that cannot be read. */
  ipsets(names: readonly string[]): Promise<string[] | null>;
  xfrmPolicies(): Promise<XfrmPolicySummary>;
  /** The backend seaway picks with this setting (its own detection; reads only). */
  seawayBackend(configured: 'auto' | 'iptables' | 'nftables'): Promise<{ backend: 'iptables' | 'nftables'; iptablesMode: IptablesFlavour }>;
}

/** The packets diagnose sends. */
export interface DiagnoseNetwork {
  udp(options: Omit<UdpExchangeOptions, 'createSocket' | 'now'>): Promise<UdpExchangeResult>;
  /** Rejects when ICMP cannot be sent at all from here (the addon is not built, no CAP_NET_RAW). */
  echo(options: { source?: string; target: string; sends: number; timeoutMs: number }): Promise<EchoProbeResult>;
  dfPing(options: { source: string; target: string; size: number; timeoutMs: number }): Promise<DfPingResult>;
  routeLookup(target: string, source: string): Promise<RouteLookup | null>;
  http(options: HttpGetOptions): Promise<HttpGetResult>;
  /** The address the kernel's route to target leaves from ('' without a route). */
  sourceIpFor(target: string, port: number): Promise<string>;
}

export interface DiagnoseDeps {
  /** The API, or why it cannot be asked at all (credentials that do not load). */
  api: DiagnoseApi | { problem: string };
  kernel: DiagnoseKernel;
  network: DiagnoseNetwork;
  /** Wall clock, unix ms (Endpoint ages). */
  now(): number;
  /** 8 random bytes per call (IKE SPIs, NAT discovery request numbers). */
  random(bytes: number): Buffer;
}
