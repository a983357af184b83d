/**
 * One ICMP echo exchange for `seaway diagnose` (the gateway's VTEP across vx-submariner, a remote
 * healthCheckIP through a tunnel), over the native addon's raw socket (kernel/icmp-socket.ts): a
 * few echoes spread over the deadline from a chosen source address, the first matching reply ends
 * it. The socket lives for the one probe.
 */
import { randomInt } from 'node:crypto';
import { errorText } from '../model/error-text.ts';
import type { EchoReply, IcmpSocket, IcmpSocketOptions } from './icmp-socket.ts';

export interface EchoProbeOptions {
  /** Opens the raw socket (openIcmpSocket with the loaded addon; a fake in unit tests). */
  open: (options: IcmpSocketOptions) => IcmpSocket;
  /** The local address the echoes leave from, which decides their route (the CNI address takes the tunnel). */
  source?: string;
  target: string;
  sends: number;
  timeoutMs: number;
  id?: number;
  now?: () => number;
}

export type EchoProbeResult = { replied: true; rttMs: number } | { replied: false; sends: number; waitedMs: number; error?: string };

export function echoProbe(options: EchoProbeOptions): Promise<EchoProbeResult> {
  const now = options.now ?? (() => performance.now());
  const id = options.id ?? randomInt(0, 0x10000);
  const start = now();
  return new Promise<EchoProbeResult>((resolve) => {
    let settled = false;
    let sent = 0;
    let failures = 0;
    let lastError: string | undefined;
    const timers: NodeJS.Timeout[] = [];
    let socket: IcmpSocket | undefined;
    const finish = (result: EchoProbeResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      socket?.close();
      resolve(result);
    };
    const onReplies = (batch: EchoReply[]) => {
      if (batch.some((r) => r.id === id && r.src === options.target)) finish({ replied: true, rttMs: now() - start });
    };
    try {
      socket = options.open({ ...(options.source ? { source: options.source } : {}), onReplies, onError: (error) => { lastError = errorText(error); } });
    } catch (error) {
      finish({ replied: false, sends: 0, waitedMs: 0, error: errorText(error) });
      return;
    }
    const sends = Math.max(1, options.sends);
    const send = (seq: number) => {
      if (settled) return;
      try {
        socket!.send(options.target, id, seq);
        sent++;
      } catch (error) {
        failures++;
        lastError = errorText(error);
        if (failures === sends) finish({ replied: false, sends: sent, waitedMs: Math.round(now() - start), error: lastError });
      }
    };
    for (let i = 0; i < sends; i++) timers.push(setTimeout(() => send(i + 1), Math.floor((i * options.timeoutMs) / sends)));
    timers.push(setTimeout(() => finish({ replied: false, sends: sent, waitedMs: options.timeoutMs, ...(lastError ? { error: lastError } : {}) }), options.timeoutMs));
  });
}
