/**
 * `seaway diagnose`, leftovers of an earlier install (pure): the kernel objects seaway and
 * Submariner leave on a node, sorted by who keeps them, and judged against the agents that run on
 * the node now. An object is a leftover when nothing running here keeps it: the route agent's
 * datapath without a route agent, a cable's state without an active gateway here, Submariner's
 * objects that seaway does not adopt. Each finding names the objects and what removes them.
 *
 * What belongs to whom is OWNERSHIP's (model/ownership.ts) and the drivers': seaway's objects carry
 * route protocol 147, its tables and rule priorities, its link, chain, set and nft table names;
 * Submariner's route agent leaves `proto static` routes via 240.0.0.0/8 and in table 150 (seaway
 * adopts those), its VXLAN cable table 100, and libreswan's XFRM policies.
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { OWNED_RULE_PRIORITIES, OWNED_TABLES, OWNERSHIP, SUBMARINER_LEFTOVERS } from '../model/ownership.ts';
import { OWNED_IPTABLES_CHAINS, type IptablesTableName } from './filter-iptables.ts';

export type IptablesFlavour = 'legacy' | 'nft';

/** What the kernel holds, as far as leftovers go (read by the caller; every list is the whole dump). */
export interface LeftoverView {
  links: ReadonlyArray<{ index: number; name: string; kind?: string }>;
  routes: ReadonlyArray<{ table: number; dst: string; protocol: number; gateway?: string; oif?: number; blackhole?: boolean }>;
  rules: ReadonlyArray<{ priority: number; table: number; protocol: number }>;
  /** Addresses on lo, with their labels. */
  loAddresses: ReadonlyArray<{ address: string; label?: string }>;
  /** Each iptables flavour's chains by table; null when the flavour is not usable on this host. */
  iptables: Readonly<Record<IptablesFlavour, ReadonlyMap<string, ReadonlySet<string>> | null>>;
  /** nft tables as "family name". */
  nftTables: readonly string[];
  /** The seaway and Submariner ipsets present; null when the ipset list could not be read. */
  ipsets: readonly string[] | null;
  /** XFRM policies: how many, and a few as text; null when they could not be read. */
  xfrmPolicies: { count: number; sample: readonly string[] } | null;
}

export interface AgentsHere {
  /** A seaway route agent answers on its local socket. */
  routeAgent: boolean;
  /** A seaway gateway answers on its local socket. */
  gateway: boolean;
  /** The local Endpoint names this node (it is the active gateway); null when the API could not say. */
  activeGatewayHere: boolean | null;
  /** The local Endpoint's backend (libreswan, wireguard, vxlan), when known. */
  cableBackend: string | null;
  /** The iptables flavour seaway writes here; null when not known. */
  seawayIptables: IptablesFlavour | null;
}

const CLEANUP = '`seaway cleanup` on this node (what the uninstall DaemonSet runs; it removes all of seaway\'s datapath, so only where seaway is being removed)';
const SHOWN = 6;

function list(items: readonly string[]): string {
  return items.length <= SHOWN ? items.join(', ') : `${items.slice(0, SHOWN).join(', ')} and ${items.length - SHOWN} more`;
}

const ipRoute = (r: LeftoverView['routes'][number], nameOf: (oif?: number) => string) =>
  `${r.blackhole ? 'blackhole ' : ''}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.oif !== undefined ? ` dev ${nameOf(r.oif)}` : ''} table ${r.table} proto ${r.protocol}`;

const VTEP_PREFIX = `${OWNERSHIP.vtepFirstOctet}.`;
const SEAWAY_IPSETS: readonly string[] = Object.values(OWNERSHIP.ipsets);

