/**
 * The image's bundle is split per command (scripts/bundle.ts): what `seaway run` loads (its chunk and
 * the chunks that chunk imports statically) holds no @kubernetes/client-node, which the gateway's does.
 * The route agent's memory on every node depends on it (about 25 MiB: research/deploy-and-footprint.md).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { bundleOptions } from '../../scripts/bundle.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The output files an entry (or a dynamically imported module) loads at once: its chunk and, transitively, the chunks it imports statically. */
function loadedWith(outputs: Metafile['outputs'], entry: string): string[] {
  const start = Object.entries(outputs).find(([, output]) => output.entryPoint === entry)?.[0];
  assert.ok(start, `a chunk for ${entry}`);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imported of outputs[file]!.imports) if (imported.kind === 'import-statement' && outputs[imported.path]) visit(imported.path);
  };
  visit(start);
  return [...seen];
}

const inputsOf = (outputs: Metafile['outputs'], files: string[]) => files.flatMap((file) => Object.keys(outputs[file]!.inputs));

test('the route agent (src/run.ts) loads no @kubernetes/client-node; the gateway does', async () => {
  const result = await build({ ...bundleOptions(repo, join(repo, 'build', 'bundle-test-unused')), write: false, logLevel: 'silent' });
  const outputs = result.metafile!.outputs;
  const client = (input: string) => input.includes('node_modules/@kubernetes/client-node/');
  // What `seaway run` loads: the entry (src/main.ts), which every command loads, and run.ts's chunks.
  const agent = inputsOf(outputs, [...loadedWith(outputs, 'src/main.ts'), ...loadedWith(outputs, 'src/run.ts')]);
  assert.ok(agent.some((input) => input.endsWith('src/k8s/api-connection.ts')), 'the agent has its own API connection');
  assert.deepEqual(agent.filter(client), [], 'no client-node in what the route agent loads');
  assert.ok(inputsOf(outputs, loadedWith(outputs, 'src/gateway/run-gateway.ts')).some(client), 'the gateway loads the client (the check can fail)');
});
