import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIAGNOSE_ERRORS, DIAGNOSE_OK, diagnoseExitCode, readFinding, sortFindings, type Finding } from '../../src/model/diagnose-finding.ts';
import { findingsJson, renderFindings } from '../../src/plan/diagnose-table.ts';

const f = (over: Partial<Finding>): Finding => ({ id: 'cni-interface', severity: 'ok', node: 'n1', target: 'cni0', probe: 'p', found: 'fine', fix: null, ...over });

test('exit code: 0 with warnings only, 1 with any error', () => {
  assert.equal(diagnoseExitCode([]), DIAGNOSE_OK);
  assert.equal(diagnoseExitCode([f({}), f({ severity: 'warning' })]), DIAGNOSE_OK);
  assert.equal(diagnoseExitCode([f({}), f({ severity: 'error' })]), DIAGNOSE_ERRORS);
});

test('the table: errors first, one line each with status, check, target and detail; then the numbered fixes and a count', () => {
  const text = renderFindings([
    f({}), f({ id: 'udp-4500', severity: 'error', target: 'cluster west 198.18.2.1:4500/udp', found: 'no answer', fix: 'allow UDP 4500' }),
    f({ id: 'mtu', severity: 'warning', target: 'west', found: 'not measured', fix: null }),
  ]);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^STATUS\s+CHECK\s+TARGET\s+DETAIL$/);
  assert.match(lines[1]!, /^error\s+udp-4500\s+cluster west 198\.18\.2\.1:4500\/udp\s+no answer$/);
  assert.match(lines[2]!, /^warning\s+mtu\s+west\s+not measured$/);
  assert.match(lines[3]!, /^ok\s+cni-interface\s+cni0\s+fine$/);
  assert.ok(text.includes('To fix:\n  1. udp-4500 cluster west 198.18.2.1:4500/udp: allow UDP 4500\n'));
  assert.ok(text.endsWith('1 error(s), 1 warning(s), 1 ok\n'));
  assert.doesNotMatch(renderFindings([f({})]), /To fix/);
});

test('findings of several nodes lead with the node; control characters never reach the terminal', () => {
  const text = renderFindings([f({ node: 'b' }), f({ node: 'a', found: 'evil\u001b[2Jname\r\n' })]);
  assert.match(text.split('\n')[0]!, /^NODE\s+STATUS/);
  assert.match(text.split('\n')[1]!, /^a\s+ok/);
  assert.doesNotMatch(text, /\u001b|\r/);
});

test('--json: an array of findings, every key present, in the table\'s order', () => {
  const parsed = JSON.parse(findingsJson([f({}), f({ severity: 'error', id: 'api', fix: 'x' })])) as Finding[];
  assert.deepEqual(parsed.map((x) => Object.keys(x)), [['id', 'severity', 'node', 'target', 'probe', 'found', 'fix'], ['id', 'severity', 'node', 'target', 'probe', 'found', 'fix']]);
  assert.deepEqual(parsed.map((x) => [x.severity, x.fix]), [['error', 'x'], ['ok', null]]);
  assert.equal(findingsJson([]), '[]\n');
});

test('sorting is stable across runs: severity, node, check, target', () => {
  const sorted = sortFindings([f({ node: 'b' }), f({ node: 'a', id: 'z' }), f({ node: 'a', id: 'b', target: 'y' }), f({ node: 'a', id: 'b', target: 'x' }), f({ severity: 'warning', node: 'z' })]);
  assert.deepEqual(sorted.map((x) => `${x.severity} ${x.node} ${x.id} ${x.target}`), ['warning z cni-interface cni0', 'ok a b x', 'ok a b y', 'ok a z cni0', 'ok b cni-interface cni0']);
});

test('a finding read back from another node: refused unless it has every field with the right type and a known severity', () => {
  assert.deepEqual(readFinding(f({})), { ok: true, finding: f({}) });
  assert.deepEqual(readFinding({ ...f({}), extra: 1 }), { ok: true, finding: f({}) }, 'unknown keys are dropped');
  for (const [value, reason] of [[null, /not an object/], [[], /not an object/], [{ ...f({}), id: 3 }, /no string id/], [{ ...f({}), severity: 'fine' }, /severity "fine"/], [{ ...f({}), fix: 4 }, /fix that is neither/]] as const) {
    const read = readFinding(value);
    assert.equal(read.ok, false);
    assert.match((read as { reason: string }).reason, reason);
  }
});
