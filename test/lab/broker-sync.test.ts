/**
 * The broker sync (src/k8s/broker-sync.ts) between two lab API servers through the real
 * @kubernetes/client-node: the cluster's API server with the gateway's token (manifests/03-rbac-gateway.yaml)
 * and the broker with the cluster's `cluster-east` token (manifests/broker/rbac.yaml), so the
 * manifests' RBAC is proven sufficient. The broker is reached through a TCP relay the test can
 * cut and restore on the same port, as a partition or a broker restart looks to the gateway.
 * Objects of other clusters are made through the broker's trusted socket (the lab's administrator).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { clientBrokerSyncApi, clientSyncSide, createBrokerSync, type BrokerSync, type BrokerSyncReport } from '../../src/k8s/broker-sync.ts';
import { ApiRateLimiter } from '../../src/k8s/rate-limiter.ts';
import { systemClock } from '../../src/k8s/clock.ts';
import { CLUSTER_ID_LABEL, REFRESHED_AT_ANNOTATION, type DroppedObject } from '../../src/plan/broker-sync.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { waitFor } from '../helpers/wait.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { kubeConfigWithToken, endpointSpec } from './apiserver/test-support.ts';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { httpUnix } from './http-unix.ts';
import { applyManifestFile, applyManifests, BROKER_NAMESPACE, BROKER_RBAC, brokerClusterAccess, GATEWAY_ACCOUNT, GATEWAY_RBAC } from './manifests.ts';

// A namespace of its own: the relay is cut and restored on one loopback port, which a test file
// running beside this one could otherwise be given meanwhile (and the sync would talk to its server).
await runInsideNetns(import.meta.url, 'bsync');

const NS = 'submariner-operator';
const API = '/apis/submariner.io/v1';
const LOCAL_USER = `system:serviceaccount:${GATEWAY_ACCOUNT.namespace}:${GATEWAY_ACCOUNT.name}`;
const BROKER_USER = `system:serviceaccount:${BROKER_NAMESPACE}:cluster-east`;
/** Short timers: a refresh every second (the annotation's granularity), stale after 2.5 s. */
const SETTINGS = {
  clusterId: 'east', localNamespace: NS, brokerNamespace: BROKER_NAMESPACE,
  refreshIntervalMs: 1000, staleAfterMs: 2500, resyncMs: 1500, minPassIntervalMs: 20,
  retry: { minMs: 50, maxMs: 400 },
  informer: { backoff: { minMs: 50, maxMs: 300 }, watchTimeoutSeconds: 60 },
};

type Kind = 'endpoints' | 'clusters';
type Json = Record<string, unknown>;

/** A TCP relay on a fixed loopback port to a server URL; `cut` destroys every connection and stops listening, `restore` listens again. */
interface Relay { url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }

