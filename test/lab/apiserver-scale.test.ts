import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { startApiServer } from './apiserver/server.ts';
import { waitFor } from './apiserver/test-support.ts';

const collection = '/apis/submariner.io/v1/namespaces/submariner-operator/endpoints';

/** 1,000 remote clusters with 10 subnets each, as in the benchmark the lab will run. */
test('10,000 endpoints: every watcher gets every event once, in order; lists and selectors see them all', async () => {
  const server = await startApiServer();
  const url = new URL(server.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const call = (method: string, path: string, body?: unknown) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject).end(body === undefined ? undefined : JSON.stringify(body));
  });
  const watchers = Array.from({ length: 8 }, (_, i) => {
    const seen = { count: 0, lastVersion: 0, ordered: true, buffer: '' };
    const selector = i % 2 === 0 ? '' : `&labelSelector=${encodeURIComponent('shard=3')}`;
    const req = request({ host: url.hostname, port: url.port, path: `${collection}?watch=true${selector}` }, (res) => {
      res.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (seen.buffer + chunk).split('\n');
        seen.buffer = lines.pop() ?? '';
        for (const line of lines) {
          const event = JSON.parse(line) as { type: string; object: { metadata: { resourceVersion: string } } };
          const version = Number(event.object.metadata.resourceVersion);
          if (event.type !== 'ADDED' || version <= seen.lastVersion) seen.ordered = false;
          seen.lastVersion = version;
          seen.count++;
        }
      });
    });
    req.on('error', () => {}).end();
    return { seen, req, expected: selector ? 1000 : 10_000 };
  });
  try {
    const total = 10_000;
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < total) {
        const i = next++;
        const subnets = Array.from({ length: 10 }, (_, k) => `10.${Math.floor(i / 250)}.${(i % 250)}.${k * 16}/28`);
        const body = { apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: `cluster-${i}`, labels: { shard: String(i % 10) } },
          spec: { cluster_id: `cluster-${i}`, cable_name: `cable-${i}`, hostname: 'gw', subnets, private_ip: '192.0.2.1', backend: 'libreswan', nat_enabled: false } };
        const { status, text } = await call('POST', collection, body);
        if (status !== 201) throw new Error(`create ${i}: ${status} ${text}`);
      }
    }));
    await waitFor('every watcher to receive its events', () => watchers.every((w) => w.seen.count >= w.expected), 20_000);
    for (const w of watchers) {
      assert.equal(w.seen.count, w.expected);
      assert.ok(w.seen.ordered, 'ADDED events with increasing resourceVersions');
    }
    const list = JSON.parse((await call('GET', collection)).text) as { items: unknown[]; metadata: { resourceVersion: string } };
    assert.equal(list.items.length, total);
    const shard = JSON.parse((await call('GET', `${collection}?labelSelector=shard%3D7`)).text) as { items: unknown[] };
    assert.equal(shard.items.length, 1000);
    const one = JSON.parse((await call('GET', `/apis/submariner.io/v1/endpoints?fieldSelector=metadata.name%3Dcluster-4242`)).text) as { items: Array<{ spec: { subnets: string[] } }> };
    assert.equal(one.items[0]?.spec.subnets.length, 10);
  } finally {
    for (const w of watchers) w.req.destroy();
    agent.destroy();
    await server.close();
  }
});
