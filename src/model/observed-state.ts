/**
 * What the drivers read back from the kernel, mirroring desired-state.ts. Drivers report only objects
 * that carry seaway's markers (route protocol, table, rule priority, link name), so everything here is
 * seaway's to change or delete.
 */

export interface ObservedVxlanLink {
  name: string;
  /** rtnetlink link kind; anything but "vxlan" under seaway's link name must be recreated. */
  kind: string;
  vni?: number;
  port?: number;
  mtu: number;
  local?: string;
  remote?: string;
  underlayDevice?: string;
  /** IPv4 addresses with prefix, e.g. "240.1.2.3/8". Other families are ignored by the diff. */
  addresses: string[];
  up: boolean;
}

export interface ObservedRoute {
  table: number;
  dst: string;
  gateway?: string;
  dev: string;
  src?: string;
}

export interface ObservedRule {
  priority: number;
  table: number;
}

export interface ObservedFdbEntry {
  dev: string;
  mac: string;
  dst: string;
}

/**
 * Current values of the sysctls seaway wants (keys that do not exist yet, e.g. for a link not yet
 * created, are left out) plus those it set earlier and no longer wants, so they can be restored.
 */
export interface ObservedSysctl {
  key: string;
  value: string;
}

export interface ObservedState {
  links: ObservedVxlanLink[];
  routes: ObservedRoute[];
  rules: ObservedRule[];
  fdb: ObservedFdbEntry[];
  sysctls: ObservedSysctl[];
}

export const EMPTY_OBSERVED_STATE: ObservedState = Object.freeze({
  links: [], routes: [], rules: [], fdb: [], sysctls: [],
}) as ObservedState;