async function relayTo(target: string, startOpen = true): Promise<Relay> {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(Number(targetPort), hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => {}).on('close', () => { client.destroy(); upstream.destroy(); sockets.delete(socket); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as { port: number }).port;
    server = s;
  };
  const cut = async () => {
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  if (!startOpen) await cut();
  return { get url() { return `http://127.0.0.1:${port}`; }, cut, restore: listen, close: cut };
}


function endpoint(clusterId: string, namespace: string, options: { label?: string; labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Json } = {}): Json {
  const spec = options.spec ?? endpointSpec(clusterId);
  const labels = { ...options.labels, ...(options.label ? { [CLUSTER_ID_LABEL]: options.label } : {}) };
  return {
    apiVersion: 'submariner.io/v1', kind: 'Endpoint',
    metadata: { name: `${clusterId}-${String(spec.cable_name)}`, namespace, labels, annotations: { ...options.annotations } },
    spec,
  };
}

function cluster(clusterId: string, namespace: string, options: { label?: string; annotations?: Record<string, string> } = {}): Json {
  return {
    apiVersion: 'submariner.io/v1', kind: 'Cluster',
    metadata: { name: clusterId, namespace, labels: options.label ? { [CLUSTER_ID_LABEL]: options.label } : {}, annotations: { ...options.annotations } },
    spec: { cluster_id: clusterId, cluster_cidr: ['10.1.0.0/16'], service_cidr: ['10.96.0.0/16'], global_cidr: [], color_codes: ['blue'] },
  };
}

const nameOf = (o: Json) => (o.metadata as { name: string }).name;
const nowSeconds = () => String(Math.floor(Date.now() / 1000));

/** The lab's administrator on one server (its trusted unix socket). */
class Admin {
  readonly socket: string;
  readonly faults: AdminClient;
  constructor(server: RunningApiServer) {
    this.socket = server.socketPath!;
    this.faults = new AdminClient({ socketPath: this.socket });
  }

  async create(kind: Kind, object: Json): Promise<Json> {
    const namespace = (object.metadata as { namespace: string }).namespace;
    const response = await httpUnix(this.socket, `${API}/namespaces/${namespace}/${kind}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(object),
    });
    assert.equal(response.status, 201, `creating ${kind} ${nameOf(object)}: ${response.body}`);
    return JSON.parse(response.body) as Json;
  }

  async get(kind: Kind, namespace: string, name: string): Promise<Json | undefined> {
    const response = await httpUnix(this.socket, `${API}/namespaces/${namespace}/${kind}/${name}`);
    if (response.status === 404) return undefined;
    assert.equal(response.status, 200, response.body);
    return JSON.parse(response.body) as Json;
  }

  async names(kind: Kind, namespace: string): Promise<string[]> {
    const response = await httpUnix(this.socket, `${API}/namespaces/${namespace}/${kind}`);
    assert.equal(response.status, 200, response.body);
    return ((JSON.parse(response.body) as { items: Json[] }).items.map(nameOf)).sort();
  }

  /** A read-modify-write of the object as the API server holds it. */
  async edit(kind: Kind, namespace: string, name: string, change: (object: Json) => void): Promise<Json> {
    const object = await this.get(kind, namespace, name);
    assert.ok(object, `${kind} ${namespace}/${name} exists`);
    change(object);
    const response = await httpUnix(this.socket, `${API}/namespaces/${namespace}/${kind}/${name}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(object),
    });
    assert.equal(response.status, 200, response.body);
    return JSON.parse(response.body) as Json;
  }

  async remove(kind: Kind, namespace: string, name: string): Promise<void> {
    const response = await httpUnix(this.socket, `${API}/namespaces/${namespace}/${kind}/${name}`, { method: 'DELETE' });
    assert.equal(response.status, 200, response.body);
  }
}

interface World {
  local: Admin;
  broker: Admin;
  relay: Relay;
  localKubeConfig: KubeConfig;
  brokerKubeConfig: KubeConfig;
  /** Starts the sync (once); the test's cleanup stops it. */
  startSync(): BrokerSync;
  reports: BrokerSyncReport[];
  dropped: DroppedObject[];
  /** Informers failing now. */
  failing: Set<string>;
  lines: Array<Record<string, unknown>>;
}

/** Two lab API servers with the project's RBAC, tokens for the gateway and for cluster-east, a relay to the broker. */
async function world(t: TestContext, options: { relayOpen?: boolean; requestTimeoutMs?: number } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-broker-sync-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => { for (const cleanup of cleanups.reverse()) await cleanup(); });
  const localServer = await startApiServer({ socketPath: join(dir, 'local.sock'), access: {} });
  cleanups.push(() => localServer.close());
  const brokerServer = await startApiServer({ socketPath: join(dir, 'broker.sock'), access: {} });
  cleanups.push(() => brokerServer.close());
  await applyManifestFile(localServer.socketPath!, GATEWAY_RBAC);
  await applyManifestFile(brokerServer.socketPath!, BROKER_RBAC);
  await applyManifests(brokerServer.socketPath!, brokerClusterAccess('east').manifests, 'cluster-east access');
  const local = new Admin(localServer);
  const broker = new Admin(brokerServer);
  const localToken = await local.faults.token({ serviceAccount: GATEWAY_ACCOUNT });
  const brokerToken = await broker.faults.token({ serviceAccount: brokerClusterAccess('east').account });
  const relay = await relayTo(brokerServer.url, options.relayOpen ?? true);
  cleanups.push(() => relay.close());
  const localKubeConfig = kubeConfigWithToken(localServer.url, localToken);
  const brokerKubeConfig = kubeConfigWithToken(relay.url, brokerToken);
  const reports: BrokerSyncReport[] = [];
  const dropped: DroppedObject[] = [];
  const failing = new Set<string>();
  const { logger, lines } = captureLogger();
  let sync: BrokerSync | undefined;
  return {
    local, broker, relay, localKubeConfig, brokerKubeConfig, reports, dropped, failing, lines,
    startSync() {
      if (sync) return sync;
      const api = clientBrokerSyncApi({ local: localKubeConfig, broker: brokerKubeConfig }, { local: NS, broker: BROKER_NAMESPACE },
        { requestTimeoutMs: options.requestTimeoutMs ?? 2000, userAgent: 'seaway-test/broker-sync', fieldManager: 'seaway-broker-sync' });
      sync = createBrokerSync(api, SETTINGS, {
        logger, metrics: createMetrics({ defaultMetrics: false }), limiter: new ApiRateLimiter({ qps: 500, burst: 500 }, systemClock),
        onReport: (report) => reports.push(report),
        onDropped: (d) => dropped.push(d),
        onHealth: (name, cause) => { if (cause === null) failing.delete(name); else failing.add(name); },
      });
      const started = sync;
      cleanups.push(() => started.stop());
      started.start();
      return started;
    },
  };
}

