/**
 * `seaway diagnose`, the network paths (pure): which probes a node sends and what their outcomes
 * mean. From the active gateway node, to each remote cluster's gateway: NAT discovery (UDP 4490)
 * at the Endpoint's private and public IP, the cable's UDP 4500 (an IKE_SA_INIT for IPsec; for
 * WireGuard and the VXLAN cable, which answer nothing unauthenticated, an ICMP echo through the
 * tunnel, which crosses 4500), the tunnel itself (an echo to the remote healthCheckIP) and its path
 * MTU. From any other node: its VXLAN to the gateway (UDP 4800: an echo to the gateway's VTEP
 * across vx-submariner, whose reply proves the way back too).
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { parseIpv4, vtepIp, formatIpv4 } from '../model/cidr.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { ResponseType, responseTypeName, type NatDiscoveryDecodeResult } from '../model/nat-discovery-message.ts';
import type { EndpointFacts } from './diagnose-endpoints.ts';
import type { MtuSearchResult } from './diagnose-mtu-search.ts';

/** How a UDP probe went: an answer (described), silence until the deadline, or a local error (no route...). */
export type UdpOutcome =
  | { kind: 'answer'; rttMs: number; what: string; /** The answer proves the port but says something is off (e.g. an unknown endpoint). */ concern?: string }
  | { kind: 'silent'; sends: number; waitedMs: number }
  | { kind: 'garbage'; reason: string }
  | { kind: 'error'; message: string };

export type EchoOutcome = { replied: true; rttMs: number } | { replied: false; sends: number; waitedMs: number; error?: string };

export interface RemoteTarget {
  endpoint: EndpointFacts;
  /** Which addresses of the remote gateway are probed: its private and its public IP (each once, when given). */
  addresses: Array<{ which: 'private' | 'public'; ip: string }>;
}

/** The addresses a remote gateway is probed at (private first, then public, each valid one once). */
export function remoteAddresses(e: EndpointFacts): RemoteTarget['addresses'] {
  const out: RemoteTarget['addresses'] = [];
  if (parseIpv4(e.privateIp).ok) out.push({ which: 'private', ip: e.privateIp });
  if (parseIpv4(e.publicIp).ok && e.publicIp !== e.privateIp) out.push({ which: 'public', ip: e.publicIp });
  return out;
}

export type CableProbeKind = 'ike' | 'tunnel-echo';

/** How UDP 4500 is proven for a cable: IKE answers an unauthenticated IKE_SA_INIT; WireGuard and VXLAN answer nothing that is not theirs. */
export function cableProbeKind(localBackend: string): CableProbeKind {
  return localBackend === 'libreswan' || localBackend === 'strongswan' || localBackend === 'ipsec' ? 'ike' : 'tunnel-echo';
}

export type GatewayRole =
  | { role: 'gateway' }
  | { role: 'worker'; gatewayNode: string; gatewayIp: string }
  | { role: 'unknown'; why: string };

/** Whether this node is the active gateway (the local Endpoint names it), another node, or the API could not tell. */
export function gatewayRole(node: string, local: EndpointFacts | null, apiProblem: string | null): GatewayRole {
  if (local === null) return { role: 'unknown', why: apiProblem ?? 'the local cluster has no current Endpoint' };
  if (local.hostname === node) return { role: 'gateway' };
  return { role: 'worker', gatewayNode: local.hostname, gatewayIp: local.privateIp };
}

