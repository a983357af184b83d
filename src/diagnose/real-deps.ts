/**
 * The real seams of a node's diagnosis: the API through client-node with the node's credentials
 * (and the broker's, when given), the kernel through rtnetlink and the packet filter tools (read
 * only, each with the exec deadline), the network through sockets, the ICMP addon and ping. Built
 * per diagnosis and closed after it: the command runs once, and the route agent's /diagnose seldom.
 */
import { randomBytes } from 'node:crypto';
import { kubeConfigConnection, type ApiConnection } from '../k8s/api-connection.ts';
import type { DiagnoseConfig } from '../config.ts';
import { createFilterDriver } from '../dataplane/filter.ts';
import { loadBrokerKubeConfig } from '../k8s/broker-kubeconfig.ts';
import { leaseHolder, listEndpoints, readNode, type DiagnoseReadSettings } from '../k8s/diagnose-reads.ts';
import { dfPing } from '../kernel/df-ping.ts';
import { echoProbe } from '../kernel/echo-probe.ts';
import { run as runProcess } from '../kernel/exec.ts';
import { httpGet } from '../kernel/http-get.ts';
import { loadIcmpAddon, openIcmpSocket, type IcmpAddon } from '../kernel/icmp-socket.ts';
import { ipsetList } from '../kernel/ipset.ts';
import { iptablesSaveIfUsable, withXtablesLock, type ProcessRunner } from '../kernel/iptables.ts';
import { nftListTables } from '../kernel/nft.ts';
import { routeLookup } from '../kernel/route-lookup.ts';
import { openRtnetlink, type Rtnetlink } from '../kernel/rtnetlink.ts';
import { routeSourceIp } from '../kernel/udp.ts';
import { udpExchange } from '../kernel/udp-exchange.ts';
import { xfrmPolicies } from '../kernel/xfrm-policies.ts';
import { errorText } from '../model/error-text.ts';
import type { ApiRead } from '../plan/diagnose-endpoints.ts';
import type { DiagnoseApi, DiagnoseDeps } from './diagnose-deps.ts';

const API_DEADLINE_SECONDS = 10;

export interface RealDepsOptions {
  /** The node's connection to its API server, made by the caller; a string when it could not be (a finding, not a crash). */
  connection: ApiConnection | string;
  userAgent: string;
  /** The ICMP addon, or why it is not there (the echo probes then say so). */
  icmp?: IcmpAddon | string;
  /** Aborts the API reads and tool runs (the agent stopping). */
  signal?: AbortSignal;
}

export async function realDiagnoseDeps(config: DiagnoseConfig, options: RealDepsOptions): Promise<{ deps: DiagnoseDeps; close(): void }> {
  // An API that has not answered in 10 s is a finding already: diagnose does not wait the agents' longer deadline.
  const settings: DiagnoseReadSettings = {
    requestTimeoutMs: Math.min(config.apiTimeoutSeconds, API_DEADLINE_SECONDS) * 1000, userAgent: options.userAgent, ...(options.signal ? { signal: options.signal } : {}),
  };
  const timeoutMs = config.execTimeoutSeconds * 1000;
  const run: ProcessRunner = withXtablesLock((file, args, opts) => runProcess(file, args, { timeoutMs, ...(options.signal ? { signal: options.signal } : {}), ...opts }), config.xtablesLock);

  let api: DiagnoseApi | { problem: string };
  if (typeof options.connection === 'string') api = { problem: options.connection };
  else {
    const kc = options.connection;
    let brokerEndpoints: DiagnoseApi['brokerEndpoints'] = null;
    if (config.broker !== null) {
      const broker = await loadBrokerKubeConfig(config.broker);
      brokerEndpoints = broker.ok
        ? (namespace) => listEndpoints(kubeConfigConnection(broker.kubeConfig), namespace, settings)
        : async (): Promise<ApiRead<unknown[]>> => ({ ok: false, problem: broker.problem, forbidden: false });
    }
    api = {
      endpoints: (namespace) => listEndpoints(kc, namespace, settings),
      node: (name) => readNode(kc, name, settings),
      leaseHolder: (namespace, name) => leaseHolder(kc, namespace, name, settings),
      brokerEndpoints,
    };
  }

  let rtnl: Rtnetlink | undefined;
  const netlink = () => (rtnl ??= openRtnetlink({ timeoutMs }));
  let icmp: IcmpAddon | string | undefined = options.icmp;
  const addon = (): IcmpAddon => {
    if (icmp === undefined) {
      try { icmp = loadIcmpAddon(); } catch (error) { icmp = errorText(error); }
    }
    if (typeof icmp === 'string') throw new Error(icmp);
    return icmp;
  };

  const deps: DiagnoseDeps = {
    api,
    kernel: {
      links: async () => (await netlink().listLinks()).map((l) => ({
        index: l.index, name: l.name, mtu: l.mtu, up: l.up, ...(l.kind ? { kind: l.kind } : {}),
        ...(l.vxlan ? { vxlan: { port: l.vxlan.port, ...(l.vxlan.local ? { local: l.vxlan.local } : {}), ...(l.vxlan.remote ? { remote: l.vxlan.remote } : {}) } } : {}),
      })),
      addresses: async () => (await netlink().listAddresses()).map((a) => ({ ifindex: a.ifindex, address: a.address, prefixLength: a.prefixLength, ...(a.label ? { label: a.label } : {}) })),
      routes: () => netlink().listRoutes(),
      rules: () => netlink().listRules(),
      iptablesSave: (flavour) => iptablesSaveIfUsable(run, flavour),
      nftTables: () => nftListTables(run),
      ipsets: async (names) => {
        const found = await ipsetList(names);
        return found === null ? null : [...found.keys()];
      },
      xfrmPolicies: () => xfrmPolicies(run, timeoutMs),
      // The driver's own detection reads both iptables flavours and the nft tables; building it writes nothing.
      seawayBackend: async (configured) => {
        const driver = await createFilterDriver(configured, { run });
        return { backend: driver.backend, iptablesMode: driver.iptablesMode };
      },
    },
    network: {
      udp: (o) => udpExchange(o),
      echo: (o) => {
        const loaded = addon();
        return echoProbe({ ...o, open: (socketOptions) => openIcmpSocket(loaded, socketOptions) });
      },
      dfPing: (o) => dfPing(run, o),
      routeLookup: (target, source) => routeLookup(run, target, source, timeoutMs),
      http: (o) => httpGet(o),
      sourceIpFor: routeSourceIp,
    },
    now: () => Date.now(),
    random: (bytes) => randomBytes(bytes),
  };
  return { deps, close: () => rtnl?.close() };
}
