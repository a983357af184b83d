/**
 * Waiting until a cable is connected, whatever its kind: its status is read until it says
 * connected, the deadline passes (an error saying what the status said last), or the cable is gone.
 * A daemon that does not answer (restarting) is waited out to the deadline like any other state.
 */
import { errorText } from '../model/error-text.ts';
import type { CableStatus } from './cable.ts';

export interface WaitConnectedOptions {
  /** `IPsec`, `WireGuard`: for the messages. */
  what: string;
  cableName: string;
  timeoutMs: number;
  status(): Promise<CableStatus[]>;
  /** Whether the cable is still wanted (a daemon's silence about an unwanted cable ends the wait). */
  known(): boolean;
  /** Resolves after at most `ms` (sooner when an event says something changed). */
  pause(ms: number): Promise<void>;
  now(): number;
}

export async function waitConnected(options: WaitConnectedOptions): Promise<void> {
  const { what, cableName, timeoutMs } = options;
  const deadline = options.now() + timeoutMs;
  for (;;) {
    let detail: string;
    try {
      const status = (await options.status()).find((s) => s.cableName === cableName);
      if (!status) throw new Error(`no ${what} cable ${cableName}`);
      if (status.state === 'connected') return;
      detail = status.message;
    } catch (error) {
      if (!options.known()) throw error;
      detail = `the daemon did not answer: ${errorText(error)}`;
    }
    const left = deadline - options.now();
    if (left <= 0) throw new Error(`${what} cable ${cableName} not connected after ${timeoutMs} ms: ${detail}`);
    await options.pause(left);
  }
}
