import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { run } from '../../src/kernel/exec.ts';

await runInsideNetns(import.meta.url, 'cfg');

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const GOOD = {
  NODE_NAME: 'node-a', SUBMARINER_CLUSTERID: 'c1', SUBMARINER_CLUSTERCIDR: '10.1.0.0/16', SUBMARINER_SERVICECIDR: '10.101.0.0/16',
};
const kernelState = async () => (await Promise.all([
  run('ip', ['-j', 'link']), run('ip', ['-j', 'route', 'show', 'table', 'all']), run('ip', ['-j', 'rule']),
])).map((r) => r.stdout).join('\n');

const cases: Array<{ name: string; env: Record<string, string>; args: string[]; expect: RegExp }> = [
  { name: 'malformed pod CIDR', env: { ...GOOD, SUBMARINER_CLUSTERCIDR: '10.1.0.0/33' }, args: [], expect: /SUBMARINER_CLUSTERCIDR/ },
  { name: 'missing node name', env: { ...GOOD, NODE_NAME: '' }, args: [], expect: /--node-name.*NODE_NAME|NODE_NAME/ },
  { name: 'unknown flag', env: GOOD, args: ['--frobnicate', 'x'], expect: /unknown flag "--frobnicate"/ },
];

for (const c of cases) {
  test(`bad configuration (${c.name}): one clear message, non-zero exit, no kernel or API change`, async () => {
    const requests: string[] = [];
    const { createServer } = await import('node:http');
    // A kubeconfig pointing at a listener that records any request proves the API was never called.
    const spy = createServer((req, res) => { requests.push(req.url ?? ''); res.end(); });
    await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve));
    const port = (spy.address() as { port: number }).port;
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { kubeconfigFor } = await import('../lab/apiserver/kubeconfig.ts');
    const dir = await mkdtemp(join(tmpdir(), 'seaway-cfg-'));
    try {
      await writeFile(join(dir, 'kubeconfig'), kubeconfigFor(`http://127.0.0.1:${port}`));
      const before = await kernelState();
      const result = await run(process.execPath, [MAIN, 'run', ...c.args], {
        allowFailure: true,
        env: { PATH: process.env.PATH ?? '', KUBECONFIG: join(dir, 'kubeconfig'), SEAWAY_LISTEN: `unix:${join(dir, 'sock')}`, ...c.env },
      });
      assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
      assert.match(result.stderr, c.expect);
      assert.match(result.stderr, /^seaway: invalid configuration/);
      assert.equal(result.stdout, '');
      assert.equal(await kernelState(), before);
      assert.deepEqual(requests, []);
    } finally {
      spy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