/** Every request of the sync's users on both servers succeeded or failed only as races do (404, 409): none refused by RBAC. */
async function assertRbacSufficed(w: World): Promise<void> {
  for (const [admin, user] of [[w.local, LOCAL_USER], [w.broker, BROKER_USER]] as const) {
    const entries = (await admin.faults.requests()).entries.filter((e) => e.userAgent === 'seaway-test/broker-sync');
    assert.ok(entries.length > 0, `the sync sent requests to ${user}'s server`);
    assert.deepEqual(entries.filter((e) => e.user !== user), [], `every request as ${user}`);
    assert.deepEqual(entries.filter((e) => e.code === 401 || e.code === 403 || e.decision === 'forbid'), [], 'none refused');
  }
}

test('initial reconcile both ways: originals pushed with the label, others imported with theirs, foreign-labelled and own-labelled objects not crossed', async (t) => {
  const w = await world(t);
  await w.local.create('endpoints', endpoint('east', NS, { labels: { app: 'gateway' }, annotations: { note: 'from east' } }));
  await w.local.create('clusters', cluster('east', NS));
  // A local copy of north's Endpoint, older than the broker's: it is not pushed, it is brought up to date.
  await w.local.create('endpoints', endpoint('north', NS, { label: 'north', spec: endpointSpec('north', { hostname: 'old' }) }));
  const northOnBroker = await w.broker.create('endpoints', endpoint('north', BROKER_NAMESPACE, { label: 'north' }));
  await w.broker.create('endpoints', endpoint('west', BROKER_NAMESPACE, { label: 'west', annotations: { [REFRESHED_AT_ANNOTATION]: nowSeconds(), note: 'w' } }));
  await w.broker.create('clusters', cluster('west', BROKER_NAMESPACE, { label: 'west' }));
  // Labelled with our own id but with no original here: never imported (and deleted from the broker as stale).
  await w.broker.create('endpoints', endpoint('east', BROKER_NAMESPACE, { label: 'east', spec: endpointSpec('east', { cable_name: 'old-cable' }) }));
  // No label at all: left alone, as Submariner does.
  await w.broker.create('clusters', cluster('stray', BROKER_NAMESPACE));

  w.startSync();
  const pushed = await waitFor('east\'s Endpoint on the broker', () => w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'));
  const pushedMeta = pushed.metadata as { labels: Json; annotations: Json; namespace: string };
  assert.deepEqual(pushedMeta.labels, { app: 'gateway', [CLUSTER_ID_LABEL]: 'east' });
  assert.equal(pushedMeta.annotations.note, 'from east');
  assert.match(String(pushedMeta.annotations[REFRESHED_AT_ANNOTATION]), /^\d+$/);
  assert.deepEqual(pushed.spec, endpointSpec('east'));
  const pushedCluster = await waitFor('east\'s Cluster on the broker', () => w.broker.get('clusters', BROKER_NAMESPACE, 'east'));
  assert.equal((pushedCluster.metadata as { labels: Json }).labels[CLUSTER_ID_LABEL], 'east');

  const imported = await waitFor('west\'s Endpoint imported', () => w.local.get('endpoints', NS, 'west-submariner-cable-west'));
  const importedMeta = imported.metadata as { labels: Json; annotations: Json };
  assert.deepEqual(importedMeta.labels, { [CLUSTER_ID_LABEL]: 'west' });
  assert.deepEqual(importedMeta.annotations, { note: 'w' }, 'the refreshed-at stamp stays on the broker');
  await waitFor('west\'s Cluster imported', () => w.local.get('clusters', NS, 'west'));
  await waitFor('the local copy of north brought up to date', async () => ((await w.local.get('endpoints', NS, 'north-submariner-cable-north'))?.spec as Json | undefined)?.hostname === 'gw-1');
  await waitFor('the own-labelled broker object without an original deleted', async () => !(await w.broker.names('endpoints', BROKER_NAMESPACE)).includes('east-old-cable'));

  // Settled: one more pass changes nothing.
  const settledAt = w.reports.length;
  await waitFor('another pass', () => w.reports.length > settledAt + 1, { timeoutMs: 5000 });
  assert.deepEqual(await w.local.names('endpoints', NS), ['east-submariner-cable-east', 'north-submariner-cable-north', 'west-submariner-cable-west']);
  assert.deepEqual(await w.local.names('clusters', NS), ['east', 'west']);
  assert.deepEqual(await w.broker.names('endpoints', BROKER_NAMESPACE), ['east-submariner-cable-east', 'north-submariner-cable-north', 'west-submariner-cable-west']);
  assert.deepEqual(await w.broker.names('clusters', BROKER_NAMESPACE), ['east', 'stray', 'west']);
  const northNow = await w.broker.get('endpoints', BROKER_NAMESPACE, 'north-submariner-cable-north');
  assert.equal((northNow!.metadata as { resourceVersion: string }).resourceVersion, (northOnBroker.metadata as { resourceVersion: string }).resourceVersion, 'north\'s broker object untouched');
  const localCreates = (await w.local.faults.requests()).entries.filter((e) => e.method === 'POST' && e.path.includes('/endpoints'));
  assert.ok(!localCreates.some((e) => e.userAgent === 'seaway-test/broker-sync' && e.path.includes('east-old')), 'the own-labelled object never created locally');
  await assertRbacSufficed(w);
});

test('a stale local copy (its cluster gone from the broker) is deleted at start; a deletion on either side then propagates', async (t) => {
  const w = await world(t);
  await w.local.create('endpoints', endpoint('east', NS));
  await w.local.create('endpoints', endpoint('gone', NS, { label: 'gone' }));
  await w.local.create('clusters', cluster('gone', NS, { label: 'gone' }));
  await w.broker.create('endpoints', endpoint('west', BROKER_NAMESPACE, { label: 'west' }));
  w.startSync();
  await waitFor('the stale copies deleted', async () => (await w.local.names('endpoints', NS)).join() === 'east-submariner-cable-east,west-submariner-cable-west'
    && (await w.local.names('clusters', NS)).length === 0);
  await waitFor('east pushed', () => w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'));

  await w.local.remove('endpoints', NS, 'east-submariner-cable-east');
  await waitFor('the broker copy deleted', async () => (await w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east')) === undefined);
  await w.broker.remove('endpoints', BROKER_NAMESPACE, 'west-submariner-cable-west');
  await waitFor('the local copy deleted', async () => (await w.local.get('endpoints', NS, 'west-submariner-cable-west')) === undefined);
  await assertRbacSufficed(w);
});

test('an import whose label disagrees with its spec.cluster_id is dropped and reported; an existing copy is kept, not changed', async (t) => {
  const w = await world(t);
  await w.broker.create('endpoints', endpoint('liar', BROKER_NAMESPACE, { label: 'south', spec: endpointSpec('liar') }));
  await w.broker.create('endpoints', endpoint('west', BROKER_NAMESPACE, { label: 'west' }));
  w.startSync();
  await waitFor('west imported', () => w.local.get('endpoints', NS, 'west-submariner-cable-west'));
  const first = await waitFor('the liar reported', () => w.dropped.find((d) => d.name === 'liar-submariner-cable-liar'));
  assert.deepEqual([first.direction, first.reason, first.clusterId, first.namespace], ['import', 'cluster-id-mismatch', 'south', BROKER_NAMESPACE]);
  assert.match(first.uid, /\S/);
  assert.equal(await w.local.get('endpoints', NS, 'liar-submariner-cable-liar'), undefined);

  // West's object turns into a liar: dropped, and its copy stays as it was (fail static), not deleted nor changed.
  const before = await w.local.get('endpoints', NS, 'west-submariner-cable-west');
  await w.broker.edit('endpoints', BROKER_NAMESPACE, 'west-submariner-cable-west', (o) => { (o.spec as Json).cluster_id = 'north'; (o.spec as Json).hostname = 'evil'; });
  await waitFor('west\'s object reported', () => w.dropped.some((d) => d.name === 'west-submariner-cable-west' && d.reason === 'cluster-id-mismatch'));
  const passes = w.reports.length;
  await waitFor('two more passes', () => w.reports.length >= passes + 2);
  assert.deepEqual(await w.local.get('endpoints', NS, 'west-submariner-cable-west'), before);
  assert.equal(w.dropped.filter((d) => d.name === 'liar-submariner-cable-liar').length, 1, 'reported once, not on every pass');
  assert.ok(w.reports.at(-1)!.dropped.some((d) => d.name === 'liar-submariner-cable-liar'), 'every report lists what is dropped now');
  assert.ok(w.lines.some((l) => l.reason === 'cluster-id-mismatch' && l.level === 40), 'a warning in the log');
});

test('broker cut off: nothing local is deleted, writes to it are held; back on the same address, changes made meanwhile sync both ways', async (t) => {
  const w = await world(t);
  await w.local.create('endpoints', endpoint('east', NS));
  await w.broker.create('endpoints', endpoint('west', BROKER_NAMESPACE, { label: 'west' }));
  await w.broker.create('clusters', cluster('west', BROKER_NAMESPACE, { label: 'west' }));
  w.startSync();
  await waitFor('in step', async () => (await w.local.names('endpoints', NS)).length === 2 && (await w.broker.names('endpoints', BROKER_NAMESPACE)).length === 2
    && (await w.local.names('clusters', NS)).length === 1);

  await w.relay.cut();
  await waitFor('both broker informers failing', () => w.failing.size === 2 && [...w.failing].every((n) => n.includes('broker')));
  const cutAt = (await w.local.faults.requests()).next;
  // Meanwhile: west leaves the broker (the partition hides it), and east's original changes and gains a Cluster.
  await w.broker.remove('endpoints', BROKER_NAMESPACE, 'west-submariner-cable-west');
  await w.local.edit('endpoints', NS, 'east-submariner-cable-east', (o) => { (o.spec as Json).hostname = 'gw-2'; });
  await w.local.create('clusters', cluster('east', NS));
  // And south joins: its object reaches the broker, and a copy of it reaches this cluster by another way (a restore, a
  // second syncer). Our last view of the broker does not have it, but that view is not the broker now: the copy stays.
  await w.broker.create('endpoints', endpoint('south', BROKER_NAMESPACE, { label: 'south' }));
  await w.local.create('endpoints', endpoint('south', NS, { label: 'south' }));
  // Several refreshes and resyncs fall due while cut off.
  const passes = w.reports.length;
  await waitFor('passes while cut off', () => w.reports.length >= passes + 3, { timeoutMs: 8000 });
  assert.ok(w.reports.slice(passes).some((r) => r.held > 0), 'the broker writes were held, not sent');
  assert.deepEqual(await w.local.names('endpoints', NS), ['east-submariner-cable-east', 'south-submariner-cable-south', 'west-submariner-cable-west'], 'west\'s and south\'s copies kept');
  assert.deepEqual(await w.local.names('clusters', NS), ['east', 'west']);
  const during = (await w.local.faults.requests(cutAt)).entries;
  assert.deepEqual(during.filter((e) => e.method === 'DELETE'), [], 'no local deletion while the broker was unreachable');

  await w.relay.restore();
  await waitFor('the change made meanwhile on the broker', async () => ((await w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'))?.spec as Json | undefined)?.hostname === 'gw-2');
  await waitFor('the Cluster made meanwhile on the broker', () => w.broker.get('clusters', BROKER_NAMESPACE, 'east'));
  await waitFor('west\'s deletion made meanwhile propagated', async () => (await w.local.get('endpoints', NS, 'west-submariner-cable-west')) === undefined);
  assert.ok(await w.local.get('endpoints', NS, 'south-submariner-cable-south'), 'south\'s copy, on the broker all along, still here');
  assert.equal(w.failing.size, 0);
  await assertRbacSufficed(w);
});

test('broker unreachable at start: nothing happens locally until it answers, then the first reconcile runs', async (t) => {
  const w = await world(t, { relayOpen: false });
  await w.local.create('endpoints', endpoint('east', NS));
  await w.local.create('endpoints', endpoint('gone', NS, { label: 'gone' }));
  const sync = w.startSync();
  await waitFor('the broker informers failing', () => w.failing.size === 2);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(sync.synced, false);
  assert.equal(w.reports.length, 0, 'no pass without both sides listed');
  assert.deepEqual(await w.local.names('endpoints', NS), ['east-submariner-cable-east', 'gone-submariner-cable-gone']);
  await w.relay.restore();
  await waitFor('east pushed', () => w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'));
  await waitFor('the stale copy deleted once the broker was read', async () => (await w.local.names('endpoints', NS)).length === 1);
});

test('liveness: our broker copies\' refreshed-at advances; a remote without refresh past the threshold is stale, one without the annotation unknown; nothing removed', async (t) => {
  const w = await world(t);
  await w.local.create('endpoints', endpoint('east', NS));
  await w.broker.create('endpoints', endpoint('west', BROKER_NAMESPACE, { label: 'west', annotations: { [REFRESHED_AT_ANNOTATION]: nowSeconds() } }));
  await w.broker.create('endpoints', endpoint('north', BROKER_NAMESPACE, { label: 'north' }));
  w.startSync();
  const stamp = async () => ((await w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'))?.metadata as { annotations?: Json } | undefined)?.annotations?.[REFRESHED_AT_ANNOTATION];
  const first = Number(await waitFor('our copy stamped', stamp));
  await waitFor('our copy re-stamped', async () => Number(await stamp()) > first, { timeoutMs: 5000 });
  const liveness = (r: BrokerSyncReport | undefined) => Object.fromEntries((r?.liveness ?? []).map((l) => [l.clusterId, l.state]));
  await waitFor('west fresh, north unknown', () => { const l = liveness(w.reports.at(-1)); return l.west === 'fresh' && l.north === 'unknown'; });
  await waitFor('west stale', () => liveness(w.reports.at(-1)).west === 'stale', { timeoutMs: 6000 });
  assert.equal(liveness(w.reports.at(-1)).east, undefined, 'our own cluster is not judged');
  assert.deepEqual(await w.local.names('endpoints', NS), ['east-submariner-cable-east', 'north-submariner-cable-north', 'west-submariner-cable-west'], 'a stale remote keeps its copies');
  assert.ok(w.lines.some((l) => l.clusterId === 'west' && l.state === 'stale' && l.level === 40), 'said once as a warning');
  // West refreshes again: fresh.
  await w.broker.edit('endpoints', BROKER_NAMESPACE, 'west-submariner-cable-west', (o) => { (o.metadata as { annotations: Json }).annotations[REFRESHED_AT_ANNOTATION] = nowSeconds(); });
  await waitFor('west fresh again', () => liveness(w.reports.at(-1)).west === 'fresh');
});

test('writes carry their preconditions to the server: a delete or update of an object changed since it was observed is refused and changes nothing', async (t) => {
  const w = await world(t);
  const side = clientSyncSide(w.localKubeConfig, NS, { requestTimeoutMs: 2000, userAgent: 'seaway-test/broker-sync', fieldManager: 'seaway-broker-sync' });
  const created = await w.local.create('endpoints', endpoint('west', NS, { label: 'west' }));
  const observed = { uid: (created.metadata as { uid: string }).uid, resourceVersion: (created.metadata as { resourceVersion: string }).resourceVersion };
  const changed = await w.local.edit('endpoints', NS, 'west-submariner-cable-west', (o) => { (o.spec as Json).hostname = 'changed'; });
  const signal = new AbortController().signal;
  const name = 'west-submariner-cable-west';
  await assert.rejects(side.write({ side: 'local', op: 'delete', kind: 'Endpoint', name, precondition: observed, why: 'test' }, signal), (e: { code?: number }) => e.code === 409);
  const object = { apiVersion: 'submariner.io/v1', kind: 'Endpoint' as const, metadata: { name, namespace: NS, labels: { [CLUSTER_ID_LABEL]: 'west' }, annotations: {}, ...observed }, spec: endpointSpec('west') };
  await assert.rejects(side.write({ side: 'local', op: 'update', kind: 'Endpoint', name, object, precondition: observed, why: 'test' }, signal), (e: { code?: number }) => e.code === 409);
  assert.deepEqual(await w.local.get('endpoints', NS, name), changed);
  // A recreated object (same name, new uid) is not the one observed either.
  await w.local.remove('endpoints', NS, name);
  const recreated = await w.local.create('endpoints', endpoint('west', NS, { label: 'west' }));
  const stale = { uid: observed.uid, resourceVersion: (recreated.metadata as { resourceVersion: string }).resourceVersion };
  await assert.rejects(side.write({ side: 'local', op: 'delete', kind: 'Endpoint', name, precondition: stale, why: 'test' }, signal), (e: { code?: number }) => e.code === 409);
  assert.ok(await w.local.get('endpoints', NS, name));
  const staleObject = { ...object, metadata: { ...object.metadata, ...stale } };
  await assert.rejects(side.write({ side: 'local', op: 'update', kind: 'Endpoint', name, object: staleObject, precondition: stale, why: 'test' }, signal), (e: { code?: number }) => e.code === 409,
    'an update body\'s uid is a precondition (the generic store\'s Update)');
  assert.deepEqual(await w.local.get('endpoints', NS, name), recreated);
  // With the right ones it goes through.
  const current = { uid: (recreated.metadata as { uid: string }).uid, resourceVersion: (recreated.metadata as { resourceVersion: string }).resourceVersion };
  await side.write({ side: 'local', op: 'delete', kind: 'Endpoint', name, precondition: current, why: 'test' }, signal);
  assert.equal(await w.local.get('endpoints', NS, name), undefined);
});

test('a write the broker refuses (HTTP 500) is retried with backoff and said once; it lands once the broker accepts it', async (t) => {
  const w = await world(t);
  await w.local.create('endpoints', endpoint('east', NS));
  await w.broker.faults.failNext(3, 500, { verb: 'create', path: '/endpoints' });
  w.startSync();
  await waitFor('east pushed after the refusals', () => w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'));
  const creates = (await w.broker.faults.requests()).entries.filter((e) => e.verb === 'create' && e.path.includes('/endpoints'));
  assert.deepEqual(creates.map((e) => e.code), [500, 500, 500, 201]);
  const said = w.lines.filter((l) => l.msg === 'broker sync write failed; retrying on a later pass');
  assert.equal(said.length, 1, 'one warning for the streak, not one per retry');
  assert.equal(said[0]!.cause, 'HTTP 500 InternalError');
  assert.ok(w.reports.filter((r) => r.failed > 0).length >= 3);
});

test('a broker that hangs on a write: the write ends at its deadline, and the retry finds what the late write left', async (t) => {
  const w = await world(t, { requestTimeoutMs: 400 });
  await w.local.create('endpoints', endpoint('east', NS));
  await w.broker.faults.pause('hold', { verb: 'create' });
  w.startSync();
  await waitFor('a timed-out write said', () => w.lines.some((l) => l.msg === 'broker sync write failed; retrying on a later pass' && l.cause === 'timeout'), { timeoutMs: 5000 });
  // Released, the held creates land late on the server: the next pass sees the object (or a 409) and converges.
  await w.broker.faults.resume();
  await waitFor('east on the broker', () => w.broker.get('endpoints', BROKER_NAMESPACE, 'east-submariner-cable-east'));
  const settled = w.reports.length;
  await waitFor('two more passes', () => w.reports.length >= settled + 2);
  assert.equal(w.reports.at(-1)!.failed, 0);
  assert.deepEqual(await w.broker.names('endpoints', BROKER_NAMESPACE), ['east-submariner-cable-east']);
});
