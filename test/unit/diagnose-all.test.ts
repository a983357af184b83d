import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseAllNodes } from '../../src/diagnose/all-nodes.ts';
import type { NodeSummary } from '../../src/k8s/diagnose-reads.ts';
import type { HttpGetOptions } from '../../src/kernel/http-get.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';

const node = (name: string, internalIp: string): NodeSummary => ({ name, internalIp, labels: {}, annotations: {} });
const finding = (node: string, severity: Finding['severity'] = 'ok'): Finding => ({ id: 'cni-interface', severity, node, target: 't', probe: 'p', found: 'f', fix: null });

test('every node is asked at its InternalIP and the route agents\' port; answers, silence and garbage each become findings', async () => {
  const asked: string[] = [];
  const answers: Record<string, () => { status: number; body: string }> = {
    '10.0.0.1': () => ({ status: 200, body: JSON.stringify({ node: 'a', findings: [finding('a'), finding('a', 'error')] }) }),
    '10.0.0.2': () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); },
    '10.0.0.3': () => ({ status: 200, body: 'not json' }),
    '10.0.0.4': () => ({ status: 200, body: JSON.stringify({ node: 'd', findings: [{ id: 1 }, finding('spoofed-name')] }) }),
    '10.0.0.5': () => ({ status: 429, body: 'slow down' }),
  };
  const findings = await diagnoseAllNodes({ port: 9082, namespace: 'ns', askingNode: 'a' }, {
    nodes: async () => ({ ok: true, value: [node('a', '10.0.0.1'), node('b', '10.0.0.2'), node('c', '10.0.0.3'), node('d', '10.0.0.4'), node('e', '10.0.0.5'), node('f', '')] }),
    http: async (options: HttpGetOptions) => {
      asked.push(`${options.url}${options.path}`);
      const host = new URL(options.url!).hostname;
      return { ...answers[host]!(), rttMs: 1 };
    },
  });
  assert.deepEqual(asked.sort(), ['http://10.0.0.1:9082/diagnose', 'http://10.0.0.2:9082/diagnose', 'http://10.0.0.3:9082/diagnose', 'http://10.0.0.4:9082/diagnose', 'http://10.0.0.5:9082/diagnose']);
  const by = (name: string) => findings.filter((f) => f.node === name).map((f) => [f.id, f.severity]);
  assert.deepEqual(by('a'), [['cni-interface', 'ok'], ['cni-interface', 'error']]);
  assert.deepEqual(by('b'), [['diagnose-all', 'error']]);
  assert.match(findings.find((f) => f.node === 'b')!.found, /no answer: connect ECONNREFUSED/);
  assert.match(findings.find((f) => f.node === 'c')!.found, /not JSON/);
  assert.deepEqual(by('d'), [['diagnose-all', 'warning'], ['cni-interface', 'ok']], 'a finding that does not read is a warning; the rest count, under the node asked');
  assert.match(findings.find((f) => f.node === 'e')!.found, /answered 429: slow down/);
  assert.match(findings.find((f) => f.node === 'f')!.found, /no IPv4 InternalIP/);
});

test('Nodes that cannot be listed are one error finding about the asking node', async () => {
  const findings = await diagnoseAllNodes({ port: 9082, namespace: 'ns', askingNode: 'me' }, {
    nodes: async () => ({ ok: false, problem: 'HTTP 403 Forbidden', forbidden: true }),
    http: async () => { throw new Error('never asked'); },
  });
  assert.deepEqual(findings.map((f) => [f.node, f.id, f.severity]), [['me', 'diagnose-all', 'error']]);
  assert.match(findings[0]!.fix ?? '', /grant this node's service account list on nodes/);
});
