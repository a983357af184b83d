/**
 * `seaway diagnose`, the packet filter backend (pure): which iptables flavour the host's other rules
 * live in (kube-proxy's KUBE-* chains, the CNI's), against the one seaway writes to. Rules written in
 * the other flavour than kube-proxy's and the CNI's are evaluated in separate base chains: seaway's
 * ACCEPT ahead of the CNI's masquerade, or its MSS clamp, would then not stop or change what the
 * other flavour's rules do to the same packet.
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { IptablesParseError, countForeignRules, parseIptablesSave, type IptablesObserved } from './filter-iptables.ts';
import type { IptablesFlavour } from './diagnose-leftovers.ts';

/** The chains that say who writes a flavour: kube-proxy's, and the common CNIs'. */
const HOST_CHAIN = /^(KUBE-|CNI-|cali-|FLANNEL|KUBE-ROUTER|CILIUM|WEAVE|ANTREA|OVN-)/;
/** iptables-nft keeps its tables in nft under these names; other tables are native nft users (kube-proxy's nftables mode, Cilium...). */
const IPTABLES_NFT_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

export interface BackendInputs {
  /** iptables-<flavour>-save output; null when the flavour is not usable here. */
  saves: Readonly<Record<IptablesFlavour, string | null>>;
  /** nft tables as "family name". */
  nftTables: readonly string[];
  configured: 'auto' | 'iptables' | 'nftables';
  /** What seaway picks on this host with that setting (its own detection), or why it could not tell. */
  seaway: { backend: 'iptables' | 'nftables'; iptablesMode: IptablesFlavour } | { problem: string };
}

interface FlavourFacts { usable: boolean; parsed: IptablesObserved | null; parseProblem: string | null; hostChains: string[]; foreignRules: number }

function facts(text: string | null): FlavourFacts {
  if (text === null) return { usable: false, parsed: null, parseProblem: null, hostChains: [], foreignRules: 0 };
  let parsed: IptablesObserved;
  try {
    parsed = parseIptablesSave(text);
  } catch (error) {
    if (error instanceof IptablesParseError) return { usable: true, parsed: null, parseProblem: error.message, hostChains: [], foreignRules: 0 };
    throw error;
  }
  const hostChains = new Set<string>();
  for (const [, chains] of parsed) for (const name of chains.keys()) if (HOST_CHAIN.test(name)) hostChains.add(name);
  return { usable: true, parsed, parseProblem: null, hostChains: [...hostChains].sort(), foreignRules: countForeignRules(parsed) };
}

const sample = (chains: readonly string[]) => (chains.length <= 4 ? chains.join(', ') : `${chains.slice(0, 4).join(', ')} and ${chains.length - 4} more`);

export function diagnoseBackend(node: string, inputs: BackendInputs): Finding[] {
  const f = { legacy: facts(inputs.saves.legacy), nft: facts(inputs.saves.nft) };
  const probe = 'read iptables-legacy-save, iptables-nft-save and nft list tables; asked seaway\'s own backend detection';
  const finding = (severity: Finding['severity'], found: string, fix: string | null): Finding =>
    ({ id: 'iptables-backend', severity, node, target: `packet filter (--filter-backend ${inputs.configured})`, probe, found, fix });
  const out: Finding[] = [];
  for (const flavour of ['legacy', 'nft'] as const) {
    if (f[flavour].parseProblem) out.push(finding('warning', `iptables-${flavour}-save output does not parse (${f[flavour].parseProblem}): that flavour's rules are not judged`, null));
  }
  const withHost = (['legacy', 'nft'] as const).filter((flavour) => f[flavour].hostChains.length > 0);
  const native = inputs.nftTables.filter((t) => {
    const [family, name] = t.split(' ');
    return !(family === 'ip' && name === OWNERSHIP.nftTable) && !((family === 'ip' || family === 'ip6') && IPTABLES_NFT_TABLES.has(name ?? ''));
  });
  const hostText = withHost.length === 0
    ? `no kube-proxy or CNI chains in either iptables flavour (foreign rules: legacy ${f.legacy.foreignRules}, nft ${f.nft.foreignRules})${native.length > 0 ? `; native nft tables: ${native.join(', ')}` : ''}`
    : withHost.map((flavour) => `iptables-${flavour} holds ${sample(f[flavour].hostChains)}`).join('; ');

  if ('problem' in inputs.seaway) {
    out.push(finding('warning', `${hostText}; which backend seaway picks could not be told: ${inputs.seaway.problem}`, null));
    return out;
  }
  const { backend, iptablesMode } = inputs.seaway;
  const uses = backend === 'nftables' ? `its own nft table ip ${OWNERSHIP.nftTable} (and iptables-${iptablesMode} accepts where the host's rules could drop)` : `iptables-${iptablesMode}`;
  if (withHost.length === 1 && backend === 'iptables' && withHost[0] !== iptablesMode) {
    const host = withHost[0]!;
    out.push(finding('error', `${hostText}, but seaway writes iptables-${iptablesMode}: its ACCEPT ahead of the CNI's masquerade and its MSS clamp do not act on what the host's iptables-${host} rules do to the same packets`,
      inputs.configured === 'auto'
        ? `remove the stale rules in iptables-${iptablesMode} (they outnumber kube-proxy's in iptables-${host}), then restart the route agent so it detects iptables-${host}`
        : `set --filter-backend auto (SEAWAY_FILTER_BACKEND) so seaway follows the host's flavour, iptables-${host}`));
    return out;
  }
  if (withHost.length === 2) {
    out.push(finding('warning', `the host writes both iptables flavours: ${hostText}; seaway writes ${uses}. One flavour is left from an earlier kube-proxy or CNI (or an image with another iptables default); both see every packet`,
      'find which component writes the flavour that should not be used (kube-proxy\'s and the CNI\'s images) and remove its stale chains'));
  }
  if (out.length === 0) out.push(finding('ok', `${hostText}; seaway writes ${uses}`, null));
  return out;
}
