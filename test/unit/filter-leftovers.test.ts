import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hooksWithOwnedJumps, parseIptablesSave } from '../../src/plan/filter-iptables.ts';
import { planIptablesNftLeftovers, type NftObserved } from '../../src/plan/filter-nft.ts';

const SAVE = `*mangle
:POSTROUTING ACCEPT [0:0]
:SUBMARINER-POSTROUTING - [0:0]
-A POSTROUTING -j SUBMARINER-POSTROUTING
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
:SUBMARINER-POSTROUTING - [0:0]
-A POSTROUTING -j SUBMARINER-POSTROUTING
-A POSTROUTING -s 10.1.0.0/16 ! -d 10.1.0.0/16 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SUBMARINER-FORWARD - [0:0]
:SUBMARINER-INPUT - [0:0]
-A INPUT -j SUBMARINER-INPUT
-A FORWARD -j SUBMARINER-FORWARD
COMMIT
`;

const chain = (hook: string | undefined, policy: string | undefined, rules: string[] = []) => ({ type: 'filter', hook, prio: 0, policy, rules });
const table = (chains: Record<string, ReturnType<typeof chain>>, sets = 0): NftObserved => ({
  chains: new Map(Object.entries(chains)),
  sets: new Map(Array.from({ length: sets }, (_, i) => [`s${i}`, { type: 'ipv4_addr', flags: [], members: new Set<string>() }])),
});

test('hooksWithOwnedJumps finds the built-in chains holding a jump to a seaway chain, and only those', () => {
  assert.deepEqual(hooksWithOwnedJumps(parseIptablesSave(SAVE)), [
    { table: 'mangle', hook: 'POSTROUTING' }, { table: 'nat', hook: 'POSTROUTING' },
    { table: 'filter', hook: 'INPUT' }, { table: 'filter', hook: 'FORWARD' },
  ]);
  assert.deepEqual(hooksWithOwnedJumps(parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n')), []);
  assert.deepEqual(hooksWithOwnedJumps(new Map()), []);
});

test('after cleanup: empty accept base chains seaway jumped from are deleted, a table left empty goes whole, everything else stays', () => {
  const hooks = hooksWithOwnedJumps(parseIptablesSave(SAVE));
  const script = planIptablesNftLeftovers(hooks, new Map<string, NftObserved | null>([
    ['mangle', table({ POSTROUTING: chain('postrouting', 'accept') })],
    ['nat', table({ POSTROUTING: chain('postrouting', 'accept', ['ip saddr 10.1.0.0/16 masquerade']) })],
    ['filter', table({ INPUT: chain('input', 'accept'), FORWARD: chain('forward', 'drop'), OUTPUT: chain('output', 'accept') })],
  ]));
  assert.equal(script, 'delete table ip mangle\ndelete chain ip filter INPUT\n',
    'mangle: only seaway\'s chain, now empty; nat: the CNI\'s rule stays; filter: FORWARD has a drop policy, OUTPUT was never seaway\'s');
});

test('nothing is planned for chains seaway never jumped from, missing tables, or tables with sets', () => {
  assert.equal(planIptablesNftLeftovers([], new Map([['mangle', table({ POSTROUTING: chain('postrouting', 'accept') })]])), null);
  assert.equal(planIptablesNftLeftovers([{ table: 'mangle', hook: 'POSTROUTING' }], new Map([['mangle', null]])), null);
  assert.equal(planIptablesNftLeftovers([{ table: 'mangle', hook: 'POSTROUTING' }], new Map([['mangle', table({ POSTROUTING: chain('postrouting', 'accept') }, 1)]])),
    'delete chain ip mangle POSTROUTING\n', 'a table with a set is kept; only the chain goes');
  assert.equal(planIptablesNftLeftovers([{ table: 'filter', hook: 'FORWARD' }], new Map([['filter', table({ FORWARD: chain(undefined, undefined) })]])), null,
    'a regular chain of that name is not a base chain');
});
