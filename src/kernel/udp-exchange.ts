/**
 * One UDP question and its answer, for `seaway diagnose`'s port probes (NAT discovery on 4490, IKE
 * on 4500): a fresh socket on an ephemeral port, the datagram sent a few times within the deadline
 * (one lost datagram must not read as a blocked port), and the first datagram the caller accepts as
 * the answer. The socket is not connected: a NATed remote may answer from another address than the
 * one asked (the caller's `accept` decides what counts), and nothing else is ever awaited.
 */
import { createSocket } from 'node:dgram';
import type { DatagramSocket } from './udp.ts';
import { errorText } from '../model/error-text.ts';

/** A node:dgram socket as far as the exchange uses it (a fake in unit tests). */
export interface ExchangeSocket extends DatagramSocket {
  address(): { address: string; port: number };
}

export interface UdpExchangeOptions {
  target: string;
  port: number;
  /** The datagram, made once the socket is bound (a request may name its own source port). */
  payload: (local: { port: number }) => Buffer;
  /** Whether a datagram is the answer. */
  accept: (message: Buffer, from: { address: string; port: number }) => boolean;
  /** Sends in all, spread evenly over the deadline. */
  sends: number;
  timeoutMs: number;
  createSocket?: () => ExchangeSocket;
  now?: () => number;
}

export type UdpExchangeResult =
  | { answered: true; message: Buffer; from: { address: string; port: number }; rttMs: number; sends: number }
  /** Silence until the deadline; `rejected` counts datagrams that came but were not the answer; `error` when no send went out. */
  | { answered: false; sends: number; waitedMs: number; rejected: number; lastRejected?: Buffer; error?: string };

export function udpExchange(options: UdpExchangeOptions): Promise<UdpExchangeResult> {
  const now = options.now ?? (() => performance.now());
  const socket = (options.createSocket ?? (() => createSocket('udp4') as unknown as ExchangeSocket))();
  const start = now();
  return new Promise<UdpExchangeResult>((resolve) => {
    let settled = false;
    let sent = 0;
    let sendErrors = 0;
    let lastError: string | undefined;
    let rejected = 0;
    let lastRejected: Buffer | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (result: UdpExchangeResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      try { socket.close(() => undefined); } catch { /* already closed */ }
      resolve(result);
    };
    socket.on('error', (error) => {
      lastError = errorText(error);
      if (sent === 0) finish({ answered: false, sends: 0, waitedMs: Math.round(now() - start), rejected, error: lastError });
    });
    socket.on('message', (message, from) => {
      if (settled) return;
      if (options.accept(message, from)) finish({ answered: true, message, from, rttMs: now() - start, sends: sent });
      else { rejected++; lastRejected = message; }
    });
    socket.bind(0, undefined, () => {
      let payload: Buffer;
      try {
        payload = options.payload({ port: socket.address().port });
      } catch (error) {
        finish({ answered: false, sends: 0, waitedMs: 0, rejected, error: errorText(error) });
        return;
      }
      const sends = Math.max(1, options.sends);
      const send = () => {
        if (settled) return;
        sent++;
        socket.send(payload, options.port, options.target, (error) => {
          if (!error) return;
          sendErrors++;
          lastError = errorText(error);
          // Every send refused locally (no route, EPERM from a local firewall): that is the answer.
          if (sendErrors === sends) finish({ answered: false, sends: sent, waitedMs: Math.round(now() - start), rejected, error: lastError });
        });
      };
      for (let i = 0; i < sends; i++) timers.push(setTimeout(send, Math.floor((i * options.timeoutMs) / sends)));
      timers.push(setTimeout(() => finish({
        answered: false, sends: sent, waitedMs: options.timeoutMs, rejected, ...(lastRejected ? { lastRejected } : {}), ...(lastError ? { error: lastError } : {}),
      }), options.timeoutMs));
    });
  });
}
