import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonPatch, mergePatch, type Json } from './apiserver/patch.ts';
import { parseFieldSelector, parseLabelSelector } from './apiserver/selectors.ts';
import { ApiError } from './apiserver/status.ts';
import { Store, type KubeObject } from './apiserver/store.ts';

const labels = { app: 'seaway', tier: 'gw', zone: 'eu-1', 'submariner.io/gateway': 'true', replicas: '3' };

test('label selectors match as Kubernetes does', () => {
  const cases: Array<[string, boolean]> = [
    ['', true], ['app=seaway', true], ['app==seaway', true], ['app = seaway', true], ['app!=seaway', false],
    ['app!=other', true], ['missing!=x', true], ['missing=x', false], ['app', true], ['missing', false],
    ['!missing', true], ['!app', false], ['tier in (gw,node)', true], ['tier in (node)', false],
    ['tier notin (node)', true], ['missing notin (a)', true], ['missing in (a)', false], ['tier in (gw), zone=eu-1', true],
    ['tier in (gw),zone=us', false], ['submariner.io/gateway=true', true], ['replicas>2', true], ['replicas<3', false],
    ['app=', false], ['empty=', false], ['zone in (eu-1, )', true],
  ];
  for (const [selector, expected] of cases) assert.equal(parseLabelSelector(selector)(labels), expected, selector);
  assert.equal(parseLabelSelector('missing')(undefined), false);
  assert.equal(parseLabelSelector('!missing')(undefined), true);
  assert.equal(parseLabelSelector('a=')({ a: '' }), true);
});

test('malformed label selectors are 400 errors', () => {
  for (const selector of ['a in b', 'a in (b', 'a in (b c)', '=b', 'a=b=c', 'a=b,', ',a', 'a b', 'a>b', 'a notin', 'bad key!=1', 'a=b c', 'a=@@', '!']) {
    assert.throws(() => parseLabelSelector(selector), (e: unknown) => e instanceof ApiError && e.code === 400, selector);
  }
});

test('field selectors: =, ==, != over supported fields; escapes; unknown fields and bad syntax are 400', () => {
  const object = { metadata: { name: 'n,1', namespace: 'ns' }, spec: { unschedulable: true } };
  const fields = ['metadata.name', 'metadata.namespace', 'spec.unschedulable'];
  const cases: Array<[string, boolean]> = [
    ['metadata.name=n\\,1', true], ['metadata.namespace==ns', true], ['metadata.namespace!=ns', false],
    ['metadata.namespace=ns,metadata.name!=x', true], ['spec.unschedulable=true', true], ['', true],
  ];
  for (const [selector, expected] of cases) assert.equal(parseFieldSelector(selector, fields)(object), expected, selector);
  assert.equal(parseFieldSelector('spec.unschedulable=false', fields)({ metadata: { name: 'x' } }), true, 'an unset boolean is false');
  for (const selector of ['spec.other=x', 'metadata.name', 'metadata.name=a,,x=y']) {
    assert.throws(() => parseFieldSelector(selector, fields), (e: unknown) => e instanceof ApiError && e.code === 400, selector);
  }
});

test('merge patch follows RFC 7386', () => {
  const cases: Array<[Json, Json, Json]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }], [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }], [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }], [{ a: ['b'] }, { a: 'c' }, { a: 'c' }], [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }], [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']], [{ a: 'b' }, ['c'], ['c']], [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }], [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) assert.deepEqual(mergePatch(target, patch), expected, JSON.stringify(patch));
});

test('JSON patch follows RFC 6902 and leaves the input untouched', () => {
  const doc: Json = { a: { b: [1, 2] }, c: 'x', 'd/e': 1, 'f~g': 2 };
  const original = structuredClone(doc);
  assert.deepEqual(jsonPatch(doc, [
    { op: 'add', path: '/a/b/1', value: 9 }, { op: 'add', path: '/a/b/-', value: 3 }, { op: 'remove', path: '/c' },
    { op: 'replace', path: '/d~1e', value: 5 }, { op: 'copy', from: '/f~0g', path: '/h' }, { op: 'move', from: '/h', path: '/i' },
    { op: 'test', path: '/a/b', value: [1, 9, 2, 3] },
  ]), { a: { b: [1, 9, 2, 3] }, 'd/e': 5, 'f~g': 2, i: 2 });
  assert.deepEqual(doc, original);
  assert.deepEqual(jsonPatch(doc, [{ op: 'replace', path: '', value: [1] }]), [1]);
  assert.deepEqual(jsonPatch(doc, []), doc);
});

