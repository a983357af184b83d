/**
 * The PrometheusRule through promtool: `promtool check rules` on its spec (the rule file format a
 * PrometheusRule carries) and `promtool test rules` with prometheus-rule-tests.yaml, which fires three of
 * the alerts on made-up series and checks their labels and rendered annotations. The spec is extracted
 * to a temporary directory, removed after. A copy with broken PromQL must be refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { readManifestDir } from './manifest-files.ts';

const PROMTOOL_TIMEOUT_MS = 60_000;
const TESTS_FILE = fileURLToPath(new URL('prometheus-rule-tests.yaml', import.meta.url));
const rule = readManifestDir().find((d) => d.file === 'monitoring/prometheus-rule.yaml')!.object as { spec: { groups: Array<{ rules: Array<{ expr: string }> }> } };

describe('the PrometheusRule through promtool', () => {
  let dir = '';
  before(async () => {
    requireTools('promtool');
    dir = await mkdtemp(join(tmpdir(), 'seaway-promtool-'));
  });
  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('promtool check rules accepts its spec', async () => {
    await writeFile(join(dir, 'rules.yaml'), dump(rule.spec));
    const result = await run('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { timeoutMs: PROMTOOL_TIMEOUT_MS, allowFailure: true });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS: 7 rules found/);
  });

  test('promtool test rules: the alerts fire when they should, on the right series, with the annotations rendered', async () => {
    await writeFile(join(dir, 'rules.yaml'), dump(rule.spec));
    await copyFile(TESTS_FILE, join(dir, 'prometheus-rule-tests.yaml'));
    const result = await run('promtool', ['test', 'rules', join(dir, 'prometheus-rule-tests.yaml')], { timeoutMs: PROMTOOL_TIMEOUT_MS, allowFailure: true });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS/);
  });

  test('a copy with a broken expression is refused, naming it', async () => {
    const broken = structuredClone(rule.spec);
    broken.groups[0]!.rules[0]!.expr = 'max by (namespace, pod (seaway_ready) == 0';
    await writeFile(join(dir, 'broken.yaml'), dump(broken));
    const result = await run('promtool', ['check', 'rules', join(dir, 'broken.yaml')], { timeoutMs: PROMTOOL_TIMEOUT_MS, allowFailure: true });
    assert.notEqual(result.code, 0);
    assert.match(result.stdout + result.stderr, /"SeawayAgentNotReady": could not parse expression/);
  });

  test('a copy with an unknown rule field is refused, naming the field', async () => {
    const broken = structuredClone(rule.spec) as { groups: Array<{ rules: Array<Record<string, unknown>> }> };
    broken.groups[0]!.rules[0]!.fore = '5m';
    await writeFile(join(dir, 'unknown.yaml'), dump(broken));
    const result = await run('promtool', ['check', 'rules', join(dir, 'unknown.yaml')], { timeoutMs: PROMTOOL_TIMEOUT_MS, allowFailure: true });
    assert.notEqual(result.code, 0);
    assert.match(result.stdout + result.stderr, /fore/);
  });
});

test('without promtool the test fails, naming the package to install (never a skip)', () => {
  const empty = mkdtempSync(join(tmpdir(), 'seaway-nopath-'));
  const path = process.env.PATH;
  process.env.PATH = empty;
  try {
    assert.throws(() => requireTools('promtool'), /missing promtool: install with apt-get install --no-install-recommends prometheus/);
  } finally {
    process.env.PATH = path;
    rmSync(empty, { recursive: true, force: true });
  }
});
