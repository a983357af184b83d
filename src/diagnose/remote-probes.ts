/**
 * The active gateway's probes of one remote cluster's gateway, joined from the network seams and
 * the plan: NAT discovery on its discovery port at each of its addresses, UDP 4500 (IKE for IPsec,
 * else the echo through the tunnel), the tunnel, and its path MTU. Each probe is bounded by its own
 * deadline; what the outcomes mean is plan/diagnose-network.ts's.
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { errorText } from '../model/error-text.ts';
import { PRIVATE_USE_TRANSFORM_ID, UNACCEPTABLE_TRANSFORMS, describeIkeAnswer, encodeIkeSaInit, readIkeAnswer, withNonEspMarker } from '../model/ike-message.ts';
import { decodeNatDiscoveryMessage, encodeNatDiscoveryMessage } from '../model/nat-discovery-message.ts';
import type { UdpExchangeResult } from '../kernel/udp-exchange.ts';
import type { EndpointFacts } from '../plan/diagnose-endpoints.ts';
import { DEFAULT_MTU_SEARCH, nextMtuProbe, recordMtuProbe, startMtuSearch } from '../plan/diagnose-mtu-search.ts';
import {
  cableProbeKind, describeNatAnswer, missingHealthCheckFinding, mtuFinding, portFindings, remoteAddresses, tunnelFinding, type EchoOutcome, type MssAssumption, type UdpOutcome,
} from '../plan/diagnose-network.ts';
import { natDiscoveryRequest } from '../plan/nat-discovery-requester.ts';
import type { DiagnoseDeps, KernelLink } from './diagnose-deps.ts';

export const PROBE_LIMITS = {
  udpTimeoutMs: 3000,
  udpSends: 3,
  echoTimeoutMs: 3000,
  echoSends: 3,
  pingTimeoutMs: 1000,
} as const;

export interface RemoteProbeContext {
  node: string;
  /** This cluster's active gateway Endpoint (this node's): the NAT discovery sender. */
  local: EndpointFacts;
  /** This gateway's CNI address: where echoes through the tunnel leave from. */
  cniAddress: string | null;
  links: readonly KernelLink[];
  /** The Node annotation's fixed MSS, if any. */
  fixedMss: number | null;
}

function udpOutcome(result: UdpExchangeResult, describe: (message: Buffer) => { what: string; concern?: string }, garbage: (message: Buffer) => string): UdpOutcome {
  if (result.answered) return { kind: 'answer', rttMs: result.rttMs, ...describe(result.message) };
  if (result.sends === 0 && result.error) return { kind: 'error', message: result.error };
  if (result.rejected > 0 && result.lastRejected) return { kind: 'garbage', reason: garbage(result.lastRejected) };
  if (result.error) return { kind: 'error', message: result.error };
  return { kind: 'silent', sends: result.sends, waitedMs: result.waitedMs };
}

