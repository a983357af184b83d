/**
 * manifests/ as shipped, checked offline: every document parses and validates against its kind's
 * schema, has no unknown field, refers only to objects that exist (or that the operator creates), runs
 * the image as its entry point expects with settings seaway's configuration accepts, and alerts on
 * metrics the agents export. Any problem fails with the file, document and object it is about.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isTopLevel, MANIFESTS_DIR, metadataOf, readManifestDir, str, type ManifestDoc } from './manifest-files.ts';
import { schemaProblems } from './schema-validation.ts';
import { alertRuleProblems, checkContext, unknownFieldProblems } from './check-manifests.ts';
import { crossReferenceProblems } from './cross-references.ts';
import { workloadProblems } from './workload-checks.ts';

const docs = readManifestDir();
const context = checkContext();
const kinds = (file: string) => docs.filter((d) => d.file === file).map((d) => `${str(d.object.kind)} ${metadataOf(d.object).name}`);

describe('manifests/ as shipped', () => {
  test('layout: the top-level files install seaway on a member cluster in order; the rest is applied apart', () => {
    assert.deepEqual([...new Set(docs.filter(isTopLevel).map((d) => d.file))], [
      '00-namespace.yaml', '01-crds.yaml', '02-rbac-route-agent.yaml', '03-rbac-gateway.yaml', '10-route-agent.yaml', '11-gateway.yaml',
    ]);
    assert.deepEqual([...new Set(docs.filter((d) => !isTopLevel(d)).map((d) => d.file))], [
      'broker/rbac.yaml', 'monitoring/pod-monitor.yaml', 'monitoring/prometheus-rule.yaml', 'uninstall/uninstall.yaml',
    ]);
    for (const old of ['crds', 'rbac']) assert.equal(existsSync(join(MANIFESTS_DIR, old)), false, `manifests/${old} moved into the numbered files`);
  });

  test('each file holds what its name says', () => {
    assert.deepEqual(kinds('00-namespace.yaml'), ['Namespace submariner-operator']);
    assert.deepEqual(kinds('01-crds.yaml'), ['clusters', 'endpoints', 'gateways', 'routeagents'].map((p) => `CustomResourceDefinition ${p}.submariner.io`));
    assert.deepEqual(kinds('10-route-agent.yaml'), ['DaemonSet seaway-route-agent']);
    assert.deepEqual(kinds('11-gateway.yaml'), ['DaemonSet seaway-gateway']);
    assert.deepEqual(kinds('monitoring/pod-monitor.yaml'), ['PodMonitor seaway']);
    assert.deepEqual(kinds('monitoring/prometheus-rule.yaml'), ['PrometheusRule seaway']);
    assert.deepEqual(kinds('uninstall/uninstall.yaml'), ['ServiceAccount seaway-uninstall', 'Role seaway-uninstall', 'RoleBinding seaway-uninstall', 'DaemonSet seaway-uninstall']);
  });

  test('every document validates against its kind\'s schema (kubernetes-models, prometheus-operator)', () => {
    assert.deepEqual(docs.flatMap(schemaProblems), []);
  });

  test('no document has a field its kind lacks (client-node models; prometheus-operator declarations)', () => {
    assert.deepEqual(unknownFieldProblems(docs, context.monitoring), []);
  });

  test('names, namespaces, selectors, bindings, service accounts and the PodMonitor\'s port all resolve', () => {
    assert.deepEqual(crossReferenceProblems(docs), []);
  });

  test('the pods run the image\'s entry point with settings seaway accepts, on the ports, paths and Secrets they declare', () => {
    assert.deepEqual(workloadProblems(docs, context.workload), []);
  });

  test('the alerts use metrics and labels the agents export, keep what their annotations render, and say how long and how bad', () => {
    assert.deepEqual(alertRuleProblems(docs, context.catalogue), []);
  });

  test('a stop ends before the kubelet\'s SIGKILL: the grace period is longer than the shutdown timeout, by DaemonSet', () => {
    // Asserted by the settings check above; shown here with the numbers, which the comments in the files explain.
    const numbers = (doc: ManifestDoc) => {
      const spec = (doc.object.spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: Array<{ env: Array<{ name: string; value?: string }> }> } } }).template.spec;
      const timeout = spec.containers[0]!.env.find((e) => e.name === 'SEAWAY_SHUTDOWN_TIMEOUT_SECONDS')?.value;
      return [Number(timeout), spec.terminationGracePeriodSeconds];
    };
    for (const doc of docs.filter((d) => d.object.kind === 'DaemonSet')) {
      const [timeout, grace] = numbers(doc);
      assert.ok(Number.isInteger(timeout) && Number.isInteger(grace) && timeout! < grace!, `${doc.file}: shutdown ${timeout} s, grace ${grace} s`);
    }
  });
});
