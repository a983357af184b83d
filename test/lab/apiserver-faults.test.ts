/** The lab API server's injected slowness (an overloaded server): matching requests are served late, others at once, until cleared. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Faults } from './apiserver/faults.ts';

const request = (verb: string, path: string) => ({ method: verb === 'list' ? 'GET' : verb.toUpperCase(), verb, path });

async function elapsed(faults: Faults, verb: string, path: string): Promise<number> {
  const start = performance.now();
  await faults.gate(request(verb, path));
  return performance.now() - start;
}

describe('Faults.slow', () => {
  it('delays matching requests by at least the latency', async () => {
    const faults = new Faults();
    faults.slow(200, { verb: 'delete' });
    assert.equal(faults.state().latencyMs, 200);
    assert.ok(await elapsed(faults, 'delete', '/apis/apps/v1/namespaces/x/daemonsets/y') >= 195, 'a matching request waits');
  });

  // A minute of latency: were these requests delayed, the test would hang (and time out) instead of passing.
  it('serves other requests at once, and every request once cleared', { timeout: 30_000 }, async () => {
    const faults = new Faults();
    faults.slow(60_000, { verb: 'delete' });
    await faults.gate(request('list', '/api/v1/pods'));
    faults.slow(0);
    assert.equal(faults.state().latencyMs, 0);
    await faults.gate(request('delete', '/apis/apps/v1/namespaces/x/daemonsets/y'));
  });

  it('shutdown clears it', () => {
    const faults = new Faults();
    faults.slow(1000);
    faults.shutdown();
    assert.equal(faults.state().latencyMs, 0);
  });
});
