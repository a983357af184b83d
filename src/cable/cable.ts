/**
 * A cable: the encrypted (or, for VXLAN, plain) connection from this cluster's gateway to one
 * remote cluster's gateway. IPsec, WireGuard and VXLAN implement the same interface, so the
 * gateway role drives them alike and reports their status alike (Submariner's Gateway status:
 * connected, connecting or error per remote Endpoint).
 */

import type { CableEndpoint } from '../model/cable-endpoint.ts';

export type { CableEndpoint };

export type CableState = 'connecting' | 'connected' | 'error';

export interface CableStatus {
  cableName: string;
  state: CableState;
  /** Why it is not connected, or what was left out (children dropped for want of a source address). */
  message: string;
  rxBytes: number;
  txBytes: number;
  /** False when the cable keeps no byte counters (VXLAN): rxBytes and txBytes mean nothing then. */
  bytesCounted?: boolean;
  /** Unix ms at which the current session (IKE SA, handshake) was established. */
  establishedAt?: number;
  /** The last error the daemon or the driver reported for this cable, kept after it recovers. */
  lastError?: string;
}

export interface Cable {
  readonly backend: 'ipsec' | 'wireguard' | 'vxlan';
  /** Brings the cable to `endpoint` up (or updates it when it exists): resolves when the daemon has the configuration, not when traffic flows. */
  connect(endpoint: CableEndpoint): Promise<void>;
  /**
   * Tears the cable down because its remote is no longer wanted: its subnets are no longer steered
   * to it. (A cable that is wanted but down drops its traffic instead: that is the fail-closed floor.)
   */
  disconnect(cableName: string): Promise<void>;
  /** Every cable's state from the daemon's own view (SAs, counters). */
  status(): Promise<CableStatus[]>;
}
