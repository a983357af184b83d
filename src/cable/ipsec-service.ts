/**
 * The IPsec cable's life around charon: every time the supervised daemon takes VICI connections
 * (first start or a restart after it died) the cable loads its keys and connections again; the PSK
 * file is re-read on an interval, so a rotated Secret is picked up, and the previous key is dropped
 * when its window ends. Errors are logged and retried on the next tick, never fatal: the cable keeps
 * what charon has (fail static).
 */
import type { Logger } from '../telemetry/logger.ts';
import type { IpsecCable } from './ipsec.ts';

export interface IpsecServiceOptions {
  cable: IpsecCable;
  /** How often the PSK file is read again (ms). */
  pskPollMs: number;
  log: Logger;
}

export interface IpsecService {
  /** For the supervisor's onStart: reloads everything into a fresh charon. */
  onCharonStart(): Promise<void>;
  /** Starts the PSK poll. */
  start(): void;
  stop(): void;
}

export function ipsecService({ cable, pskPollMs, log }: IpsecServiceOptions): IpsecService {
  let poll: NodeJS.Timeout | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      if (await cable.refreshKeys()) log.info({ rotationEndsAt: cable.rotationEndsAt }, 'IPsec PSK changed: the new key is in use, the previous one accepted until the window ends');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'reading the IPsec PSK failed; the keys charon has stay in use');
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
      poll ??= setInterval(() => { void tick(); }, pskPollMs);
      poll.unref();
    },
    stop() {
      if (poll) clearInterval(poll);
      poll = undefined;
    },
  };
}
