/**
 * What the IPsec cable asks charon for, per remote gateway (pure): one IKEv2 connection named for
 * the cable, IDs and ports as Submariner's libreswan uses them (IDs = private IPs, IKE on the NAT-T
 * port on both sides, PSK; IKE sent from the public IP when the gateway has it on an interface, else
 * from the private IP), one CHILD_SA per local x remote subnet pair, both sides initiating
 * (the cable initiates what is not up; charon restarts children on DPD and on the peer's close), so
 * a restarted peer is back as soon as it initiates.
 *
 * kernel-libipsec (userspace ESP, where the kernel has no ESP) routes each CHILD_SA's remote subnet
 * into its TUN device with a source address of the gateway inside the local traffic selector, and
 * fails the CHILD_SA when there is none. The pod subnet holds the gateway's CNI address; the
 * service subnet holds none, so the cable gives the gateway the service range's last address (a
 * /32 on lo): Kubernetes never allocates an IPv4 service range's first or last address to a
 * Service, so it cannot capture a ClusterIP. A local subnet without an address and that rule does
 * not cover is dropped from the children, with its reason, never silently.
 */
import { containsAddress, formatIpv4, lastAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';
import type { CableEndpoint } from '../model/cable-endpoint.ts';
import type { EspMode } from './strongswan-conf.ts';

/** A subnet of the local cluster, and what it holds (the service range gets the libipsec address). */
export interface LocalSubnet {
  cidr: string;
  kind: 'pods' | 'services';
}

export interface IpsecLocal {
  /** The gateway's private IP: its IKE identity, and the address IKE is sent from unless the public IP is on the gateway. */
  privateIp: string;
  /**
   * The gateway's public IP (its local Endpoint's), if it has one. When it is an address of the
   * gateway itself (in `addresses`: bare metal with a public interface), IKE is sent from it, so the
   * peer answers to an address it can route; behind NAT it is not on the gateway and is not used here.
   */
  publicIp?: string;
  subnets: readonly LocalSubnet[];
  /** IKE and NAT-T port (Submariner's `udp-port`, 4500). */
  natTPort: number;
  /**
   * Addresses on the gateway now: whether the public IP is one of them (IKE from it), and under
   * libipsec, a local subnet holding one needs no added address.
   */
  addresses: readonly string[];
}

export interface IpsecSettings {
  espMode: EspMode;
  ikeProposals: readonly string[];
  espProposals: readonly string[];
  dpdDelayS: number;
  /** CHILD_SA rekeying (make-before-break) and IKE_SA rekeying, in seconds. */
  childRekeyS: number;
  ikeRekeyS: number;
  /** UDP-encapsulate ESP even without NAT (where raw ESP is blocked). kernel-libipsec always encapsulates. */
  forceEncapsulation: boolean;
}

/**
 * Within libreswan's IKEv2 defaults (Submariner passes none): AES-GCM-16 256 with PRF SHA2-256 and
 * ECP-256 first, then AES-CBC-256 / SHA2-256 / MODP-2048 for charons without the openssl plugin.
 */
export const DEFAULT_IPSEC_SETTINGS: Omit<IpsecSettings, 'espMode'> = {
  ikeProposals: ['aes256gcm16-prfsha256-ecp256', 'aes256-sha256-modp2048'],
  espProposals: ['aes256gcm16', 'aes256-sha256'],
  dpdDelayS: 10,
  childRekeyS: 3600,
  ikeRekeyS: 14400,
  forceEncapsulation: false,
};

export interface PlannedChild {
  name: string;
  localTs: string;
  remoteTs: string;
}

export interface DroppedChild {
  localTs: string;
  remoteTs: string;
  reason: string;
}

export type ViciConfig = { [key: string]: string | string[] | ViciConfig };

export interface PlannedConnection {
  name: string;
  children: PlannedChild[];
  dropped: DroppedChild[];
  /** The `load-conn` message: `{ <name>: { ... } }`. */
  loadConn: ViciConfig;
}

export class IpsecPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpsecPlanError';
  }
}

/** Child names from the subnets, not their positions: a changed subnet list renames nothing else. */
export const childName = (localTs: string, remoteTs: string): string => `${localTs.replace('/', '_')}-${remoteTs.replace('/', '_')}`;

function cidrText(text: string, what: string): string {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new IpsecPlanError(`${what}: ${parsed.message}`);
  if (parsed.hostBitsSet) throw new IpsecPlanError(`${what}: "${text}" has host bits set (the network is ${parsed.text})`);
  return parsed.text;
}

function addressText(text: string, what: string): string {
  const parsed = parseIpv4(text);
  if (!parsed.ok) throw new IpsecPlanError(`${what}: ${parsed.message}`);
  return text;
}

function port(value: number, what: string): string {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new IpsecPlanError(`${what}: ${value} is not a port from 1 to 65535`);
  return String(value);
}

const seconds = (value: number, what: string): string => {
  if (!Number.isInteger(value) || value < 1) throw new IpsecPlanError(`${what}: ${value} is not a whole number of seconds above 0`);
  return `${value}s`;
};

/**
 * The source kernel-libipsec uses for a local subnet: a service range always gets its last address
 * (seaway's /32, wanted whether or not it is there yet, so it is kept); any other range needs an
 * address the gateway already has inside it, or it cannot be a local traffic selector.
 */
function libipsecSource(subnet: LocalSubnet, addresses: readonly string[]): { present: string } | { add: string } | { missing: string } {
  const parsed = parseCidr(subnet.cidr);
  if (!parsed.ok) return { missing: parsed.message };
  if (subnet.kind === 'services' && parsed.cidr.prefixLength <= 30) return { add: formatIpv4(lastAddress(parsed.cidr)) };
  for (const text of addresses) {
    const address = parseIpv4(text);
    if (address.ok && containsAddress(parsed.cidr, address.address)) return { present: text };
  }
  return { missing: `kernel-libipsec needs an address of the gateway inside ${subnet.cidr}, and the gateway has none` };
}