const rtt = (ms: number) => `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;

/** The findings of one port (4490 or 4500) at every address of one remote gateway. */
export function portFindings(
  node: string, id: string, what: string, probe: string, remote: EndpointFacts, results: ReadonlyArray<{ which: 'private' | 'public'; ip: string; port: number; outcome: UdpOutcome }>,
  fix: string,
): Finding[] {
  const answered = results.filter((r) => r.outcome.kind === 'answer');
  return results.map((r) => {
    const target = `cluster ${remote.clusterId} gateway ${remote.hostname || '?'} ${r.which} ${r.ip}:${r.port}/udp`;
    const base = { id, node, target, probe };
    const o = r.outcome;
    if (o.kind === 'answer') {
      if (o.concern) return { ...base, severity: 'warning', found: `${what} answered in ${rtt(o.rttMs)}: ${o.what}; but ${o.concern}`, fix: null };
      return { ...base, severity: 'ok', found: `${what} answered in ${rtt(o.rttMs)}: ${o.what}`, fix: null };
    }
    const failure = o.kind === 'silent'
      ? `no answer to ${o.sends} send(s) within ${o.waitedMs} ms: the port is blocked on the way (a firewall, a security group, a NAT without the forward), or nothing listens there`
      : o.kind === 'garbage' ? `something answered that is not ${what}: ${o.reason}` : `the probe could not be sent: ${o.message}`;
    if (answered.length > 0) {
      const other = answered.map((a) => a.ip).join(', ');
      // Behind NAT a gateway's private IP is not reachable from other clusters; that is what its public IP is for.
      const expected = r.which === 'private' && remote.natEnabled;
      return {
        ...base, severity: expected ? 'ok' : 'warning',
        found: `${failure}; ${other} answered${expected ? ' (the remote is behind NAT: its private IP is not expected to be reachable from here)' : ''}`,
        fix: expected ? null : `only needed if the cable uses ${r.ip}: ${fix}`,
      };
    }
    return { ...base, severity: 'error', found: failure, fix };
  });
}

/**
 * A NAT discovery answer in words: its type and the NAT it saw. An answer for another identity
 * (UNKNOWN_DST_*) still proves the port, but says this cluster's copy of the remote's Endpoint is
 * not the gateway that answers there.
 */
export function describeNatAnswer(decoded: NatDiscoveryDecodeResult, remote: Pick<EndpointFacts, 'clusterId' | 'cableName'>): { what: string; concern?: string } {
  const r = decoded.ok ? decoded.message.response : undefined;
  if (!r) return { what: 'an answer' };
  const flags = [r.srcIpNatDetected && 'our source address rewritten', r.srcPortNatDetected && 'our source port rewritten', r.dstIpNatDetected && 'reached at an address other than its private IP']
    .filter(Boolean).join(', ');
  const what = `${responseTypeName(r.response)}${flags ? ` (${flags})` : ''}`;
  if (r.response === ResponseType.UNKNOWN_DST_CLUSTER || r.response === ResponseType.UNKNOWN_DST_ENDPOINT) {
    return { what, concern: `the remote gateway does not know itself as ${remote.clusterId}/${remote.cableName}: this cluster's copy of its Endpoint is out of date, or another gateway answers at this address` };
  }
  if (r.response === ResponseType.MALFORMED) return { what, concern: 'the remote gateway found the request malformed (a version mismatch?)' };
  return { what };
}

/** The tunnel: an ICMP echo through the cable to the remote's healthCheckIP, from this gateway's CNI address. */
export function tunnelFinding(node: string, remote: EndpointFacts, source: string, outcome: EchoOutcome, asPortProbe: boolean): Finding {
  const target = `cluster ${remote.clusterId} healthCheckIP ${remote.healthCheckIp} via the cable`;
  const probe = `ICMP echo from ${source} (this gateway's CNI address) to ${remote.healthCheckIp}, which the cable carries${asPortProbe ? ` inside UDP ${remote.udpPort}: ${remote.backend || 'this cable'} answers nothing unauthenticated on the port itself, so this echo is the 4500 probe` : ''}`;
  // Check ids name Submariner's default ports (stable for scripts); the target gives the port probed.
  const id = asPortProbe ? 'udp-4500' : 'tunnel';
  if (outcome.replied) return { id, node, target, probe, severity: 'ok', found: `replied in ${rtt(outcome.rttMs)}: the tunnel carries traffic both ways`, fix: null };
  const why = outcome.error ? `the echo could not be sent (${outcome.error})` : `no reply to ${outcome.sends} echo(es) within ${outcome.waitedMs} ms`;
  return {
    id, node, target, probe, severity: 'error',
    found: `${why}: the tunnel to cluster ${remote.clusterId} does not carry traffic${asPortProbe ? ` (UDP ${remote.udpPort} blocked between the gateways, or the cable is down)` : ''}`,
    fix: `check UDP ${remote.udpPort} between this gateway and ${remote.publicIp || remote.privateIp} in both directions (firewalls, security groups, NAT forwards), and the cable's state: seaway status on both gateways`,
  };
}

