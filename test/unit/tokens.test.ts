import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TokenRegistry, extraSpaceWarning, parseAuthorization, serviceAccountOf, serviceAccountUser, unauthorized,
} from '../../test/lab/apiserver/tokens.ts';

/** A deterministic random source: zeros, but the first byte counts 0, 1, 2, ... */
function counter(): (size: number) => Uint8Array {
  let n = 0;
  return (size) => {
    const bytes = new Uint8Array(size);
    bytes[0] = n++;
    return bytes;
  };
}

test('a service account token resolves to its user with the groups kube-apiserver gives it', () => {
  const registry = new TokenRegistry();
  const token = registry.issueServiceAccount('submariner-operator', 'submariner-routeagent');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.deepEqual(registry.resolve(token), {
    name: 'system:serviceaccount:submariner-operator:submariner-routeagent',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:submariner-operator', 'system:authenticated'],
  });
  assert.deepEqual(registry.resolve(token), serviceAccountUser('submariner-operator', 'submariner-routeagent'));
  assert.equal(registry.resolve(`${token}x`), undefined);
  assert.equal(registry.resolve(''), undefined);
  // Two tokens for one account are distinct and both valid.
  const second = registry.issueServiceAccount('submariner-operator', 'submariner-routeagent');
  assert.notEqual(second, token);
  assert.equal(registry.resolve(second)?.name, 'system:serviceaccount:submariner-operator:submariner-routeagent');
  assert.equal(registry.size, 2);
});