/** seaway's source addresses on the gateway (libipsec only): the service ranges' last addresses, present or not. */
export function libipsecAddresses(local: Pick<IpsecLocal, 'subnets' | 'addresses'>, espMode: EspMode): string[] {
  if (espMode !== 'libipsec') return [];
  const wanted = new Set<string>();
  for (const subnet of local.subnets) {
    const source = libipsecSource(subnet, local.addresses);
    if ('add' in source) wanted.add(source.add);
  }
  return [...wanted].sort();
}

/**
 * The addresses charon sends IKE from and answers on (`local_addrs`): the public IP first when it is
 * a valid IPv4 address other than the private IP and an address of the gateway now (strongSwan
 * initiates from the first and responds on any), then the private IP; otherwise the private IP alone
 * (behind NAT the public IP belongs to the NAT device).
 */
export function ikeLocalAddresses(local: Pick<IpsecLocal, 'privateIp' | 'publicIp' | 'addresses'>): string[] {
  const { privateIp, publicIp } = local;
  if (publicIp === undefined || publicIp === privateIp) return [privateIp];
  const parsed = parseIpv4(publicIp);
  if (!parsed.ok) return [privateIp];
  const onGateway = local.addresses.some((text) => {
    const address = parseIpv4(text);
    return address.ok && address.address === parsed.address;
  });
  return onGateway ? [publicIp, privateIp] : [privateIp];
}

/** The cable names a connection may have (charon's connection and the CHILD_SAs are named by it). */
export const CABLE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const CABLE_NAME_RULE = '1-128 letters, digits, dots, dashes or underscores, starting with a letter or digit';

export function planConnection(local: IpsecLocal, remote: CableEndpoint, settings: IpsecSettings): PlannedConnection {
  if (!CABLE_NAME_PATTERN.test(remote.cableName)) {
    throw new IpsecPlanError(`cable name "${remote.cableName.slice(0, 64)}" must be ${CABLE_NAME_RULE}`);
  }
  const localIp = addressText(local.privateIp, 'local private IP');
  const remoteId = addressText(remote.privateIp, `${remote.cableName}: private IP`);
  const remoteAddress = addressText(remote.address, `${remote.cableName}: address`);
  if (remote.subnets.length === 0) throw new IpsecPlanError(`${remote.cableName}: the remote gateway announces no subnets`);
  if (settings.ikeProposals.length === 0 || settings.espProposals.length === 0) throw new IpsecPlanError('IKE and ESP proposals must not be empty');
  const remoteSubnets = [...new Set(remote.subnets.map((s) => cidrText(s, `${remote.cableName}: remote subnet`)))];
  const children: PlannedChild[] = [];
  const dropped: DroppedChild[] = [];
  for (const subnet of local.subnets) {
    const localTs = cidrText(subnet.cidr, `local ${subnet.kind} subnet`);
    // Submariner skips a subnet that is the gateway's own private address.
    if (localTs === `${localIp}/32`) continue;
    const source = settings.espMode === 'libipsec' ? libipsecSource(subnet, local.addresses) : undefined;
    const reason = source !== undefined && 'missing' in source ? source.missing : undefined;
    for (const remoteTs of remoteSubnets) {
      if (reason !== undefined) dropped.push({ localTs, remoteTs, reason });
      else children.push({ name: childName(localTs, remoteTs), localTs, remoteTs });
    }
  }
  const childConfigs: ViciConfig = {};
  for (const child of children) {
    childConfigs[child.name] = {
      mode: 'tunnel',
      local_ts: [child.localTs],
      remote_ts: [child.remoteTs],
      esp_proposals: [...settings.espProposals],
      // The cable initiates the children itself (both sides do, so a restarted peer is back as soon as it
      // starts): with start_action=start, charon would terminate and re-initiate every child of a
      // connection whose configuration is reloaded changed, cutting traffic that did not need to move.
      start_action: 'none',
      dpd_action: 'restart',
      close_action: 'start',
      rekey_time: seconds(settings.childRekeyS, 'CHILD_SA rekey time'),
      // Make-before-break needs time: the SA may live twice its rekey time, so a rekey that is slow
      // (or collides with the peer's) never ends in a hard expiry that drops packets; the jitter
      // keeps both sides from rekeying at once.
      life_time: `${settings.childRekeyS * 2}s`,
      rand_time: `${Math.max(1, Math.floor(settings.childRekeyS / 10))}s`,
    };
  }
  const connection: ViciConfig = {
    version: '2',
    local_addrs: ikeLocalAddresses({ ...local, privateIp: localIp }),
    remote_addrs: [remoteAddress],
    local_port: port(local.natTPort, 'local NAT-T port'),
    remote_port: port(remote.natTPort, `${remote.cableName}: NAT-T port`),
    proposals: [...settings.ikeProposals],
    dpd_delay: seconds(settings.dpdDelayS, 'DPD delay'),
    rekey_time: seconds(settings.ikeRekeyS, 'IKE_SA rekey time'),
    encap: settings.forceEncapsulation ? 'yes' : 'no',
    mobike: 'no',
    // Retry forever: a remote gateway that is down now is wanted when it comes back.
    keyingtries: '0',
    local: { auth: 'psk', id: localIp },
    remote: { auth: 'psk', id: remoteId },
    children: childConfigs,
  };
  return { name: remote.cableName, children, dropped, loadConn: { [remote.cableName]: connection } };
}