export function missingHealthCheckFinding(node: string, remote: EndpointFacts, id: string): Finding {
  return {
    id, node, target: `cluster ${remote.clusterId} gateway ${remote.hostname || '?'}`, probe: 'none: the Endpoint gives no healthCheckIP to send an echo through the tunnel to',
    severity: 'warning', found: `cluster ${remote.clusterId}'s Endpoint has no healthCheckIP: the tunnel${id === 'mtu' ? '\'s MTU' : ''} cannot be probed from here`, fix: null,
  };
}

/** What the MSS clamp assumes fits through the cable: the cable device's MTU (clamp to PMTU), or the fixed MSS + 40. */
export interface MssAssumption { bytes: number; why: string }

export function mtuFinding(node: string, remote: EndpointFacts, source: string, assumed: MssAssumption, result: MtuSearchResult | { problem: string }): Finding {
  const target = `cluster ${remote.clusterId} healthCheckIP ${remote.healthCheckIp} via the cable`;
  const probe = `DF-set ICMP echoes of chosen sizes from ${source} through the cable (largest ${assumed.bytes} bytes, then a bounded binary search)`;
  const base = { id: 'mtu', node, target, probe };
  if ('problem' in result) return { ...base, severity: 'warning', found: `not measured: ${result.problem}`, fix: null };
  if (result.pathMtu === null) {
    return { ...base, severity: 'warning', found: `not measured: no echo of any size came back in ${result.probes} probes (see the tunnel finding)`, fix: null };
  }
  if (result.pathMtu >= assumed.bytes) {
    return { ...base, severity: 'ok', found: `${assumed.bytes}-byte packets pass (${assumed.why}); ${result.probes} probe(s)`, fix: null };
  }
  const range = result.exact ? `${result.pathMtu} bytes` : `at least ${result.pathMtu} and below ${result.firstSilent} bytes`;
  const mss = result.pathMtu - 40;
  return {
    ...base, severity: 'error',
    found: `the path MTU through the tunnel is ${range}, below the ${assumed.bytes} bytes the MSS clamp assumes (${assumed.why}): TCP segments that fill a ${assumed.bytes}-byte packet are lost unless PMTU discovery works through the tunnel, and connections stall on their first large transfer (${result.probes} probes)`,
    fix: `clamp TCP MSS to what the path carries: annotate the gateway nodes submariner.io/tcp-clamp-mss=${mss}; or find the hop between the gateways that carries less than ${assumed.bytes} bytes (an underlay MTU, a VPN or tunnel on the way) and raise its MTU`,
  };
}

