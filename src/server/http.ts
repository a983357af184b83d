import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import type { Logger } from '../telemetry/logger.ts';
import type { Readiness } from './readiness.ts';
import type { Liveness } from './liveness.ts';

import type { ListenAddress } from '../config.ts';
export type { ListenAddress };

export interface HttpServerDeps {
  readiness: Readiness;
  liveness: Liveness;
  registry: Registry;
  logger: Logger;
  /** The per-object status document; served on /status only where given (the local status socket). */
  status?: () => unknown;
  /** This node's diagnosis (`seaway diagnose --all`), rate-limited and cached by its owner; served on /diagnose only where given. */
  diagnose?: () => Promise<{ status: number; body: string }>;
}

export interface RunningHttpServer {
  /** Bound addresses as URLs (`http://host:port`) or `unix:/path`. */
  addresses: string[];
  close(): Promise<void>;
}

export function handleRequest(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
  switch (path) {
    case '/healthz': {
      const stalled = deps.liveness.stalled();
      return stalled.length === 0 ? reply(res, 200, 'ok\n') : reply(res, 503, `stalled: ${stalled.join(', ')}\n`);
    }
    case '/readyz':
      return deps.readiness.ready ? reply(res, 200, 'ok\n') : reply(res, 503, `not ready\n${deps.readiness.reasons.join('\n')}\n`);
    case '/status':
      if (!deps.status) return reply(res, 404, 'not found\n');
      return reply(res, 200, `${JSON.stringify(deps.status())}\n`, 'application/json');
    case '/diagnose':
      if (!deps.diagnose) return reply(res, 404, 'not found\n');
      deps.diagnose().then(
        (answer) => reply(res, answer.status, answer.body, 'application/json'),
        (error: unknown) => {
          deps.logger.error({ err: error }, 'diagnosis failed');
          reply(res, 500, 'diagnosis failed\n');
        },
      );
      return;
    case '/metrics':
      deps.registry.metrics().then(
        (text) => reply(res, 200, text, deps.registry.contentType),
        (error: unknown) => {
          deps.logger.error({ err: error }, 'collecting metrics failed');
          reply(res, 500, 'metrics collection failed\n');
        },
      );
      return;
    default:
      return reply(res, 404, 'not found\n');
  }
}

function reply(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startHttpServer(listen: readonly ListenAddress[], deps: HttpServerDeps): Promise<RunningHttpServer> {
  const servers: Server[] = [];
  const addresses: string[] = [];
  try {
    for (const address of listen) {
      const server = createServer((req, res) => handleRequest(deps, req, res));
      servers.push(server);
      addresses.push(await listenOn(server, address));
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
  deps.logger.info({ addresses }, 'http server listening');
  return { addresses, close: () => Promise.all(servers.map(closeServer)).then(() => undefined) };
}

async function listenOn(server: Server, address: ListenAddress): Promise<string> {
  // A socket file left by a killed predecessor would make listen fail with EADDRINUSE.
  if (address.kind === 'unix') await rm(address.path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => { server.off('error', reject); resolve(); };
    if (address.kind === 'unix') server.listen(address.path, done);
    else server.listen(address.port, address.host, done);
  });
  const bound = server.address();
  if (address.kind === 'unix') return `unix:${address.path}`;
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
