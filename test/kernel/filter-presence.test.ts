import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { ipsetChangeMembers, ipsetList, ipsetSave, MEMBERS_PER_MESSAGE } from '../../src/kernel/ipset.ts';
import { parseIpsetSave } from '../../src/plan/filter-ipset.ts';
import { nftTablePresent } from '../../src/kernel/nft.ts';
import { recordingRunner } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'h-pres');
requireTools('ipset', 'nft');

const LOCAL = 'SUBMARINER-LOCALCIDRS';
const REMOTE = 'SUBMARINER-REMOTECIDRS';

test('ipset save (the fallback) keeps exactly the named sets\' lines', async () => {
  try {
    assert.equal(await ipsetSave(run, [LOCAL, REMOTE]), '');
    await run('ipset', ['restore'], { input: `create CNI-OWN hash:ip\ncreate ${LOCAL}-X hash:net\ncreate ${REMOTE} hash:net\nadd ${REMOTE} 10.2.0.0/16\n` });
    assert.match(await ipsetSave(run, [LOCAL, REMOTE]), new RegExp(`^create ${REMOTE} hash:net .*\nadd ${REMOTE} 10.2.0.0/16\n$`));
  } finally {
    await run('ipset', ['destroy'], { allowFailure: true });
  }
});

test('nftTablePresent tells whether the table of that family exists, over netlink', async () => {
  try {
    assert.equal(await nftTablePresent('ip', 'seaway'), false);
    await run('nft', ['add', 'table', 'inet', 'seaway']);
    await run('nft', ['add', 'table', 'ip', 'seaway2']);
    assert.equal(await nftTablePresent('ip', 'seaway'), false, 'another family or name does not count');
    await run('nft', ['add', 'table', 'ip', 'seaway']);
    assert.equal(await nftTablePresent('ip', 'seaway'), true);
    assert.equal(await nftTablePresent('inet', 'seaway'), true);
    assert.equal(await nftTablePresent('no-such-family', 'seaway'), null, 'cannot tell: the caller lists with nft');
  } finally {
    await run('nft', ['flush', 'ruleset'], { allowFailure: true });
  }
});

test('ipsetList reads exactly what ipset save shows of the named sets, over netlink and without a process', async () => {
  try {
    assert.deepEqual(await ipsetList([LOCAL, REMOTE]), new Map(), 'no set yet: an empty answer, not a failure');
    const members = Array.from({ length: 5000 }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`);
    await run('ipset', ['restore'], {
      input: [
        `create ${REMOTE} hash:net family inet hashsize 8192`, ...members.map((m) => `add ${REMOTE} ${m}`), `add ${REMOTE} 10.9.9.9`,
        `create ${LOCAL} hash:net family inet`, `add ${LOCAL} 10.1.0.0/16`,
        `create ${LOCAL}-X hash:ip family inet`, `add ${LOCAL}-X 10.1.0.1`,
        'create SIX hash:net family inet6', 'add SIX fd00::/64',
      ].join('\n') + '\n',
    });
    const rec = recordingRunner();
    const listed = await ipsetList([LOCAL, REMOTE]);
    assert.equal(rec.calls.length, 0);
    assert.ok(listed);
    const saved = parseIpsetSave(await ipsetSave(run, [LOCAL, REMOTE]));
    assert.deepEqual([...listed.keys()].sort(), [LOCAL, REMOTE]);
    for (const name of [LOCAL, REMOTE]) {
      assert.equal(listed.get(name)?.type, saved.get(name)?.type);
      assert.deepEqual([...listed.get(name)!.members].sort(), [...saved.get(name)!.members].sort(), name);
    }
    assert.equal(listed.get(REMOTE)?.members.size, 5001, 'a member list long enough to span many netlink messages');
    assert.ok(listed.get(REMOTE)?.members.has('10.9.9.9/32'), 'a host member as /32, as the planner writes it');
    assert.equal(await ipsetList(['SIX']), null, 'an IPv6 set is not understood: the caller falls back to ipset save');
  } finally {
    await run('ipset', ['destroy'], { allowFailure: true });
  }
});

test('ipsetChangeMembers adds and deletes members over netlink as ipset -exist restore would; a set that is not there is refused', async () => {
  try {
    await run('ipset', ['restore'], { input: `create ${REMOTE} hash:net family inet maxelem 262144\nadd ${REMOTE} 10.2.0.0/16\nadd ${REMOTE} 10.3.0.0/24\n` });
    assert.equal(await ipsetChangeMembers(REMOTE, ['10.4.0.0/24', '192.168.1.12/32', '240.1.2.128/25'], ['10.3.0.0/24']), true);
    const held = async () => [...parseIpsetSave((await run('ipset', ['save', REMOTE])).stdout).get(REMOTE)!.members].sort();
    assert.deepEqual(await held(), ['10.2.0.0/16', '10.4.0.0/24', '192.168.1.12/32', '240.1.2.128/25'], 'the set holds exactly the result (an address past 127 in network byte order)');
    assert.equal(await ipsetChangeMembers(REMOTE, ['10.4.0.0/24'], ['10.3.0.0/24']), true, 'adding a member that is there and deleting one that is not: no error, as -exist');
    assert.deepEqual(await held(), ['10.2.0.0/16', '10.4.0.0/24', '192.168.1.12/32', '240.1.2.128/25']);
    assert.equal(await ipsetChangeMembers(`${LOCAL}-MISSING`, ['10.9.0.0/24'], []), false, 'no such set: refused, and the caller restores instead');
  } finally {
    await run('ipset', ['destroy'], { allowFailure: true });
  }
});

test('ipsetChangeMembers writes members past one message and one send (lists of MEMBERS_PER_MESSAGE); a refused member fails the change', async () => {
  try {
    await run('ipset', ['restore'], { input: `create ${REMOTE} hash:net family inet hashsize 16384 maxelem 262144\nadd ${REMOTE} 10.0.0.0/24\n` });
    // 3.5 messages of additions (several sends' worth of bytes), then deletions over two messages.
    const many = Array.from({ length: Math.floor(MEMBERS_PER_MESSAGE * 3.5) }, (_, i) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
    assert.equal(await ipsetChangeMembers(REMOTE, many, ['10.0.0.0/24']), true);
    const held = async () => parseIpsetSave((await run('ipset', ['save', REMOTE])).stdout).get(REMOTE)!.members;
    assert.deepEqual([...await held()].sort(), [...many].sort(), 'the set holds exactly the additions');
    const gone = many.slice(0, MEMBERS_PER_MESSAGE + 1);
    assert.equal(await ipsetChangeMembers(REMOTE, [], gone), true);
    assert.equal((await held()).size, many.length - gone.length);
    assert.equal(await ipsetChangeMembers(REMOTE, ['10.1.0.0/24', '10.2.0.0/33'], []), false, 'a member that is not a CIDR: nothing is sent, the caller restores');
    assert.equal((await held()).has('10.1.0.0/24'), false);
    await run('ipset', ['create', LOCAL, 'hash:net', 'family', 'inet', 'maxelem', '16']);
    assert.equal(await ipsetChangeMembers(LOCAL, many.slice(0, 100), []), false, 'the kernel refuses a list past the set\'s maxelem: refused, and the caller restores');
  } finally {
    await run('ipset', ['destroy'], { allowFailure: true });
  }
});
