/**
 * The Event recorder (src/k8s/event-recorder.ts) against the lab's API server through the route agent's own connection: a Warning
 * Event on the Endpoint with seaway as reporting component; a failing API server is logged, never thrown.
 * The Event's body alone (pure) is tested in test/unit/event-body.test.ts.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { createEventRecorder } from '../../src/k8s/event-recorder.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from '../lab/apiserver/server.ts';
import { connectionFor, kubeConfigFor } from '../lab/apiserver/test-support.ts';
import { sender } from '../../src/k8s/api-request.ts';

const ENDPOINT = { apiVersion: 'submariner.io/v1', kind: 'Endpoint', name: 'cluster2-cable', namespace: 'submariner-operator', uid: 'u-1', resourceVersion: '7' };

describe('Kubernetes Event recorder', () => {
  let server: RunningApiServer;
  const logLines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', new Writable({ write(chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done(); } }));

  before(async () => { server = await startApiServer({ port: 0 }); });
  after(async () => { await server.close(); });

  it('posts the Event; the real client finds it by involvedObject', async () => {
    const kc = kubeConfigFor(server.url);
    const recorder = createEventRecorder(sender(connectionFor(server.url)), { component: 'seaway', host: 'node-1', logger });
    recorder.warning(ENDPOINT, 'EndpointRejected', 'too-broad: spec.subnets[0]: 10.0.0.0/7 is broader than the allowed /8');
    await recorder.flush();
    const events = (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'submariner-operator', fieldSelector: 'involvedObject.name=cluster2-cable' })).items;
    assert.equal(events.length, 1);
    assert.equal(events[0]?.reason, 'EndpointRejected');
    assert.equal(events[0]?.involvedObject.uid, 'u-1');
    assert.match(events[0]?.message ?? '', /^too-broad: /);
  });

  it('a failing API server is logged and counted, never thrown', async () => {
    let errors = 0;
    const recorder = createEventRecorder(sender(connectionFor(server.url)), { component: 'seaway', host: 'node-1', logger, onError: () => { errors += 1; } });
    await new AdminClient(server.url).failNext(1, 500, { verb: 'create' });
    assert.doesNotThrow(() => recorder.warning(ENDPOINT, 'DuplicateEndpoint', 'newer one exists'));
    await recorder.flush();
    assert.equal(errors, 1);
    assert.ok(logLines.some((l) => l.msg === 'could not post Kubernetes Event' && l.reason === 'DuplicateEndpoint'), JSON.stringify(logLines));
  });
});
