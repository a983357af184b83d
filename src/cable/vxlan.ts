/**
 * The VXLAN cable (unencrypted, for networks the operator trusts): Submariner's `vxlan-tunnel`
 * device between the gateways, kept by seaway. What the device, its FDB and its routes look like
 * comes from plan/vxlan-cable.ts; this file makes the kernel match it and keeps the same fail-closed
 * floor as the encrypted cables, so a remote without a cable drops its traffic rather than leaking
 * it to the default route.
 *
 * The cable has no handshake to tell that the far side is there: it is `connected` once its FDB
 * entry and routes are in place, and the health check (ICMP through the tunnel) is what proves the
 * path, as it does for every cable.
 */
import { isDeepStrictEqual } from 'node:util';
import { errorText } from '../model/error-text.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { applyAll, type KernelWrite, type Rtnetlink } from '../kernel/rtnetlink.ts';
import type { Sysctls } from '../kernel/sysctl.ts';
import { cableMtu } from '../plan/cable-mtu.ts';
import { ALL_ZERO_MAC, cableVtep, planVxlanCables } from '../plan/vxlan-cable.ts';
import type { Cable, CableEndpoint, CableStatus } from './cable.ts';
import type { CableRoutes } from './cable-routes.ts';
import type { IpsecKernel } from './ipsec-kernel.ts';
import { Serial } from './serial.ts';

export interface VxlanCableOptions {
  rtnl: Rtnetlink;
  sysctls: Sysctls;
  routes: CableRoutes;
  floor: Pick<IpsecKernel, 'ensureFailClosed'>;
  privateIp: string;
  /** The `udp-port` the Endpoint announces: VXLAN's destination port, as Submariner's driver uses it. */
  port: number;
  /** The source for traffic the gateway itself sends into the cable (an address inside the local subnets), if it has one. */
  sourceAddress(): Promise<string | undefined>;
  now?: () => number;
}

const DEVICE = OWNERSHIP.vxlanCableDevice;
/**
 * The device's sysctls. rp_filter 2: replies may come back through another interface than the one
 * the request left by (Submariner sets loose mode too). retrans_time_ms 100: two gateways connect at
 * about the same time, and an ARP for the far VTEP that arrives before the far side has its FDB entry
 * is answered into nowhere; the default retry waits 1 s (measured by the cable benchmark). ARP on
 * this device is one entry per remote, so retrying every 100 ms costs nothing.
 */
const DEVICE_SYSCTLS: ReadonlyArray<readonly [string, string]> = [
  [`net/ipv4/conf/${DEVICE}/rp_filter`, '2'],
  [`net/ipv4/neigh/${DEVICE}/retrans_time_ms`, '100'],
];

export class VxlanCable implements Cable {
  readonly backend = 'vxlan' as const;
  readonly #options: VxlanCableOptions;
  readonly #now: () => number;
  readonly #endpoints = new Map<string, CableEndpoint>();
  readonly #since = new Map<string, number>();
  readonly #lastErrors = new Map<string, string>();
  #held: string[] = [];
  readonly #changes = new Serial();

  constructor(options: VxlanCableOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#changes.run(work);
  }

  /** The device as the plan wants it (made, or made again when it differs), its VTEP address, up; returns its index. */
  async #device(): Promise<number> {
    const { rtnl, privateIp, port } = this.#options;
    const addresses = await rtnl.listAddresses();
    const underlay = addresses.find((a) => a.address === privateIp);
    if (!underlay) throw new Error(`no interface holds the gateway's private IP ${privateIp}: the VXLAN cable has no underlay`);
    const links = await rtnl.listLinks();
    const underlayLink = links.find((l) => l.index === underlay.ifindex);
    const mtu = cableMtu('vxlan', underlayLink?.mtu ?? 1500);
    let link = links.find((l) => l.name === DEVICE);
    const fits = link?.vxlan && link.vxlan.vni === OWNERSHIP.vxlanCableVni && link.vxlan.port === port && link.vxlan.local === privateIp && link.vxlan.underlayIndex === underlay.ifindex;
    if (link && !fits) {
      await applyAll(rtnl, [{ kind: 'link', write: 'delete', index: link.index }]);
      link = undefined;
    }
    if (!link) {
      await applyAll(rtnl, [{ kind: 'link', write: 'create-vxlan', vxlan: { name: DEVICE, vni: OWNERSHIP.vxlanCableVni, port, local: privateIp, underlayIndex: underlay.ifindex, mtu } }]);
      link = (await rtnl.listLinks()).find((l) => l.name === DEVICE);
      if (!link) throw new Error(`the ${DEVICE} device was created but is not there`);
    }
    // Read and, where they differ, written on every repair: a write that failed once is tried again.
    for (const [key, value] of DEVICE_SYSCTLS) {
      if (await this.#options.sysctls.read(key) !== value) await this.#options.sysctls.write(key, value);
    }
    const writes: KernelWrite[] = [];
    if (link.mtu !== mtu) writes.push({ kind: 'link', write: 'set-mtu', index: link.index, mtu });
    if (!link.up) writes.push({ kind: 'link', write: 'set-up', index: link.index, up: true });
    const vtep = `${cableVtep(privateIp)}/8`;
    if (!addresses.some((a) => a.ifindex === link!.index && a.cidr === vtep)) writes.push({ kind: 'address', write: 'create', ifindex: link.index, cidr: vtep });
    await applyAll(rtnl, writes);
    return link.index;
  }

