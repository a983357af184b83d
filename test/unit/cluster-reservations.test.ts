import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterCidrs, reservations } from '../../src/model/cluster-reservations.ts';
import { clusterIdOf } from '../../src/model/cluster-precedence.ts';
import { formatCidr } from '../../src/model/cidr.ts';
import { cluster } from './model-fixtures.ts';

const texts = (cidrs: ReturnType<typeof clusterCidrs>) => cidrs.map(formatCidr);

test('a Cluster object\'s CIDRs: cluster_cidr, service_cidr and global_cidr, IPv4 only, garbage skipped', () => {
  assert.deepEqual(texts(clusterCidrs({ cluster_cidr: ['10.2.0.0/16', 'fd00::/64'], service_cidr: ['10.102.0.0/16'], global_cidr: ['242.1.0.0/16'] })), ['10.2.0.0/16', '10.102.0.0/16', '242.1.0.0/16']);
  assert.deepEqual(texts(clusterCidrs({ cluster_cidr: '10.2.0.0/16', service_cidr: [7, null, '10.3.0.0/33', '0.0.0.0/0', '10.4.1.1/16'] })), ['10.4.0.0/16']);
  for (const spec of [null, undefined, 'x', [], {}, { cluster_cidr: null }]) assert.deepEqual(clusterCidrs(spec), [], JSON.stringify(spec));
  assert.equal(clusterCidrs({ cluster_cidr: new Array(100_000).fill('10.2.0.0/16') }).length, 64, 'a huge list is not walked');
});

test('reservations: remote clusters with a Cluster object and no Endpoint; never the local cluster', () => {
  const clusters = [
    cluster('west', '2023-01-01T00:00:00Z', { cluster_id: 'west', cluster_cidr: ['10.2.0.0/16'] }),
    cluster('north', '2023-01-01T00:00:00Z', { cluster_id: 'north', cluster_cidr: ['10.3.0.0/16'] }),
    cluster('east', '2023-01-01T00:00:00Z', { cluster_id: 'east', cluster_cidr: ['10.244.0.0/16'] }),
    cluster('empty', '2023-01-01T00:00:00Z', { cluster_id: 'empty' }),
    cluster('west-copy', '2024-01-01T00:00:00Z', { cluster_id: 'west', service_cidr: ['10.102.0.0/16'] }),
  ];
  const found = reservations(clusters, clusterIdOf, new Set(['north']), 'east');
  assert.deepEqual(found.map((r) => [r.clusterId, r.object, texts(r.cidrs)]), [['west', 'submariner-operator/west', ['10.2.0.0/16', '10.102.0.0/16']]]);
  assert.deepEqual(reservations(clusters, clusterIdOf, new Set(['north', 'west']), 'east'), []);
});
