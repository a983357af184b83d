/**
 * Deliberately broken copies of manifests/: the real files copied to a temporary directory, one line of
 * one file changed as a person would get it wrong, and the same checks as on the real files must name
 * the mistake. The directory is removed after, also when a test fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFESTS_DIR, readManifestDir } from './manifest-files.ts';
import { checkContext, manifestProblems } from './check-manifests.ts';
import { compareRbac, requestsFromAudit } from './rbac-coverage.ts';
import { ROUTE_AGENT_AUDIT, ROUTE_AGENT_USER } from './rbac-fixtures.ts';

const context = checkContext();
let root = '';
let copies = 0;

before(async () => { root = await mkdtemp(join(tmpdir(), 'seaway-manifests-')); });
after(async () => { if (root !== '') await rm(root, { recursive: true, force: true }); });

/** A fresh copy of manifests/ with `from` replaced by `to` in `file` (exactly once: a no-op edit would prove nothing). */
async function brokenCopy(file: string, from: string, to: string): Promise<string> {
  const dir = join(root, `copy-${++copies}`);
  await cp(MANIFESTS_DIR, dir, { recursive: true });
  const text = await readFile(join(dir, file), 'utf8');
  assert.equal(text.split(from).length - 1, 1, `${file} holds ${JSON.stringify(from)} exactly once`);
  await writeFile(join(dir, file), text.replace(from, to));
  return dir;
}

const problemsIn = (dir: string) => manifestProblems(readManifestDir(dir), context);

function assertNamed(problems: string[], pattern: RegExp): void {
  assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}; found:\n  ${problems.join('\n  ') || '(none)'}`);
}

describe('broken copies of manifests/ are caught, each with a message naming the mistake', () => {
  test('the unbroken copy has no problem (so what follows is caused by the edit)', async () => {
    const dir = join(root, 'intact');
    await cp(MANIFESTS_DIR, dir, { recursive: true });
    assert.deepEqual(problemsIn(dir), []);
  });

  test('an unknown field: hostNetwrok', async () => {
    const dir = await brokenCopy('10-route-agent.yaml', '      hostNetwork: true\n', '      hostNetwrok: true\n');
    const problems = problemsIn(dir);
    assertNamed(problems, /^10-route-agent\.yaml#0 DaemonSet submariner-operator\/seaway-route-agent: \.spec\.template\.spec\.hostNetwrok: unknown field \(not in V1PodSpec\)$/);
    assertNamed(problems, /hostNetwork: true/);
  });

  test('a wrong selector: the gateway DaemonSet selecting "gateways"', async () => {
    const dir = await brokenCopy('11-gateway.yaml', '  selector:\n    matchLabels:\n      app.kubernetes.io/name: seaway\n      app.kubernetes.io/component: gateway\n',
      '  selector:\n    matchLabels:\n      app.kubernetes.io/name: seaway\n      app.kubernetes.io/component: gateways\n');
    assertNamed(problemsIn(dir), /^11-gateway\.yaml#0 DaemonSet submariner-operator\/seaway-gateway: spec\.selector .*"gateways".* does not match the template's labels/);
  });

  test('a Secret key typo: the PSK mounted from key "pks"', async () => {
    const dir = await brokenCopy('11-gateway.yaml', '              - key: psk\n', '              - key: pks\n');
    assertNamed(problemsIn(dir), /^11-gateway\.yaml#0 DaemonSet submariner-operator\/seaway-gateway container gateway: volume ipsec-psk: Secret seaway-ipsec-psk has no key "pks"/);
  });

  test('a PodMonitor port no container declares: "metric"', async () => {
    const dir = await brokenCopy('monitoring/pod-monitor.yaml', '    - port: metrics\n', '    - port: metric\n');
    const problems = problemsIn(dir);
    assertNamed(problems, /^monitoring\/pod-monitor\.yaml#0 PodMonitor submariner-operator\/seaway: port "metric" is declared by no container of 10-route-agent\.yaml#0/);
    assertNamed(problems, /port "metric" is declared by no container of 11-gateway\.yaml#0/);
  });

  test('a ConfigMap key typo and a setting seaway does not have', async () => {
    const dir = await brokenCopy('10-route-agent.yaml', '            - name: SEAWAY_STATUS_SOCKET\n', '            - name: SEAWAY_STATUS_SOCK\n');
    assertNamed(problemsIn(dir), /container route-agent: env SEAWAY_STATUS_SOCK is not a setting of "seaway run"/);
    const key = await brokenCopy('11-gateway.yaml', '                  key: clusterCIDR\n', '                  key: clusterCidr\n');
    assertNamed(problemsIn(key), /container gateway: env SUBMARINER_CLUSTERCIDR: ConfigMap seaway-cluster has no key "clusterCidr"/);
  });

  describe('RBAC against the route agent\'s requests', () => {
    const rbacOf = async (dir: string) => compareRbac(readManifestDir(dir).map((d) => d.object), requestsFromAudit(ROUTE_AGENT_AUDIT), { users: [ROUTE_AGENT_USER] });

    test('a missing verb: RouteAgents without create', async () => {
      const dir = await brokenCopy('02-rbac-route-agent.yaml', '    verbs: ["get", "create", "update"]\n', '    verbs: ["get", "update"]\n');
      const { missing, unused } = await rbacOf(dir);
      assert.deepEqual(missing.map((m) => m.message), [`missing grant: ${ROUTE_AGENT_USER} create routeagents.submariner.io in namespace submariner-operator: no rule bound to it allows this`]);
      assert.deepEqual(unused, []);
    });

    test('an unused verb: RouteAgents with delete', async () => {
      const dir = await brokenCopy('02-rbac-route-agent.yaml', '    verbs: ["get", "create", "update"]\n', '    verbs: ["get", "create", "update", "delete"]\n');
      const { missing, unused } = await rbacOf(dir);
      assert.deepEqual(missing, []);
      assert.deepEqual(unused.map((u) => u.message), ['unused grant: Role/submariner-operator/seaway-route-agent rule 2 grants delete on routeagents.submariner.io, which no request used']);
    });
  });
});
