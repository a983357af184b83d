/**
 * The IPsec cable's life around charon: every time the supervised daemon takes VICI connections
 * (first start or a restart after it died) the cable loads its keys and connections again. On a
 * tick, the PSK file is read again (a rotated Secret is picked up, the previous key dropped when its
 * window ends), a reload that did not go through is tried again, and children charon lost and did
 * not restart itself are initiated. Errors are logged and tried again on the next tick, never fatal:
 * the cable keeps what charon has (fail static).
 */
import type { Logger } from '../telemetry/logger.ts';
import type { IpsecCable } from './ipsec.ts';
import { errorText } from '../model/error-text.ts';

export interface IpsecServiceOptions {
  cable: IpsecCable;
  /** How often the PSK file is read again and the cables repaired (ms). */
  tickMs: number;
  log: Logger;
}

export interface IpsecService {
  /** For the supervisor's onStart: reloads everything into a fresh charon. */
  onCharonStart(): Promise<void>;
  /** Starts the ticks. */
  start(): void;
  stop(): void;
}

export function ipsecService({ cable, tickMs, log }: IpsecServiceOptions): IpsecService {
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      if (await cable.refreshKeys()) log.info({ rotationEndsAt: cable.rotationEndsAt }, 'IPsec PSK changed: the new key is in use, the previous one accepted until the window ends');
    } catch (error) {
      log.error({ err: errorText(error) }, 'reading or loading the IPsec PSK failed; the keys charon has stay in use');
    }
    try {
      await cable.repair();
    } catch (error) {
      log.error({ err: errorText(error) }, 'repairing the IPsec cables failed; tried again on the next tick');
    } finally {
      busy = false;
    }
  };
  return {
    async onCharonStart() {
      await cable.reload();
      log.info('charon ready: IPsec keys and connections loaded');
    },
    start() {
      timer ??= setInterval(() => { void tick(); }, tickMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
