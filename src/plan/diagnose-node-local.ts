/**
 * `seaway diagnose`, the node itself (pure): the CNI interface the route agent waits for, and the
 * local agents' HTTP port (/healthz and /readyz, with the readiness reasons), judged from what the
 * probes saw.
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { containsAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';

export interface LinkFacts { index: number; name: string; up: boolean; mtu: number; kind?: string }
export interface AddressFacts { ifindex: number; address: string; prefixLength: number }

/** The CNI interface as the route agent's init finds it: the one named by configuration, else the one holding an IPv4 address in a pod CIDR. */
export function diagnoseCni(
  node: string, podCidrs: readonly string[], configured: string | null, links: readonly LinkFacts[], addresses: readonly AddressFacts[],
): { finding: Finding; address: string | null; device: string | null } {
  const ranges = podCidrs.map((c) => parseCidr(c)).flatMap((p) => (p.ok ? [p.cidr] : []));
  const inPods = (a: AddressFacts) => {
    const parsed = parseIpv4(a.address);
    return parsed.ok && ranges.some((r) => containsAddress(r, parsed.address));
  };
  const probe = 'dumped links and addresses (rtnetlink)';
  const target = configured ? `CNI interface ${configured} (--cni-interface)` : `CNI interface (an address in ${podCidrs.join(', ')})`;
  const base = { id: 'cni-interface', node, target, probe };
  const fixWait = 'the CNI has not set this node up yet: check the CNI\'s pod on this node; the route agent waits for the interface and programs the node once it appears';
  let candidates = addresses.filter(inPods);
  if (configured) {
    const link = links.find((l) => l.name === configured);
    if (!link) return { finding: { ...base, severity: 'error', found: `no interface named ${configured}`, fix: `${fixWait}; or correct --cni-interface (SEAWAY_CNI_INTERFACE)` }, address: null, device: null };
    candidates = candidates.filter((a) => a.ifindex === link.index);
    if (candidates.length === 0) {
      return { finding: { ...base, severity: 'error', found: `${configured} holds no IPv4 address in the pod CIDRs ${podCidrs.join(', ')}`, fix: `${fixWait}; or correct --cni-interface` }, address: null, device: null };
    }
  }
  const first = candidates[0];
  if (!first) {
    return { finding: { ...base, severity: 'error', found: `no interface holds an IPv4 address in the pod CIDRs ${podCidrs.join(', ')}`, fix: `${fixWait}; if the CNI puts no address in the pod CIDR on the node, name the interface with --cni-interface` }, address: null, device: null };
  }
  const link = links.find((l) => l.index === first.ifindex);
  const name = link?.name ?? `ifindex ${first.ifindex}`;
  if (link && !link.up) {
    return { finding: { ...base, severity: 'error', found: `${name} holds ${first.address}/${first.prefixLength} but is down`, fix: 'the CNI brings its interface up: check the CNI\'s pod on this node' }, address: first.address, device: name };
  }
  const others = candidates.length > 1 ? `; ${candidates.length - 1} more address(es) in the pod CIDRs, the first counts` : '';
  return { finding: { ...base, severity: 'ok', found: `${name} holds ${first.address}/${first.prefixLength}${others}`, fix: null }, address: first.address, device: name };
}

export type HttpOutcome = { status: number; body: string; rttMs: number } | { error: string; code?: string };

const timeoutCodes = new Set(['ETIMEDOUT', 'ABORT_ERR']);

function failure(o: Exclude<HttpOutcome, { status: number }>, url: string): string {
  if (o.code === 'ECONNREFUSED') return `nothing listens at ${url} (connection refused): the agent is not running, or it listens elsewhere`;
  if (o.code !== undefined && timeoutCodes.has(o.code)) return `no answer from ${url}: ${o.error} (a host firewall dropping the TCP port, or a hung agent)`;
  return `${url}: ${o.error}`;
}

/** /healthz and /readyz of one agent, as the kubelet's probes and Prometheus reach them. */
export function httpFinding(node: string, agent: 'route agent' | 'gateway', url: string, healthz: HttpOutcome, readyz: HttpOutcome): Finding {
  const base = { id: `http-${agent === 'gateway' ? 'gateway' : 'route-agent'}`, node, target: `${agent} ${url}`, probe: `HTTP GET ${url}/healthz and /readyz (what the kubelet's probes and Prometheus reach)` };
  const listen = agent === 'gateway' ? '--gateway-listen (SEAWAY_GATEWAY_LISTEN) for diagnose, or the gateway\'s SEAWAY_LISTEN' : 'the route agent\'s --listen (SEAWAY_LISTEN)';
  if ('error' in healthz) {
    return { ...base, severity: 'error', found: failure(healthz, url), fix: `check the ${agent} pod on this node, that ${listen} names this address, and that TCP to it is allowed from the node itself, the kubelet and Prometheus` };
  }
  if (healthz.status !== 200) {
    return { ...base, severity: 'error', found: `/healthz answered ${healthz.status}: ${healthz.body.trim().replace(/\s+/g, ' ').slice(0, 300)}`, fix: `the ${agent}'s event loop or reconcile loop is stalled: its log says why; the kubelet restarts it` };
  }
  if ('error' in readyz) return { ...base, severity: 'error', found: `/healthz answered 200; /readyz: ${failure(readyz, url)}`, fix: `check the ${agent} pod on this node` };
  if (readyz.status !== 200) {
    const reasons = readyz.body.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== 'not ready');
    return {
      ...base, severity: 'error', found: `/healthz 200, /readyz ${readyz.status}: ${reasons.length > 0 ? reasons.join('; ').slice(0, 600) : 'no reason given'}`,
      fix: `act on the reasons above; \`seaway status\` on this node lists each object's state${agent === 'gateway' ? ' (--status-socket of the gateway)' : ''}`,
    };
  }
  return { ...base, severity: 'ok', found: `/healthz and /readyz answered 200 in ${Math.round(healthz.rttMs)} and ${Math.round(readyz.rttMs)} ms`, fix: null };
}

/** A gateway's HTTP port is only expected on gateway nodes: one labelled as such, or where a gateway answers on its socket. */
export function noGatewayFinding(node: string, label: string): Finding {
  return {
    id: 'http-gateway', node, target: 'gateway', probe: `read this Node's labels and asked the gateway's local socket`,
    severity: 'ok', found: `no gateway on this node (not labelled ${label}, and no gateway answers on its socket)`, fix: null,
  };
}
