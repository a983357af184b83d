import type { ListenAddress } from '../config.ts';
import { startHttpServer, type HttpServerDeps } from '../server/http.ts';
import type { RunStep } from './startup-steps.ts';

export const HTTP_LISTEN = 'http-listen';

export function listenAddressText(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/**
 * One server per listen address, each retried on its own: a port held by another process delays
 * only that address, while the agent programs the node (which matters more than its metrics) and
 * the other addresses serve. Each address is a readiness condition until it listens, so a rollout
 * stops on a node where the new agent cannot bind its port.
 */
export function startHttpListeners(listen: readonly ListenAddress[], server: HttpServerDeps, runStep: RunStep): Promise<void> {
  return Promise.all(listen.map((address) => {
    const text = listenAddressText(address);
    return runStep({
      name: `${HTTP_LISTEN} ${text}`,
      what: `listening on ${text}`,
      attempt: () => startHttpServer([address], server),
      close: (running) => running.close(),
    });
  })).then(() => undefined);
}
