/**
 * Drives ipsec-gateway-child.ts inside a gateway namespace (through cable-child.ts): start it with
 * a config, send it commands, stop it (stdin closed: it stops charon and exits).
 */
import { fileURLToPath } from 'node:url';
import type { CableEndpoint, CableStatus } from '../../src/cable/cable.ts';
import { startCableChild } from './cable-child.ts';
import type { IpsecGatewayConfig } from './ipsec-gateway-child.ts';

/** One IKE SA as list-sas reports it (the fields the tests read). */
export interface SaEvent {
  uniqueid: string;
  state: string;
  'child-sas'?: Record<string, { name: string; uniqueid: string; state: string; 'spi-in': string; 'bytes-in': string; 'bytes-out': string }>;
}

const CHILD = fileURLToPath(new URL('./ipsec-gateway-child.ts', import.meta.url));

export interface IpsecGateway {
  espMode: string;
  connect(endpoint: CableEndpoint): Promise<void>;
  disconnect(cableName: string): Promise<void>;
  status(): Promise<CableStatus[]>;
  waitConnected(cableName: string, timeoutMs: number): Promise<void>;
  refreshKeys(): Promise<boolean>;
  info(): Promise<{ charonPid: number | undefined; restarts: number }>;
  reauthenticate(cableName: string): Promise<void>;
  /** Rekeys a child now (charon's make-before-break rekey, as its timer would). */
  rekeyChild(cableName: string, child: string): Promise<void>;
  /** The cable's metrics (Prometheus text), its status recorded first. */
  metrics(): Promise<string>;
  /** charon's SAs as list-sas streams them (one event per IKE SA). */
  sas(): Promise<Array<Record<string, SaEvent>>>;
  /** The ids of the shared keys charon holds. */
  sharedKeys(): Promise<string[]>;
  /** Closes stdin: the child stops charon (SIGTERM) and exits; resolves on its exit. */
  stop(): Promise<void>;
  /** What the child wrote on stderr (its log, as pino JSON lines). */
  log(): string;
}

export async function startIpsecGateway(ns: string, config: IpsecGatewayConfig, startTimeoutMs = 20_000): Promise<IpsecGateway> {
  const child = await startCableChild<{ espMode?: string }>(ns, CHILD, config.stateDir, config, startTimeoutMs);
  const { call } = child;
  return {
    espMode: child.ready.espMode ?? '',
    connect: (endpoint) => call({ op: 'connect', endpoint }),
    disconnect: (cableName) => call({ op: 'disconnect', cableName }),
    status: () => call({ op: 'status' }),
    waitConnected: (cableName, timeoutMs) => call({ op: 'wait-connected', cableName, timeoutMs }),
    refreshKeys: () => call({ op: 'refresh-keys' }),
    info: () => call({ op: 'info' }),
    reauthenticate: (cableName) => call({ op: 'reauthenticate', cableName }),
    rekeyChild: (cableName, child) => call({ op: 'rekey-child', cableName, child }),
    metrics: () => call({ op: 'metrics' }),
    sas: () => call({ op: 'sas' }),
    sharedKeys: () => call({ op: 'shared-keys' }),
    stop: () => child.stop(),
    log: () => child.log(),
  };
}
