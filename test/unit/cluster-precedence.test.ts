import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterRanks, compareRanks, explainPrecedence } from '../../src/model/cluster-precedence.ts';
import { cluster, shuffled } from './model-fixtures.ts';

test('ranks: the Cluster object\'s creationTimestamp per cluster id, null without one', () => {
  const rank = clusterRanks([cluster('west', '2023-01-01T00:00:00Z'), cluster('north', '2024-02-03T04:05:06Z')]);
  assert.deepEqual(rank('west'), { clusterId: 'west', createdAt: Date.parse('2023-01-01T00:00:00Z'), createdText: '2023-01-01T00:00:00Z' });
  assert.deepEqual(rank('south'), { clusterId: 'south', createdAt: null, createdText: null });
});

test('the cluster id comes from spec.cluster_id, else from the object name; unusable specs and timestamps count as no Cluster object', () => {
  const rank = clusterRanks([
    cluster('named-differently', '2023-01-01T00:00:00Z', { cluster_id: 'west' }),
    cluster('north', '2023-02-01T00:00:00Z', null),
    cluster('south', '2023-03-01T00:00:00Z', { cluster_id: 7 }),
    cluster('east', '2023-04-01T00:00:00Z', { cluster_id: '' }),
    cluster('broken', 'not a time'),
    cluster('empty', ''),
  ]);
  assert.equal(rank('west').createdText, '2023-01-01T00:00:00Z');
  assert.equal(rank('named-differently').createdAt, null);
  assert.equal(rank('north').createdText, '2023-02-01T00:00:00Z');
  assert.equal(rank('south').createdText, '2023-03-01T00:00:00Z');
  assert.equal(rank('east').createdText, '2023-04-01T00:00:00Z');
  assert.equal(rank('broken').createdAt, null);
  assert.equal(rank('empty').createdAt, null);
});

test('several Cluster objects for one id count by the oldest: a stale copy never demotes a cluster', () => {
  const objects = [cluster('west', '2024-05-01T00:00:00Z'), cluster('west', '2023-01-01T00:00:00Z'), cluster('west', 'garbage')];
  for (let seed = 0; seed < 6; seed++) assert.equal(clusterRanks(shuffled(objects, seed))('west').createdText, '2023-01-01T00:00:00Z');
});

test('order: older Cluster object first, then clusters without one; ties and the rest by cluster id', () => {
  const rank = clusterRanks([
    cluster('young', '2024-06-01T00:00:00Z'), cluster('old', '2020-01-01T00:00:00Z'),
    cluster('tie-b', '2022-01-01T00:00:00Z'), cluster('tie-a', '2022-01-01T00:00:00Z'),
  ]);
  const ids = ['zeta', 'young', 'alpha', 'tie-b', 'old', 'tie-a'];
  const expected = ['old', 'tie-a', 'tie-b', 'young', 'alpha', 'zeta'];
  for (let seed = 0; seed < 10; seed++) assert.deepEqual(shuffled(ids, seed).map(rank).sort(compareRanks).map((r) => r.clusterId), expected);
  assert.equal(compareRanks(rank('old'), rank('old')), 0);
});

test('explanations name why the winner goes first', () => {
  const rank = clusterRanks([cluster('a', '2020-01-01T00:00:00Z'), cluster('b', '2021-01-01T00:00:00Z'), cluster('c', '2021-01-01T00:00:00Z')]);
  assert.equal(explainPrecedence(rank('a'), rank('b')), 'cluster "a" joined first (Cluster object created 2020-01-01T00:00:00Z, "b" 2021-01-01T00:00:00Z)');
  assert.equal(explainPrecedence(rank('a'), rank('x')), 'cluster "a" has a Cluster object (created 2020-01-01T00:00:00Z) and "x" has none');
  assert.equal(explainPrecedence(rank('b'), rank('c')), 'their Cluster objects were created in the same second, so the cluster id decides ("b" before "c")');
  assert.equal(explainPrecedence(rank('x'), rank('y')), 'neither has a Cluster object, so the cluster id decides ("x" before "y")');
});