async function natDiscovery(deps: DiagnoseDeps, ctx: RemoteProbeContext, remote: EndpointFacts): Promise<Finding[]> {
  if (remote.discoveryPort === 0) {
    return [{
      id: 'udp-4490', node: ctx.node, target: `cluster ${remote.clusterId} gateway ${remote.hostname || '?'}`, probe: 'none: its Endpoint announces no natt-discovery-port',
      severity: 'ok', found: 'the remote gateway does not answer NAT discovery (its Endpoint announces no port); the cable uses its addresses as given', fix: null,
    }];
  }
  const results = [];
  for (const address of remoteAddresses(remote)) {
    const requestNumber = deps.random(8).readBigUInt64BE();
    const sourceIp = await deps.network.sourceIpFor(address.ip, remote.discoveryPort);
    const result = await deps.network.udp({
      target: address.ip, port: remote.discoveryPort, sends: PROBE_LIMITS.udpSends, timeoutMs: PROBE_LIMITS.udpTimeoutMs,
      payload: ({ port }) => encodeNatDiscoveryMessage(natDiscoveryRequest(
        { clusterId: ctx.local.clusterId, endpointId: ctx.local.cableName, privateIp: ctx.local.privateIp }, port,
        { cableName: remote.cableName, clusterId: remote.clusterId, privateIp: remote.privateIp, publicIp: remote.publicIp, natEnabled: remote.natEnabled, discoveryPort: remote.discoveryPort, usingLoadBalancer: false },
        { target: address.which, ip: address.ip, port: remote.discoveryPort, requestNumber }, sourceIp,
      )),
      accept: (message) => {
        const decoded = decodeNatDiscoveryMessage(message);
        return decoded.ok && decoded.message.response?.requestNumber === requestNumber;
      },
    });
    const outcome = udpOutcome(result, (message) => describeNatAnswer(decodeNatDiscoveryMessage(message), remote), (message) => {
      const decoded = decodeNatDiscoveryMessage(message);
      return decoded.ok ? 'a NAT discovery message that answers another request' : `not a NAT discovery message (${decoded.reason})`;
    });
    results.push({ ...address, port: remote.discoveryPort, outcome });
  }
  return portFindings(ctx.node, 'udp-4490', 'NAT discovery', `a real NAT discovery request (protobuf, as Submariner sends it) to UDP ${remote.discoveryPort}, ${PROBE_LIMITS.udpSends} sends within ${PROBE_LIMITS.udpTimeoutMs} ms`, remote, results,
    `allow UDP ${remote.discoveryPort} from this gateway to ${remote.clusterId}'s gateway (and the answers back): firewalls, security groups, and the NAT's forward of ${remote.discoveryPort} when it is behind one`);
}

async function ike(deps: DiagnoseDeps, ctx: RemoteProbeContext, remote: EndpointFacts): Promise<Finding[]> {
  const results = [];
  for (const address of remoteAddresses(remote)) {
    let spi = deps.random(8);
    if (spi.every((b) => b === 0)) spi = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
    const message = withNonEspMarker(encodeIkeSaInit({
      initiatorSpi: spi, transforms: UNACCEPTABLE_TRANSFORMS, dhGroup: PRIVATE_USE_TRANSFORM_ID, keyExchange: deps.random(32), nonce: deps.random(32),
    }));
    const result = await deps.network.udp({
      target: address.ip, port: remote.udpPort, sends: PROBE_LIMITS.udpSends, timeoutMs: PROBE_LIMITS.udpTimeoutMs,
      payload: () => message, accept: (datagram) => readIkeAnswer(datagram, spi).kind === 'answer',
    });
    const outcome = udpOutcome(result, (datagram) => ({ what: describeIkeAnswer(readIkeAnswer(datagram, spi)) }), (datagram) => {
      const answer = readIkeAnswer(datagram, spi);
      return answer.kind === 'not-ours' ? answer.reason : 'an IKE answer';
    });
    results.push({ ...address, port: remote.udpPort, outcome });
  }
  return portFindings(ctx.node, 'udp-4500', 'IKE',
    `an IKEv2 IKE_SA_INIT (non-ESP marker, RFC 3948) to UDP ${remote.udpPort} offering only private-use transforms, which any IKE daemon refuses without keeping state; ${PROBE_LIMITS.udpSends} sends within ${PROBE_LIMITS.udpTimeoutMs} ms`,
    remote, results,
    `allow UDP ${remote.udpPort} both ways between this gateway and ${remote.clusterId}'s gateway (firewalls, security groups, the NAT's forward of ${remote.udpPort}); check that its IKE daemon runs`);
}

async function echoThroughTunnel(deps: DiagnoseDeps, source: string, remote: EndpointFacts): Promise<EchoOutcome> {
  try {
    return await deps.network.echo({ source, target: remote.healthCheckIp, sends: PROBE_LIMITS.echoSends, timeoutMs: PROBE_LIMITS.echoTimeoutMs });
  } catch (error) {
    return { replied: false, sends: 0, waitedMs: 0, error: errorText(error) };
  }
}

