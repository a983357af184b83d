import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Forwarder {
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (an ephemeral port) and pipes each connection to a unix socket: how the
 * root namespace reaches an API server that listens inside a lab namespace, without attaching
 * anything to the root namespace.
 */
export async function forwardLoopbackToUnix(socketPath: string, scheme: 'http' | 'https' = 'http'): Promise<Forwarder> {
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(socketPath);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('forwarder has no TCP address');
  return {
    url: `${scheme}://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