test('the admin token is in system:masters; a resolved user is a copy', () => {
  const registry = new TokenRegistry();
  const token = registry.issueAdmin();
  const user = registry.resolve(token);
  assert.deepEqual(user, { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
  (user?.groups as string[]).push('extra');
  assert.deepEqual(registry.resolve(token)?.groups, ['system:masters', 'system:authenticated']);
  assert.throws(() => registry.issueAdmin('system:serviceaccount:ns:sa'), /invalid admin user name/);
  assert.throws(() => registry.issueAdmin(''), /invalid admin user name/);
});

test('revoking one token, or every token of a deleted service account', () => {
  const registry = new TokenRegistry();
  const a1 = registry.issueServiceAccount('ns', 'a');
  const a2 = registry.issueServiceAccount('ns', 'a');
  const b = registry.issueServiceAccount('ns', 'b');
  const otherNs = registry.issueServiceAccount('other', 'a');
  assert.equal(registry.revoke(a1), true);
  assert.equal(registry.revoke(a1), false);
  assert.equal(registry.resolve(a1), undefined);
  assert.ok(registry.resolve(a2));
  registry.issueServiceAccount('ns', 'a');
  assert.equal(registry.revokeServiceAccount('ns', 'a'), 2);
  assert.equal(registry.resolve(a2), undefined);
  assert.ok(registry.resolve(b));
  assert.ok(registry.resolve(otherNs), 'same name in another namespace is another account');
});

test('tokens come from the random source given; a repeating source is refused, a short one too', () => {
  const fixed = new TokenRegistry({ randomBytes: (size) => new Uint8Array(size).fill(7) });
  const token = fixed.issueServiceAccount('ns', 'sa');
  assert.equal(token, Buffer.alloc(32, 7).toString('base64url'));
  assert.throws(() => fixed.issueServiceAccount('ns', 'other'), /repeated itself/);
  assert.equal(fixed.resolve(token)?.name, 'system:serviceaccount:ns:sa', 'the first token is unaffected');
  const counting = new TokenRegistry({ randomBytes: counter() });
  assert.notEqual(counting.issueServiceAccount('ns', 'a'), counting.issueServiceAccount('ns', 'b'));
  assert.throws(() => new TokenRegistry({ tokenBytes: 8 }).issueAdmin(), /at least 16 random bytes/);
});

test('service account names are checked so a username cannot be ambiguous', () => {
  const registry = new TokenRegistry();
  for (const [ns, name] of [['ns:x', 'sa'], ['ns', 'sa:x'], ['', 'sa'], ['ns', ''], ['NS', 'sa'], ['ns', 'SA'], ['a.b', 'sa'], ['-ns', 'sa'], ['x'.repeat(64), 'sa']]) {
    assert.throws(() => registry.issueServiceAccount(ns ?? '', name ?? ''), /invalid/, `${ns}/${name}`);
  }
  assert.ok(registry.issueServiceAccount('ns', 'a.b-c'), 'a service account name may be a DNS subdomain');
  assert.deepEqual(serviceAccountOf('system:serviceaccount:ns:sa'), { namespace: 'ns', name: 'sa' });
  for (const u of ['system:serviceaccount:ns', 'system:serviceaccount:ns:sa:x', 'system:serviceaccount::sa', 'alice', 'system:serviceaccounts:ns']) {
    assert.equal(serviceAccountOf(u), undefined, u);
  }
});

test('the Authorization header is read as kube-apiserver reads it', () => {
  const cases: Array<[string | string[] | undefined, ReturnType<typeof parseAuthorization>]> = [
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['   ', { kind: 'none' }],
    ['Bearer abc', { kind: 'bearer', token: 'abc' }],
    ['bearer abc', { kind: 'bearer', token: 'abc' }],
    ['BEARER abc', { kind: 'bearer', token: 'abc' }],
    ['  Bearer abc  ', { kind: 'bearer', token: 'abc' }],
    ['Bearer abc def', { kind: 'bearer', token: 'abc' }], // the second space-separated part is the token
    ['Bearer  abc', { kind: 'none', warning: extraSpaceWarning }], // an empty token: no credential, a warning
    ['Bearer', { kind: 'none' }],
    ['Bearer ', { kind: 'none' }],
    ['Bearer\tabc', { kind: 'none' }], // only a space separates
    ['Basic YWxpY2U6cHc=', { kind: 'none' }],
    ['Bearerabc', { kind: 'none' }],
    [['Bearer first', 'Bearer second'], { kind: 'bearer', token: 'first' }],
  ];
  for (const [header, want] of cases) assert.deepEqual(parseAuthorization(header), want, JSON.stringify(header));
});

test('authentication: known token, unknown token (401, never anonymous), no credentials (anonymous or 401)', () => {
  const registry = new TokenRegistry();
  const token = registry.issueServiceAccount('ns', 'sa');
  assert.deepEqual(registry.authenticate(`Bearer ${token}`), { ok: true, user: serviceAccountUser('ns', 'sa') });
  for (const header of ['Bearer not-a-token', `Bearer ${token.slice(1)}`, `bearer ${token}x`]) {
    const result = registry.authenticate(header);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.deepEqual(result.error.toStatus(), {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401,
    });
  }
  const anonymous = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
  assert.deepEqual(registry.authenticate(undefined), { ok: true, user: anonymous });
  assert.deepEqual(registry.authenticate('Basic YWxpY2U6cHc='), { ok: true, user: anonymous });
  assert.deepEqual(registry.authenticate(`Bearer  ${token}`), { ok: true, user: anonymous, warning: extraSpaceWarning });
  const strict = registry.authenticate(undefined, { anonymous: false });
  assert.ok(!strict.ok);
  assert.equal(strict.error.code, 401);
  assert.equal(registry.authenticate(`Bearer ${token}`, { anonymous: false }).ok, true);
});

test('no token appears in any error, status or state the registry shows', () => {
  const registry = new TokenRegistry();
  const token = registry.issueServiceAccount('ns', 'sa');
  const failure = registry.authenticate(`Bearer ${token}x`);
  assert.ok(!failure.ok);
  const shown = [JSON.stringify(failure.error.toStatus()), failure.error.message, failure.error.stack ?? '',
    JSON.stringify(registry), String(registry), JSON.stringify(unauthorized().toStatus())].join('\n');
  assert.ok(!shown.includes(token), 'the token is not shown');
  assert.ok(!shown.includes(token.slice(0, 12)), 'nor a prefix of it');
  // The registry keeps digests only: nothing enumerable on it holds the token.
  assert.deepEqual(Object.keys(registry), []);
});