/** This node's VTEP and the gateway's, for the UDP 4800 echo; or why it cannot be sent. */
export function vxlanTargets(gatewayIp: string, vxlanLink: { up: boolean; local?: string; remote?: string } | null, vtepSource: string | null):
  { ok: true; source: string; target: string; remoteMismatch: string | null } | { ok: false; problem: string } {
  if (vxlanLink === null) return { ok: false, problem: `${OWNERSHIP.vxlanDevice} does not exist on this node: the route agent has not programmed it (seaway status says why)` };
  if (!vxlanLink.up) return { ok: false, problem: `${OWNERSHIP.vxlanDevice} is down` };
  const gateway = parseIpv4(gatewayIp);
  if (!gateway.ok) return { ok: false, problem: `the local Endpoint's private_ip ${gatewayIp || '(none)'} is not an IPv4 address` };
  if (vtepSource === null) return { ok: false, problem: `${OWNERSHIP.vxlanDevice} holds no ${OWNERSHIP.vtepFirstOctet}.0.0.0/8 VTEP address` };
  const mismatch = vxlanLink.remote !== undefined && vxlanLink.remote !== gatewayIp
    ? `${OWNERSHIP.vxlanDevice} sends to ${vxlanLink.remote}, not to the gateway's ${gatewayIp}` : null;
  return { ok: true, source: vtepSource, target: formatIpv4(vtepIp(gateway.address)), remoteMismatch: mismatch };
}

export function vxlanFinding(node: string, role: GatewayRole, targets: ReturnType<typeof vxlanTargets> | null, outcome: EchoOutcome | null): Finding {
  const id = `udp-${OWNERSHIP.vxlanPort}`;
  if (role.role === 'gateway') {
    return { id, node, target: 'VXLAN to the gateway', probe: 'none', severity: 'ok', found: `this node is the active gateway: the other nodes' VXLAN ends here (their diagnose probes it)`, fix: null };
  }
  if (role.role === 'unknown') {
    return { id, node, target: 'VXLAN to the gateway', probe: 'none', severity: 'warning', found: `not probed: which node is the gateway is unknown (${role.why})`, fix: null };
  }
  const target = `gateway ${role.gatewayNode} ${role.gatewayIp}:${OWNERSHIP.vxlanPort}/udp`;
  if (targets === null || !targets.ok) {
    return { id, node, target, probe: `ICMP echo to the gateway's VTEP across ${OWNERSHIP.vxlanDevice}`, severity: 'error', found: `not probed: ${targets?.problem ?? 'no probe'}`, fix: 'see `seaway status` on this node for why the route agent has not programmed VXLAN' };
  }
  const probe = `ICMP echo from this node's VTEP ${targets.source} to the gateway's VTEP ${targets.target} across ${OWNERSHIP.vxlanDevice} (UDP ${OWNERSHIP.vxlanPort} both ways: the reply comes back by VXLAN too)`;
  if (outcome !== null && outcome.replied) {
    if (targets.remoteMismatch) return { id, node, target, probe, severity: 'warning', found: `replied in ${rtt(outcome.rttMs)}, but ${targets.remoteMismatch}`, fix: 'the route agent corrects this on its next pass; if it stays, see `seaway status`' };
    return { id, node, target, probe, severity: 'ok', found: `replied in ${rtt(outcome.rttMs)}`, fix: null };
  }
  const why = outcome === null ? 'not sent' : outcome.error ? `could not be sent (${outcome.error})` : `no reply to ${outcome.sends} echo(es) within ${outcome.waitedMs} ms`;
  return {
    id, node, target, probe, severity: 'error',
    found: `${why}: VXLAN between this node and the gateway does not pass${targets.remoteMismatch ? `; ${targets.remoteMismatch}` : ''}`,
    fix: `allow UDP ${OWNERSHIP.vxlanPort} between the nodes (host firewalls, security groups: both ways between this node and ${role.gatewayIp})`,
  };
}

/** For nodes other than the active gateway: the remote-facing probes belong there. */
export function notGatewayFinding(node: string, role: GatewayRole): Finding {
  const where = role.role === 'worker' ? `the active gateway ${role.gatewayNode}` : 'the active gateway node';
  return {
    id: 'remote-gateways', node, target: 'UDP 4490/4500, tunnels and MTU to the remote gateways', probe: 'none from this node',
    severity: role.role === 'unknown' ? 'warning' : 'ok',
    found: role.role === 'unknown' ? `not probed: which node is the gateway is unknown (${role.why})` : `these probes run from ${where} (diagnose there, or diagnose --all)`,
    fix: null,
  };
}
