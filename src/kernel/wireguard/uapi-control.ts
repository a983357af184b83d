/**
 * WireguardControl over wireguard-go's UAPI socket: one short-lived connection per request (the
 * protocol is one request, one reply), each with a deadline, so a hung daemon fails the call
 * instead of the cable.
 */
import { createConnection } from 'node:net';
import type { WgDeviceChange, WgDeviceState, WireguardControl } from '../../model/wireguard-device.ts';
import { encodeUapiSet, parseUapiGet, UAPI_GET, UapiError, uapiReplyErrno } from './uapi-messages.ts';

export interface UapiControlOptions {
  socketPath: string;
  /** The device's public key from its private key (wireguard-go reports only the private one). */
  publicKeyOf(privateKey: Buffer): Buffer;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
/** A reply larger than this is not wireguard-go's (thousands of peers stay well below). */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

function exchange(socketPath: string, request: string, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let reply = '';
    let settled = false;
    const finish = (error: Error | undefined, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(text ?? '');
    };
    const timer = setTimeout(() => finish(new Error(`wireguard-go did not answer the ${what} on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('error', (error) => finish(new Error(`wireguard-go's UAPI socket ${socketPath}: ${error.message}`)));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.length > MAX_REPLY_BYTES) return finish(new Error(`wireguard-go's reply to the ${what} exceeds ${MAX_REPLY_BYTES} bytes`));
      try {
        const errno = uapiReplyErrno(reply);
        if (errno === undefined) return;
        finish(errno === 0 ? undefined : new UapiError(what, errno), reply);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on('close', () => finish(new Error(`wireguard-go closed its UAPI socket before answering the ${what}`)));
    socket.write(request);
  });
}

export function uapiWireguardControl(options: UapiControlOptions): WireguardControl {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    implementation: 'wireguard-go',
    async set(change: WgDeviceChange): Promise<void> {
      await exchange(options.socketPath, encodeUapiSet(change), 'configuration', timeoutMs);
    },
    async get(): Promise<WgDeviceState> {
      return parseUapiGet(await exchange(options.socketPath, UAPI_GET, 'status request', timeoutMs), options.publicKeyOf);
    },
  };
}
