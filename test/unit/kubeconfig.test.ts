import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfigChecked } from '../../src/k8s/kubeconfig.ts';
import { ConfigError } from '../../src/config.ts';
import { kubeconfigFor } from '../lab/apiserver/kubeconfig.ts';

const SETTING = /^invalid configuration: --kubeconfig \(env SEAWAY_KUBECONFIG or KUBECONFIG\): /;

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-kc-'));
  try { await body(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

const rejects = (path: string | null, detail: RegExp, env: Record<string, string> = {}) => {
  assert.throws(() => loadKubeConfigChecked(path, env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
    assert.match(error.message, SETTING);
    assert.match(error.message, detail);
    return true;
  });
};

test('an explicit kubeconfig that loads and names its cluster is used', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'kubeconfig'), kubeconfigFor('http://127.0.0.1:6443'));
    const kc = loadKubeConfigChecked(join(dir, 'kubeconfig'), {});
    assert.equal(kc.getCurrentCluster()?.server, 'http://127.0.0.1:6443');
  });
});

test('explicit kubeconfig problems are configuration errors naming the setting, the path and the reason', async () => {
  await withDir(async (dir) => {
    rejects(join(dir, 'missing'), /cannot load ".*\/missing": ENOENT: no such file or directory/);
    await mkdir(join(dir, 'a-directory'));
    rejects(join(dir, 'a-directory'), /cannot load ".*\/a-directory": EISDIR/);
    await writeFile(join(dir, 'empty'), '');
    rejects(join(dir, 'empty'), /cannot load ".*\/empty": expected a document, but the input is empty/);
    await writeFile(join(dir, 'not-yaml'), 'clusters: [\n  {name: x');
    rejects(join(dir, 'not-yaml'), /cannot load ".*\/not-yaml": /);
    await writeFile(join(dir, 'prose'), 'this is not a kubeconfig');
    rejects(join(dir, 'prose'), /".*\/prose" has no current-context \(is it a kubeconfig file\?\)/);
    await writeFile(join(dir, 'bad-cluster'), JSON.stringify({ clusters: [{ name: 'a', cluster: {} }] }));
    rejects(join(dir, 'bad-cluster'), /cannot load ".*\/bad-cluster": clusters\[0\]\.cluster\.server is missing/);
    const dangling = JSON.parse(kubeconfigFor('http://127.0.0.1:6443')) as Record<string, unknown>;
    dangling['current-context'] = 'elsewhere';
    await writeFile(join(dir, 'dangling'), JSON.stringify(dangling));
    rejects(join(dir, 'dangling'), /current-context "elsewhere" names no cluster in the file/);
  });
});

test('no kubeconfig set: ~/.kube/config is used when present, otherwise no service account is a configuration error', async () => {
  assert.equal(existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'), false,
    'this test needs a machine that is not a Kubernetes pod (no service account token mounted)');
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG };
  await withDir(async (home) => {
    try {
      process.env.HOME = home;
      delete process.env.KUBECONFIG;
      rejects(null, /not set, and there is neither a service account token at \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token nor ~\/\.kube\/config/);
      await mkdir(join(home, '.kube'));
      await writeFile(join(home, '.kube', 'config'), kubeconfigFor('http://127.0.0.1:7443'));
      assert.equal(loadKubeConfigChecked(null, {}).getCurrentCluster()?.server, 'http://127.0.0.1:7443');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