test('JSON patch: malformed documents are 400, inapplicable ones 422', () => {
  const doc: Json = { a: [1], b: { c: 1 } };
  const malformed = [{}, 'x', [1], [{ op: 'jump', path: '/a' }], [{ op: 'add', path: 'a', value: 1 }], [{ op: 'add', path: '/a' }], [{ op: 'remove', path: 3 }]];
  for (const patch of malformed) assert.throws(() => jsonPatch(doc, patch), (e: unknown) => e instanceof ApiError && e.code === 400, JSON.stringify(patch));
  const inapplicable = [
    [{ op: 'remove', path: '/nope' }], [{ op: 'replace', path: '/b/x', value: 1 }], [{ op: 'add', path: '/a/5', value: 1 }],
    [{ op: 'add', path: '/a/x', value: 1 }], [{ op: 'test', path: '/b/c', value: 2 }], [{ op: 'add', path: '/x/y', value: 1 }],
    [{ op: 'move', from: '/b', path: '/b/c/d' }], [{ op: 'remove', path: '/a/1' }],
  ];
  for (const patch of inapplicable) assert.throws(() => jsonPatch(doc, patch), (e: unknown) => e instanceof ApiError && e.code === 422, JSON.stringify(patch));
});

const obj = (name: string, namespace = 'ns'): KubeObject => ({ apiVersion: 'v1', kind: 'Thing', metadata: { name, namespace } });

test('store: one global increasing resourceVersion, sorted lists, history bounded by the limit, compaction', () => {
  const store = new Store(3);
  const seen: string[] = [];
  const unsubscribe = store.subscribe('k', (c) => seen.push(`${c.type} ${c.object.metadata.name} ${c.resourceVersion}`));
  const a = store.add('k', obj('b'));
  store.add('other', obj('x'));
  const b = store.add('k', obj('a', 'ms'));
  store.replace('k', { ...obj('b'), spec: 1 }, a);
  store.remove('k', b);
  unsubscribe();
  store.add('k', obj('c'));
  assert.deepEqual(seen, ['ADDED b 1', 'ADDED a 3', 'MODIFIED b 4', 'DELETED a 5']);
  assert.deepEqual(store.list('k').map((o) => o.metadata.name), ['b', 'c']);
  assert.equal(store.get('k', 'ns', 'b')?.metadata.resourceVersion, '4');
  assert.equal(store.count('k'), 2);
  // Six writes, three kept: versions 4, 5, 6 remain; watching from 3 needs only those.
  assert.deepEqual(store.changesSince('k', 0), { expiredBefore: 3 });
  const since3 = store.changesSince('k', 3);
  assert.ok('changes' in since3);
  assert.deepEqual(since3.changes.map((c) => c.resourceVersion), [4, 5, 6]);
  assert.equal(store.compact(), 6);
  assert.deepEqual(store.changesSince('k', 5), { expiredBefore: 6 });
  assert.deepEqual(store.changesSince('k', 6), { changes: [] });
});

test('store: history trimming stays correct over many writes', () => {
  const store = new Store(100);
  let previous = store.add('k', obj('o'));
  for (let i = 0; i < 20_000; i++) previous = store.replace('k', { ...obj('o'), spec: i }, previous);
  const since = store.changesSince('k', store.resourceVersion - 10);
  assert.ok('changes' in since);
  assert.equal(since.changes.length, 10);
  assert.deepEqual(store.changesSince('k', store.resourceVersion - 101), { expiredBefore: store.resourceVersion - 100 });
});