  /** Device, FDB, floor and routes for the cables as they are now. */
  async #kernel(): Promise<void> {
    const { rtnl } = this.#options;
    const plan = planVxlanCables([...this.#endpoints.values()]);
    await this.#options.floor.ensureFailClosed(this.#remoteSubnets());
    const index = await this.#device();
    const wanted = new Set(plan.fdbDestinations);
    const writes: KernelWrite[] = [];
    for (const entry of await rtnl.listFdb(index)) {
      if (entry.mac !== ALL_ZERO_MAC || entry.dst === undefined) continue;
      if (wanted.has(entry.dst)) wanted.delete(entry.dst);
      else writes.push({ kind: 'fdb', write: 'delete', entry: { ifindex: index, mac: ALL_ZERO_MAC, dst: entry.dst } });
    }
    for (const dst of wanted) writes.push({ kind: 'fdb', write: 'append', entry: { ifindex: index, mac: ALL_ZERO_MAC, dst } });
    await applyAll(rtnl, writes);
    const src = await this.#options.sourceAddress();
    await this.#options.routes.ensure(plan.routes.map((r) => ({ ...r, oif: index, ...(src ? { src } : {}) })));
  }

  #remoteSubnets(): string[] {
    return [...new Set([...[...this.#endpoints.values()].flatMap((e) => e.subnets), ...this.#held])].sort();
  }

  /** Makes the device, its FDB and routes whole again (someone deleted them, the underlay changed). */
  repair(): Promise<void> {
    return this.#serial(() => this.#kernel());
  }

  connect(endpoint: CableEndpoint): Promise<void> {
    return this.#serial(async () => {
      cableVtep(endpoint.privateIp); // a malformed remote fails here and touches nothing
      const previous = this.#endpoints.get(endpoint.cableName);
      if (previous && isDeepStrictEqual(previous, endpoint)) return;
      this.#endpoints.set(endpoint.cableName, endpoint);
      try {
        await this.#kernel();
        this.#since.set(endpoint.cableName, this.#since.get(endpoint.cableName) ?? this.#now());
        this.#lastErrors.delete(endpoint.cableName);
      } catch (error) {
        this.#lastErrors.set(endpoint.cableName, errorText(error));
        if (previous) this.#endpoints.set(endpoint.cableName, previous);
        else this.#endpoints.delete(endpoint.cableName);
        throw error;
      }
    });
  }

  disconnect(cableName: string): Promise<void> {
    return this.#serial(async () => {
      this.#endpoints.delete(cableName);
      this.#since.delete(cableName);
      this.#lastErrors.delete(cableName);
      await this.#kernel();
    });
  }

  holdSubnets(subnets: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      const next = [...new Set(subnets)].sort();
      if (isDeepStrictEqual(next, this.#held)) return;
      this.#held = next;
      await this.#options.floor.ensureFailClosed(this.#remoteSubnets());
    });
  }

  async status(): Promise<CableStatus[]> {
    return [...this.#endpoints.keys()].sort().map((name) => {
      const lastError = this.#lastErrors.get(name);
      const since = this.#since.get(name);
      return {
        cableName: name,
        state: since === undefined ? 'connecting' : 'connected',
        message: 'unencrypted VXLAN: no handshake; the health check proves the path',
        rxBytes: 0, txBytes: 0, bytesCounted: false,
        ...(since !== undefined ? { establishedAt: since } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    });
  }

  async waitConnected(cableName: string): Promise<void> {
    if (!this.#since.has(cableName)) throw new Error(`VXLAN cable ${cableName} is not in place${this.#lastErrors.has(cableName) ? `: ${this.#lastErrors.get(cableName)}` : ''}`);
  }

  /** The device gone (its FDB and routes with it); the floor stays for a restarted gateway. */
  async stop(): Promise<void> {
    await this.#serial(async () => {
      const link = (await this.#options.rtnl.listLinks()).find((l) => l.name === DEVICE);
      if (link) await applyAll(this.#options.rtnl, [{ kind: 'link', write: 'delete', index: link.index }]);
    });
  }
}