export function diagnoseLeftovers(node: string, view: LeftoverView, agents: AgentsHere): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Finding['severity'], target: string, found: string, fix: string | null, probe = 'dumped links, routes, rules, addresses, iptables (both flavours), nft tables, ipsets and XFRM policies') =>
    findings.push({ id: 'leftovers', severity, node, target, probe, found, fix });
  const nameOf = (oif?: number) => view.links.find((l) => l.index === oif)?.name ?? `ifindex ${oif}`;
  const vxlan = view.links.find((l) => l.name === OWNERSHIP.vxlanDevice);

  // The route agent's datapath: seaway's own marks, and the names it shares with Submariner's route agent.
  const agentObjects: string[] = [];
  if (vxlan) agentObjects.push(`link ${OWNERSHIP.vxlanDevice}`);
  const agentRoutes = view.routes.filter((r) => r.protocol === OWNERSHIP.routeProtocol && OWNED_TABLES.includes(r.table));
  if (agentRoutes.length > 0) agentObjects.push(`${agentRoutes.length} route(s) (${list(agentRoutes.map((r) => ipRoute(r, nameOf)))})`);
  const agentRules = view.rules.filter((r) => r.protocol === OWNERSHIP.routeProtocol && OWNED_RULE_PRIORITIES.includes(r.priority) && OWNED_TABLES.includes(r.table));
  for (const r of agentRules) agentObjects.push(`rule pref ${r.priority} lookup ${r.table}`);
  const chainsBy: Record<IptablesFlavour, string[]> = { legacy: [], nft: [] };
  for (const flavour of ['legacy', 'nft'] as const) {
    const tables = view.iptables[flavour];
    if (!tables) continue;
    for (const [table, owned] of Object.entries(OWNED_IPTABLES_CHAINS) as Array<[IptablesTableName, readonly string[]]>) {
      for (const chain of owned) if (tables.get(table)?.has(chain)) chainsBy[flavour].push(`${table}/${chain}`);
    }
  }
  const nftTable = view.nftTables.includes(`ip ${OWNERSHIP.nftTable}`);
  const sets = (view.ipsets ?? []).filter((s) => SEAWAY_IPSETS.includes(s));

  // Submariner's route agent's routes, which a running seaway route agent adopts (and removes or replaces).
  const submarinerRoutes = view.routes.filter((r) => r.protocol === SUBMARINER_LEFTOVERS.routeProtocol && (
    r.table === OWNERSHIP.hostNetworkTable
    || (r.table === OWNERSHIP.workerTable && vxlan !== undefined && r.oif === vxlan.index && (r.gateway?.startsWith(VTEP_PREFIX) ?? false))));
  const submarinerRule = view.rules.find((r) => r.protocol === SUBMARINER_LEFTOVERS.ruleProtocol && r.priority === OWNERSHIP.hostNetworkRulePriority && r.table === OWNERSHIP.hostNetworkTable);

  if (!agents.routeAgent) {
    const objects = [...agentObjects];
    for (const flavour of ['legacy', 'nft'] as const) if (chainsBy[flavour].length > 0) objects.push(`iptables-${flavour} chains ${list(chainsBy[flavour])}`);
    if (nftTable) objects.push(`nft table ip ${OWNERSHIP.nftTable}`);
    if (sets.length > 0) objects.push(`ipsets ${sets.join(', ')}`);
    if (submarinerRoutes.length > 0) objects.push(`${submarinerRoutes.length} route(s) of Submariner's route agent (${list(submarinerRoutes.map((r) => ipRoute(r, nameOf)))})`);
    if (submarinerRule) objects.push(`Submariner's rule pref ${submarinerRule.priority} lookup ${submarinerRule.table}`);
    if (objects.length > 0) {
      add('error', 'route agent datapath', `no seaway route agent answers on this node, yet its datapath is here: ${objects.join('; ')}. Left by an earlier install (seaway's or Submariner's), or the agent is not running`,
        `start the route agent (kubectl -n submariner-operator get pods -o wide), or remove it all with ${CLEANUP}`);
    }
  } else {
    if (submarinerRoutes.length > 0 || submarinerRule) {
      const what = [...submarinerRoutes.map((r) => ipRoute(r, nameOf)), ...(submarinerRule ? [`rule pref ${submarinerRule.priority} lookup ${submarinerRule.table}`] : [])];
      add('warning', 'Submariner route agent routes', `${list(what)}: Submariner's route agent's, which seaway's running route agent adopts and replaces on its next pass; if they stay, Submariner's route agent may still run here`,
        'make sure Submariner\'s route agent DaemonSet is gone (kubectl -n submariner-operator get ds); seaway removes these routes itself');
    }
    const used = agents.seawayIptables;
    if (used !== null) {
      const other: IptablesFlavour = used === 'legacy' ? 'nft' : 'legacy';
      if (chainsBy[other].length > 0) {
        add('warning', `iptables-${other} chains`, `${list(chainsBy[other])} in iptables-${other}, which seaway does not use on this node (it uses iptables-${used}): left by Submariner or an earlier seaway; their rules still see every packet`,
          `remove them in iptables-${other}: delete the jumps to them from the built-in chains, then iptables-${other} -t <table> -F <chain> and -X <chain>; or ${CLEANUP}`);
      }
    }
  }

  // The cables' state: kept by the active gateway here, left when the gateway stops or steps down.
  const cableTables: readonly number[] = [OWNERSHIP.cableRoutesTable, OWNERSHIP.cableFailClosedTable];
  const cableObjects: string[] = [];
  const cableRoutes = view.routes.filter((r) => r.protocol === OWNERSHIP.routeProtocol && cableTables.includes(r.table));
  if (cableRoutes.length > 0) cableObjects.push(`${cableRoutes.length} route(s) in tables ${OWNERSHIP.cableRoutesTable}/${OWNERSHIP.cableFailClosedTable} (${list(cableRoutes.map((r) => ipRoute(r, nameOf)))})`);
  for (const r of view.rules.filter((r) => r.protocol === OWNERSHIP.routeProtocol && cableTables.includes(r.table))) cableObjects.push(`rule pref ${r.priority} lookup ${r.table}`);
  const sources = view.loAddresses.filter((a) => a.label === 'lo:seaway');
  if (sources.length > 0) cableObjects.push(`IPsec source address(es) ${sources.map((a) => a.address).join(', ')} on lo`);
  for (const l of view.links) {
    if ((l.name === OWNERSHIP.wireguardDevice && l.kind === 'wireguard') || (l.name === OWNERSHIP.vxlanCableDevice && l.kind === 'vxlan')) cableObjects.push(`link ${l.name} (${l.kind})`);
  }
  // Kept by a gateway running here that is (or may be) the active one; and on the node the local Endpoint names as the
  // gateway, whatever answers: that is the active gateway's state, kept as it is while its process is down (fail static),
  // which the gateway's own findings report, not a leftover of an earlier install.
  const cableKept = (agents.gateway && agents.activeGatewayHere !== false) || agents.activeGatewayHere === true;
  if (cableObjects.length > 0 && !cableKept) {
    const who = agents.gateway ? 'the seaway gateway here is not the active one' : 'no seaway gateway answers on this node';
    const removal = view.links.some((l) => l.name === OWNERSHIP.vxlanCableDevice || l.name === OWNERSHIP.wireguardDevice)
      ? `; the devices alone: ${view.links.filter((l) => l.name === OWNERSHIP.vxlanCableDevice || l.name === OWNERSHIP.wireguardDevice).map((l) => `ip link del ${l.name}`).join('; ')}`
      : '';
    add('error', 'cable state', `${who}, yet a cable's state is here: ${cableObjects.join('; ')}. Left by an earlier gateway (seaway's or Submariner's): its devices and routes can take traffic meant for the active gateway`,
      `restart the seaway gateway here (one that starts or steps down removes a cable's leftovers), or ${CLEANUP}${removal}`);
  }
  const charonRoutes = view.routes.filter((r) => r.table === OWNERSHIP.charonTable);
  if (charonRoutes.length > 0 && !cableKept) {
    add('warning', `table ${OWNERSHIP.charonTable}`, `${charonRoutes.length} route(s) in charon's table ${OWNERSHIP.charonTable} (${list(charonRoutes.map((r) => ipRoute(r, nameOf)))}) with no active seaway gateway here: a charon (strongSwan) still running, or left by one`,
      `find the process (pgrep -a charon) and stop it; charon removes its routes when it stops. Unless another IPsec daemon here owns them: ip route flush table ${OWNERSHIP.charonTable}`);
  }

  // Submariner's VXLAN cable on gateways: table 100, which seaway never uses with another protocol than its own.
  const table100Routes = view.routes.filter((r) => r.table === OWNERSHIP.legacyWorkerTable && r.protocol !== OWNERSHIP.routeProtocol);
  const table100Rules = view.rules.filter((r) => r.table === OWNERSHIP.legacyWorkerTable && r.protocol !== OWNERSHIP.routeProtocol);
  if (table100Routes.length > 0 || table100Rules.length > 0) {
    const what = [...table100Rules.map((r) => `rule pref ${r.priority} lookup ${r.table}`), ...table100Routes.map((r) => ipRoute(r, nameOf))];
    add('error', `table ${OWNERSHIP.legacyWorkerTable}`, `${list(what)}: table ${OWNERSHIP.legacyWorkerTable} is where Submariner's VXLAN cable routes on its gateways; seaway never keeps these (if something else on this node uses table ${OWNERSHIP.legacyWorkerTable}, this is not a leftover)`,
      [...table100Rules.map((r) => `ip rule del pref ${r.priority} lookup ${r.table}`), ...(table100Routes.length > 0 ? [`ip route flush table ${OWNERSHIP.legacyWorkerTable}`] : [])].join('; '));
  }

  const xfrmKept = agents.activeGatewayHere === true && agents.cableBackend === 'libreswan';
  if (view.xfrmPolicies && view.xfrmPolicies.count > 0 && !xfrmKept) {
    add('warning', 'XFRM policies', `${view.xfrmPolicies.count} XFRM polic${view.xfrmPolicies.count === 1 ? 'y' : 'ies'} (${list([...view.xfrmPolicies.sample])}) with no active seaway IPsec gateway here: Submariner's libreswan leaves them, and they divert matching traffic into IPsec tunnels that no longer exist`,
      'unless another IPsec user on this node owns them (Calico or Cilium IPsec, a VPN): ip xfrm policy flush; ip xfrm state flush');
  }

  const unread = [
    ...(['legacy', 'nft'] as const).filter((f) => view.iptables[f] === null).map((f) => `iptables-${f} (not usable here)`),
    ...(view.ipsets === null ? ['ipsets'] : []),
    ...(view.xfrmPolicies === null ? ['XFRM policies'] : []),
  ];
  if (findings.length === 0) {
    add('ok', 'kernel objects', `nothing left by an earlier install: no seaway or Submariner object here that a running agent does not keep (route agent: ${agents.routeAgent ? 'running' : 'none'}, gateway: ${agents.gateway ? 'running' : 'none'})${unread.length > 0 ? `; not read: ${unread.join(', ')}` : ''}`, null);
  }
  return findings;
}

/** Chain names per table of an iptables-save text (its `:NAME POLICY` lines), without reading rules: leftovers need only the names. */
export function chainNames(text: string): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>();
  let current: Set<string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      current = new Set();
      tables.set(line.slice(1), current);
    } else if (line.startsWith(':') && current) {
      const name = line.slice(1).split(/\s+/)[0];
      if (name) current.add(name);
    } else if (line === 'COMMIT') current = null;
  }
  return tables;
}
