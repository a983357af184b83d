/**
 * The Event recorder's deadline against a local HTTP server that accepts the POST and never
 * answers: the post is aborted, the failure logged and counted, and flush() returns.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { connectionFromSpec, type ApiConnection } from '../../src/k8s/api-connection.ts';
import { sender } from '../../src/k8s/api-request.ts';
import { createEventRecorder } from '../../src/k8s/event-recorder.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { waitFor } from '../helpers/wait.ts';

const ENDPOINT = { apiVersion: 'submariner.io/v1', kind: 'Endpoint', name: 'cluster2-cable', namespace: 'submariner-operator', uid: 'u-1', resourceVersion: '7' };

describe('Event recorder deadline', () => {
  let server: Server;
  const received: IncomingMessage[] = [];
  let connection: ApiConnection;

  before(async () => {
    // Reads the request and never answers, like an API server in a brownout.
    server = createServer((request) => { received.push(request); request.resume(); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    connection = connectionFromSpec({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecureSkipTlsVerify: true, token: 'not-a-secret' }, (path) => readFileSync(path));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('flush() returns although the API server never answers; the failure is logged and counted', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('info', new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
    let errors = 0;
    const recorder = createEventRecorder(sender(connection), { component: 'seaway', host: 'node-1', logger, onError: () => { errors += 1; }, timeoutMs: 200 });
    recorder.warning(ENDPOINT, 'EndpointRejected', 'first');
    recorder.warning(ENDPOINT, 'EndpointRejected', 'second');
    await recorder.flush();
    assert.equal(errors, 2);
    assert.equal(received.length, 2, 'both posts reached the server');
    assert.equal(received[0]!.method, 'POST');
    const logged = lines.filter((l) => l.msg === 'could not post Kubernetes Event');
    assert.equal(logged.length, 2, JSON.stringify(lines));
    assert.match(String(logged[0]!.err), /within 200 ms/);
    // The deadline aborted the HTTP requests themselves, not only the wait for them.
    await waitFor('the client closes its connections', () => received.every((r) => r.socket.destroyed));
  });
});
