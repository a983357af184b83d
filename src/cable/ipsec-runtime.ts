/**
 * The IPsec cable with everything it runs on, in start order: the ESP mode detected (logged and on
 * the metrics), charon's configuration generated, the VICI client, the cable, the service that
 * reloads it into every fresh charon and ticks (PSK, repair), then charon started under
 * supervision. The gateway role's main builds its logger, metrics and rtnetlink handle and calls
 * this; the VICI client and the supervisor belong to the charon started here, so they are made here.
 */
import { join } from 'node:path';
import { CharonSupervisor } from '../kernel/charon.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { detectEspMode } from '../kernel/esp-support.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { ViciClient, connectUnix } from '../kernel/vici/client.ts';
import { DEFAULT_IPSEC_SETTINGS, type IpsecLocal, type IpsecSettings } from '../plan/ipsec-connections.ts';
import type { EspMode } from '../plan/strongswan-conf.ts';
import { strongswanConf } from '../plan/strongswan-conf.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { IpsecCable } from './ipsec.ts';
import { ipsecKernel } from './ipsec-kernel.ts';
import { ipsecService } from './ipsec-service.ts';
import { readPskFile } from './psk-file.ts';

export interface IpsecRuntimeOptions {
  /** charon's configuration and VICI socket live here (created 0700). */
  stateDir: string;
  pskFile: string;
  local: Omit<IpsecLocal, 'addresses'>;
  /** Overrides of the IKE and ESP settings (DEFAULT_IPSEC_SETTINGS otherwise). */
  settings?: Partial<Omit<IpsecSettings, 'espMode'>>;
  rotationWindowMs: number;
  /** How often the PSK is read again and the cables repaired. */
  tickMs: number;
  /** charon's delete_rekeyed_delay (its default when absent). */
  deleteRekeyedDelayS?: number;
  log: Logger;
  metrics: Pick<Metrics, 'ipsecEspMode' | 'charonRestarts'>;
  rtnl: Rtnetlink;
}

export interface IpsecRuntime {
  cable: IpsecCable;
  espMode: EspMode;
  vici: ViciClient;
  supervisor: CharonSupervisor;
  /** Stops the ticks and charon (which deletes its SAs, routes and TUN device; seaway's blackholes stay). */
  stop(): Promise<void>;
}

export async function startIpsecRuntime(options: IpsecRuntimeOptions): Promise<IpsecRuntime> {
  const { log, metrics } = options;
  const esp = await detectEspMode();
  log.info({ espMode: esp.mode, reason: esp.reason }, 'ESP mode detected');
  metrics.ipsecEspMode.set({ mode: esp.mode }, 1);
  const viciSocketPath = join(options.stateDir, 'charon.vici');
  const vici = new ViciClient({ connect: connectUnix(viciSocketPath), logger: log });
  const cable = new IpsecCable({
    vici, kernel: ipsecKernel(options.rtnl), log, local: options.local,
    settings: { ...DEFAULT_IPSEC_SETTINGS, ...options.settings, espMode: esp.mode },
    readPsk: () => readPskFile(options.pskFile),
    rotationWindowMs: options.rotationWindowMs,
  });
  const service = ipsecService({ cable, tickMs: options.tickMs, log });
  const supervisor = new CharonSupervisor({
    stateDir: options.stateDir,
    conf: strongswanConf({
      espMode: esp.mode, viciSocketPath, natTPort: options.local.natTPort, routingTable: OWNERSHIP.charonTable, routingTablePriority: OWNERSHIP.charonRulePriority,
      ...(options.deleteRekeyedDelayS === undefined ? {} : { deleteRekeyedDelayS: options.deleteRekeyedDelayS }),
    }),
    viciSocketPath, logger: log,
    onStart: () => service.onCharonStart(),
    onRestart: () => metrics.charonRestarts.inc(),
  });
  try {
    await supervisor.start();
  } catch (error) {
    vici.close();
    throw error;
  }
  service.start();
  return {
    cable, espMode: esp.mode, vici, supervisor,
    async stop() {
      service.stop();
      await supervisor.stop();
      vici.close();
    },
  };
}