async function pathMtu(deps: DiagnoseDeps, ctx: RemoteProbeContext, source: string, remote: EndpointFacts): Promise<Finding> {
  const route = await deps.network.routeLookup(remote.healthCheckIp, source);
  const device = route ? ctx.links.find((l) => l.name === route.dev) : undefined;
  if (!route || !device) {
    return mtuFinding(ctx.node, remote, source, { bytes: 0, why: '' }, { problem: route ? `the route to ${remote.healthCheckIp} leaves by ${route.dev}, which the link dump does not show` : `no route from ${source} to ${remote.healthCheckIp}` });
  }
  const assumed: MssAssumption = ctx.fixedMss !== null
    ? { bytes: ctx.fixedMss + 40, why: `the Node annotation submariner.io/tcp-clamp-mss=${ctx.fixedMss}` }
    : { bytes: device.mtu, why: `MSS clamped to the path MTU: ${device.name}'s MTU ${device.mtu}` };
  let state = startMtuSearch({ ...DEFAULT_MTU_SEARCH, min: Math.min(DEFAULT_MTU_SEARCH.min, assumed.bytes), max: assumed.bytes });
  for (;;) {
    const next = nextMtuProbe(state);
    if (next.kind === 'done') return mtuFinding(ctx.node, remote, source, assumed, next.result);
    let answer;
    try {
      answer = await deps.network.dfPing({ source, target: remote.healthCheckIp, size: next.size, timeoutMs: PROBE_LIMITS.pingTimeoutMs });
    } catch (error) {
      return mtuFinding(ctx.node, remote, source, assumed, { problem: `DF pings cannot be sent from here: ${errorText(error)} (iputils-ping is needed)` });
    }
    state = recordMtuProbe(state, next.size, answer.replied, answer.mtuHint);
  }
}

/** Every probe of one remote gateway from this (the active) gateway node; one that fails to run is a warning, and the others still run. */
export async function probeRemote(deps: DiagnoseDeps, ctx: RemoteProbeContext, remote: EndpointFacts): Promise<Finding[]> {
  const guarded = async (id: string, probe: () => Promise<Finding[]>): Promise<Finding[]> => {
    try {
      return await probe();
    } catch (error) {
      return [{ id, node: ctx.node, severity: 'warning', target: `cluster ${remote.clusterId} gateway ${remote.hostname || '?'}`, probe: 'as its check says', found: `the probe failed to run: ${errorText(error)}`, fix: null }];
    }
  };
  const findings: Finding[] = [];
  findings.push(...await guarded('udp-4490', () => natDiscovery(deps, ctx, remote)));
  const kind = cableProbeKind(ctx.local.backend);
  if (kind === 'ike') findings.push(...await guarded('udp-4500', () => ike(deps, ctx, remote)));
  const tunnelId = kind === 'ike' ? 'tunnel' : 'udp-4500';
  if (remote.healthCheckIp === '') {
    findings.push(missingHealthCheckFinding(ctx.node, remote, tunnelId), missingHealthCheckFinding(ctx.node, remote, 'mtu'));
    return findings;
  }
  if (ctx.cniAddress === null) {
    const base = { node: ctx.node, target: `cluster ${remote.clusterId} healthCheckIP ${remote.healthCheckIp} via the cable`, probe: 'none', fix: 'see the cni-interface finding' };
    findings.push({ ...base, id: tunnelId, severity: 'error', found: 'not probed: this gateway has no CNI address to send from (the tunnel carries only the clusters\' own addresses)' });
    findings.push({ ...base, id: 'mtu', severity: 'warning', found: 'not measured: no CNI address to send from' });
    return findings;
  }
  const source = ctx.cniAddress;
  const echo = await echoThroughTunnel(deps, source, remote);
  findings.push(tunnelFinding(ctx.node, remote, source, echo, kind === 'tunnel-echo'));
  if (echo.replied) findings.push(...await guarded('mtu', async () => [await pathMtu(deps, ctx, source, remote)]));
  else findings.push(mtuFinding(ctx.node, remote, source, { bytes: 0, why: '' }, { problem: 'the tunnel does not answer an echo (see above)' }));
  return findings;
}
