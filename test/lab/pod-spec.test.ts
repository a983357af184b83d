/** The lab kubelet's resolution of a Pod's container (pure): environment, volumes, privileges, failures. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expand, probePort, referencedObjects, resolveContainer, SERVICE_ACCOUNT_DIR, type ContainerSpec, type ImageConfig, type PodContext, type PodObject } from './pod-spec.ts';

const image: ImageConfig = { rootfs: '/img', entrypoint: ['/usr/local/bin/node', '--optimize-for-size', '/app/seaway.mjs'], cmd: ['--help'], env: ['PATH=/usr/bin:/bin', 'MALLOC_ARENA_MAX=2'], workingDir: '/app' };

function context(overrides: Partial<PodContext> = {}): PodContext {
  return {
    nodeName: 'cluster1-node2',
    nodeIp: '192.168.1.12',
    apiServer: { host: '192.168.1.2', port: 6443 },
    configMap: (_ns, name) => (name === 'seaway-cluster' ? { clusterID: 'cluster1', clusterCIDR: '10.1.0.0/16' } : undefined),
    secret: (_ns, name) => (name === 'seaway-ipsec-psk' ? { psk: 's3cret' } : undefined),
    hostPath: (path) => (path === '/run/xtables.lock' ? path : `/lab/node2/host${path}`),
    podDir: '/lab/node2/pods/p1',
    serviceAccount: { token: 'tok', caPem: 'PEM' },
    ...overrides,
  };
}

function pod(container: ContainerSpec, volumes: PodObject['spec']['volumes'] = []): PodObject {
  return { metadata: { name: 'seaway-route-agent-abcde', namespace: 'submariner-operator', uid: 'u1', labels: { app: 'x' } }, spec: { containers: [container], volumes } };
}

describe('resolveContainer', () => {
  it('runs the image entrypoint with the container args, and the image env under the pod env', () => {
    const container: ContainerSpec = { name: 'agent', args: ['run'], env: [{ name: 'MALLOC_ARENA_MAX', value: '4' }] };
    const result = resolveContainer(pod(container), container, image, context());
    assert.ok(result.ok);
    assert.deepEqual(result.launch.argv, ['/usr/local/bin/node', '--optimize-for-size', '/app/seaway.mjs', 'run']);
    assert.equal(result.launch.env.MALLOC_ARENA_MAX, '4');
    assert.equal(result.launch.env.PATH, '/usr/bin:/bin');
    assert.equal(result.launch.env.KUBERNETES_SERVICE_HOST, '192.168.1.2');
    assert.equal(result.launch.env.KUBERNETES_SERVICE_PORT, '6443');
    assert.equal(result.launch.workingDir, '/app');
  });

  it('without args uses the image cmd; a command replaces entrypoint and cmd', () => {
    const bare: ContainerSpec = { name: 'a' };
    const r1 = resolveContainer(pod(bare), bare, image, context());
    assert.ok(r1.ok);
    assert.deepEqual(r1.launch.argv.slice(-1), ['--help']);
    const commanded: ContainerSpec = { name: 'a', command: ['/bin/true'] };
    const r2 = resolveContainer(pod(commanded), commanded, image, context());
    assert.ok(r2.ok);
    assert.deepEqual(r2.launch.argv, ['/bin/true']);
  });

  it('resolves the downward API, ConfigMap and Secret keys, and $(VAR) references', () => {
    const container: ContainerSpec = {
      name: 'agent',
      args: ['run', '--node-name=$(NODE_NAME)', '$$(NODE_NAME)', '$(UNKNOWN)'],
      env: [
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'CLUSTER', valueFrom: { configMapKeyRef: { name: 'seaway-cluster', key: 'clusterID' } } },
        { name: 'CABLE', valueFrom: { configMapKeyRef: { name: 'seaway-cluster', key: 'cable', optional: true } } },
        { name: 'PSK', valueFrom: { secretKeyRef: { name: 'seaway-ipsec-psk', key: 'psk' } } },
        { name: 'WHERE', value: '$(NODE_NAME)@$(HOST_IP)' },
      ],
    };
    const result = resolveContainer(pod(container), container, image, context());
    assert.ok(result.ok);
    const { env, argv } = result.launch;
    assert.equal(env.NODE_NAME, 'cluster1-node2');
    assert.equal(env.HOST_IP, '192.168.1.12');
    assert.equal(env.NS, 'submariner-operator');
    assert.equal(env.APP, 'x');
    assert.equal(env.CLUSTER, 'cluster1');
    assert.equal('CABLE' in env, false, 'an optional missing key sets nothing');
    assert.equal(env.PSK, 's3cret');
    assert.equal(env.WHERE, 'cluster1-node2@192.168.1.12');
    assert.deepEqual(argv.slice(-3), ['--node-name=cluster1-node2', '$(NODE_NAME)', '$(UNKNOWN)']);
  });

  it('a missing ConfigMap, Secret or key is CreateContainerConfigError, naming it', () => {
    const cases: Array<[ContainerSpec['env'], RegExp]> = [
      [[{ name: 'A', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }], /configmap "nope" not found/],
      [[{ name: 'A', valueFrom: { configMapKeyRef: { name: 'seaway-cluster', key: 'clusterId' } } }], /couldn't find key clusterId in ConfigMap submariner-operator\/seaway-cluster/],
      [[{ name: 'A', valueFrom: { secretKeyRef: { name: 'seaway-ipsec-psk', key: 'PSK' } } }], /couldn't find key PSK in Secret submariner-operator\/seaway-ipsec-psk/],
      [[{ name: 'A', valueFrom: { secretKeyRef: { name: 'gone', key: 'psk' } } }], /secret "gone" not found/],
      [[{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }], /unsupported fieldRef fieldPath "spec.bogus"/],
    ];
    for (const [env, message] of cases) {
      const container: ContainerSpec = { name: 'a', env };
      const result = resolveContainer(pod(container), container, image, context());
      assert.equal(result.ok, false);
      if (result.ok) continue;
      assert.equal(result.reason, 'CreateContainerConfigError');
      assert.match(result.message, message);
    }
  });

  it('mounts hostPaths on the node, Secret volumes as files with their mode, and the service account token', () => {
    const container: ContainerSpec = {
      name: 'gw',
      volumeMounts: [
        { name: 'state', mountPath: '/var/lib/seaway' },
        { name: 'lock', mountPath: '/run/xtables.lock' },
        { name: 'psk', mountPath: '/etc/seaway/psk', readOnly: true },
      ],
    };
    const volumes = [
      { name: 'state', hostPath: { path: '/var/lib/seaway', type: 'DirectoryOrCreate' } },
      { name: 'lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
      { name: 'psk', secret: { secretName: 'seaway-ipsec-psk', defaultMode: 0o400 } },
    ];
    const result = resolveContainer(pod(container, volumes), container, image, context());
    assert.ok(result.ok);
    const { mounts, files, createDirectories, createFiles } = result.launch;
    assert.deepEqual(mounts.map((m) => [m.source, m.target, m.readOnly, m.file]), [
      ['/lab/node2/host/var/lib/seaway', '/var/lib/seaway', false, false],
      ['/run/xtables.lock', '/run/xtables.lock', false, true],
      ['/lab/node2/pods/p1/volumes/psk', '/etc/seaway/psk', true, false],
      ['/lab/node2/pods/p1/volumes/kube-api-access', SERVICE_ACCOUNT_DIR, true, false],
    ]);
    assert.ok(createDirectories.includes('/lab/node2/host/var/lib/seaway'));
    assert.deepEqual(createFiles, ['/run/xtables.lock']);
    assert.deepEqual(files.find((f) => f.path.endsWith('/psk/psk')), { path: '/lab/node2/pods/p1/volumes/psk/psk', content: 's3cret', mode: 0o400 });
    assert.equal(files.find((f) => f.path.endsWith('/token'))?.content, 'tok');
    assert.equal(files.find((f) => f.path.endsWith('/namespace'))?.content, 'submariner-operator');
  });

  it('a missing Secret volume waits (ContainerCreating) unless optional; a mount of no volume is an error', () => {
    const container: ContainerSpec = { name: 'gw', volumeMounts: [{ name: 'broker', mountPath: '/etc/seaway/broker' }] };
    const missing = resolveContainer(pod(container, [{ name: 'broker', secret: { secretName: 'seaway-broker' } }]), container, image, context());
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.reason === 'ContainerCreating' && /secret "seaway-broker" not found/.test(missing.message));
    const optional = resolveContainer(pod(container, [{ name: 'broker', secret: { secretName: 'seaway-broker', optional: true } }]), container, image, context());
    assert.ok(optional.ok);
    const orphan = resolveContainer(pod(container, []), container, image, context());
    assert.ok(!orphan.ok && /volume "broker" of container gw is not among the pod's volumes/.test(orphan.message));
  });

  it('capabilities: the runtime default set, drop ALL then add, or everything when privileged', () => {
    const defaults: ContainerSpec = { name: 'a' };
    const r1 = resolveContainer(pod(defaults), defaults, image, context());
    assert.ok(r1.ok && r1.launch.capabilities.includes('chown') && !r1.launch.capabilities.includes('net_admin') && !r1.launch.privileged);
    const narrow: ContainerSpec = { name: 'a', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'CAP_NET_RAW'] } } };
    const r2 = resolveContainer(pod(narrow), narrow, image, context());
    assert.ok(r2.ok);
    assert.deepEqual(r2.launch.capabilities, ['net_admin', 'net_raw']);
    assert.equal(r2.launch.noNewPrivileges, true);
    const privileged: ContainerSpec = { name: 'a', securityContext: { privileged: true } };
    const r3 = resolveContainer(pod(privileged), privileged, image, context());
    assert.ok(r3.ok && r3.launch.privileged && !r3.launch.noNewPrivileges);
  });

  it('no token is mounted when automountServiceAccountToken is false', () => {
    const container: ContainerSpec = { name: 'a' };
    const spec = pod(container);
    spec.spec.automountServiceAccountToken = false;
    const result = resolveContainer(spec, container, image, context());
    assert.ok(result.ok && result.launch.mounts.length === 0 && result.launch.files.length === 0);
  });
});

describe('expand and probePort', () => {
  it('expands only known variables and unescapes $$', () => {
    assert.equal(expand('a$(X)b$(Y)$$(X)$$', { X: '1' }), 'a1b$(Y)$(X)$');
    assert.equal(expand('', {}), '');
  });

  it('finds a named port, takes a number, and gives undefined for an undeclared name', () => {
    const container: ContainerSpec = { name: 'a', ports: [{ name: 'metrics', containerPort: 9082 }] };
    assert.equal(probePort(container, 'metrics'), 9082);
    assert.equal(probePort(container, 8080), 8080);
    assert.equal(probePort(container, '8081'), 8081);
    assert.equal(probePort(container, 'health'), undefined);
  });
});

describe('referencedObjects', () => {
  it('finds every ConfigMap and Secret of env keys and volumes, whatever the order of their fields', () => {
    const spec = {
      containers: [
        { name: 'a', env: [{ name: 'X', valueFrom: { configMapKeyRef: { key: 'k', name: 'cm1' } } }, { name: 'Y', valueFrom: { secretKeyRef: { optional: true, key: 'k', name: 's1' } } }, { name: 'Z', value: 'v' }] },
        { name: 'b', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm1', key: 'other' } } }] },
      ],
      volumes: [
        { name: 'v1', configMap: { items: [{ key: 'a', path: 'a' }], name: 'cm2' } },
        { name: 'v2', secret: { defaultMode: 256, secretName: 's2' } },
        { name: 'v3', hostPath: { path: '/x' } },
      ],
    };
    assert.deepEqual(referencedObjects(spec), { configMaps: ['cm1', 'cm2'], secrets: ['s1', 's2'] });
    assert.deepEqual(referencedObjects({ containers: [{ name: 'a' }] }), { configMaps: [], secrets: [] });
  });

  it('a container with envFrom is refused, naming it (the lab does not resolve it)', () => {
    const container = { name: 'a', envFrom: [{ configMapRef: { name: 'x' } }] } as ContainerSpec;
    const result = resolveContainer(pod(container), container, image, context());
    assert.ok(!result.ok && /container a: envFrom is not supported/.test(result.message));
  });
});
