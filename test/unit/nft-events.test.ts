import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, cstring, u32 } from '../../src/kernel/netlink/codec.ts';
import { nftChangedTables } from '../../src/kernel/nft-events.ts';

const NFT = 10 << 8;
const message = (msg: number, family: number, attributes: Buffer[], subsystem = NFT) =>
  ({ type: subsystem | msg, flags: 0, seq: 0, payload: Buffer.concat([Buffer.from([family, 0, 0, 0]), ...attributes]) });

test('nf_tables notifications name the tables they changed, by family and name', () => {
  const tables = nftChangedTables([
    message(0, 2, [attr(1, cstring('seaway')), attr(2, u32(0))]), // new table ip seaway
    message(6, 2, [attr(1, cstring('filter')), attr(2, cstring('FORWARD'))]), // new rule in ip filter
    message(12, 1, [attr(1, cstring('kube-proxy')), attr(2, cstring('cluster-ips'))]), // elements in inet kube-proxy
    message(14, 10, [attr(1, cstring('nat'))]), // deleted elements in ip6 nat
    message(2, 2, [attr(1, cstring('seaway'))]), // the same table again
  ]);
  assert.deepEqual([...tables].sort(), ['inet kube-proxy', 'ip filter', 'ip seaway', 'ip6 nat']);
});

test('generation markers, other netfilter subsystems, truncated and nameless messages name no table', () => {
  assert.deepEqual([...nftChangedTables([
    message(15, 0, [attr(1, u32(42))]), // NFT_MSG_NEWGEN: its attribute 1 is the generation id
    message(0, 2, [attr(1, cstring('conntrack'))], 1 << 8), // a ctnetlink message
    { type: NFT | 0, flags: 0, seq: 0, payload: Buffer.from([2, 0]) },
    message(3, 2, []),
    message(0, 99, [attr(1, cstring('odd'))]),
  ])], ['family99 odd']);
});
