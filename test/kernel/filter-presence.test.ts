import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { ipsetChangeMembers, ipsetCreate, ipsetList, ipsetSave, MEMBERS_PER_MESSAGE } from '../../src/kernel/ipset.ts';
import { parseIpsetSave } from '../../src/plan/filter-ipset.ts';
import { nftChangeElements, nftFillAndWake, nftTableState } from '../../src/kernel/nft.ts';
import { NFT_ELEMENT_CHANGES_MAX, NFT_FILL_PREFIXES_MAX, parseNftJson } from '../../src/plan/filter-nft.ts';
import { iptablesTableNames } from '../../src/kernel/iptables.ts';
import { recordingRunner } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'h-pres');
requireTools('ipset', 'nft', 'iptables-nft', 'iptables-nft-save', 'iptables-legacy', 'iptables-legacy-save');

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

test('nftTableState tells whether the table of that family exists and whether it is dormant, over netlink', async () => {
  try {
    assert.equal(await nftTableState('ip', 'seaway'), 'absent');
    await run('nft', ['add', 'table', 'inet', 'seaway']);
    await run('nft', ['add', 'table', 'ip', 'seaway2']);
    assert.equal(await nftTableState('ip', 'seaway'), 'absent', 'another family or name does not count');
    await run('nft', ['add', 'table', 'ip', 'seaway']);
    assert.equal(await nftTableState('ip', 'seaway'), 'active');
    assert.equal(await nftTableState('inet', 'seaway'), 'active');
    await run('nft', ['add', 'table', 'ip', 'seaway', '{ flags dormant; }']);
    assert.equal(await nftTableState('ip', 'seaway'), 'dormant');
    assert.equal(await nftTableState('inet', 'seaway'), 'active', 'the other family\'s table is not');
    assert.equal(await nftTableState('no-such-family', 'seaway'), null, 'cannot tell: the caller lists with nft');
  } finally {
    await run('nft', ['flush', 'ruleset'], { allowFailure: true });
  }
});

test('iptablesTableNames tells the tables each iptables flavour holds without a process: none here at first, then those its save shows', async () => {
  const tablesSaved = async (mode: 'legacy' | 'nft') => [...(await run(`iptables-${mode}-save`, [])).stdout.matchAll(/^\*(\w+)$/gm)].map((m) => m[1]).sort();
  try {
    assert.deepEqual(await iptablesTableNames('nft'), []);
    assert.deepEqual(await iptablesTableNames('legacy'), []);
    await run('nft', ['add', 'table', 'ip', 'seaway']);
    await run('nft', ['add', 'table', 'ip6', 'filter']);
    await run('nft', ['add', 'table', 'inet', 'nat']);
    assert.deepEqual(await iptablesTableNames('nft'), [], 'nft tables of other names or families are not iptables\'');
    assert.deepEqual(await tablesSaved('nft'), [], 'nor does iptables-nft-save show them');
    await run('iptables-nft', ['-t', 'mangle', '-N', 'KUBE-KUBELET-CANARY']);
    await run('iptables-nft', ['-t', 'nat', '-N', 'KUBE-KUBELET-CANARY']);
    assert.deepEqual((await iptablesTableNames('nft'))?.sort(), await tablesSaved('nft'));
    assert.deepEqual((await iptablesTableNames('nft'))?.sort(), ['mangle', 'nat']);
    assert.deepEqual(await iptablesTableNames('legacy'), [], 'the other flavour holds none still');
    await run('iptables-legacy', ['-t', 'filter', '-N', 'KUBE-KUBELET-CANARY']);
    assert.deepEqual(await iptablesTableNames('legacy'), await tablesSaved('legacy'));
    assert.deepEqual(await iptablesTableNames('legacy'), ['filter']);
  } finally {
    await run('nft', ['flush', 'ruleset']);
    await run('iptables-legacy', ['-t', 'filter', '-X', 'KUBE-KUBELET-CANARY'], { allowFailure: true });
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

/** n distinct /24s from 100.64.0.0 on, in address order. */
const slash24s = (n: number) => Array.from({ length: n }, (_, i) => `${100 + (i >> 16)}.${64 + ((i >> 8) & 255)}.${i & 255}.0/24`);

test('nftChangeElements adds and deletes prefixes of interval sets as nft would, in one transaction; a refusal changes nothing', async () => {
  const table = 'swtest';
  const held = async () => {
    const listed = parseNftJson((await run('nft', ['-j', 'list', 'table', 'ip', table])).stdout);
    return Object.fromEntries([...listed.sets].map(([name, set]) => [name, [...set.members].sort()]));
  };
  try {
    await run('nft', ['-f', '-'], { input: `add table ip ${table}\nadd set ip ${table} a { type ipv4_addr; flags interval; elements = { 10.0.0.0/24, 10.0.5.0/24 }; }\nadd set ip ${table} b { type ipv4_addr; flags interval; }\n` });
    // Adjacent prefixes (one's end is the next one's start), a host, a /22, into a set made empty.
    assert.equal(await nftChangeElements('ip', table, [
      { set: 'a', add: ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.5/32', '240.1.2.128/25'], del: [] },
      { set: 'b', add: ['192.168.0.0/22'], del: [] },
    ]), true);
    assert.deepEqual(await held(), { a: ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.5/32', '10.0.5.0/24', '240.1.2.128/25'], b: ['192.168.0.0/22'] });
    assert.equal(await nftChangeElements('ip', table, [{ set: 'a', add: ['10.0.8.0/22'], del: ['10.0.1.0/24', '10.0.5.0/24'] }]), true, 'the middle of three adjacent prefixes and another deleted');
    assert.deepEqual((await held()).a, ['10.0.0.0/24', '10.0.2.0/24', '10.0.3.5/32', '10.0.8.0/22', '240.1.2.128/25']);
    assert.equal(await nftChangeElements('ip', table, [{ set: 'a', add: ['10.0.1.0/24', '10.0.2.0/24'], del: [] }]), true, 'adding one that is there too: no error, as nft add element');
    const before = await held();
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: ['172.16.0.0/24'], del: [] }, { set: 'a', add: [], del: ['10.77.0.0/24'] }]), false, 'a deletion of what is not there is refused');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: ['172.16.0.0/24'], del: [] }, { set: 'a', add: ['10.0.0.0/16'], del: [] }]), false, 'an overlapping addition is refused');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: ['172.16.0.0/24', '10.2.0.0/33'], del: [] }]), false, 'a prefix that is not one: nothing sent');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: ['255.255.255.0/24'], del: [] }]), false, 'a prefix ending at the top of the address space (no end element): nft\'s to write');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: ['172.16.0.5/24'], del: [] }]), false, 'host bits set: nft keeps them as written, so nft\'s to write');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: slash24s(30_000), del: [] }]), false, 'more than one send takes (TRANSACTION_MAX_BYTES): nft\'s to write');
    assert.deepEqual(await held(), before, 'every refused change left both sets as they were: the transaction is all or nothing');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: slash24s(1700), del: [] }]), true, 'additions past one message\'s element list (16-bit length) go in several messages of the transaction');
    assert.deepEqual((await held()).b, ['192.168.0.0/22', ...slash24s(1700)].sort());
    assert.equal(await nftChangeElements('ip', table, [{ set: 'b', add: slash24s(NFT_ELEMENT_CHANGES_MAX).slice(1700), del: slash24s(1000) }]), true, 'deletions past one message too');
    assert.deepEqual((await held()).b, ['192.168.0.0/22', ...slash24s(NFT_ELEMENT_CHANGES_MAX).slice(1000)].sort(), 'the planner\'s bound fits one send');
    assert.equal(await nftChangeElements('ip', table, [{ set: 'a', add: ['0.0.0.0/8'], del: [] }]), true, 'a prefix starting at 0.0.0.0: no separate lower bound');
    assert.ok((await held()).a!.includes('0.0.0.0/8'));
  } finally {
    await run('nft', ['delete', 'table', 'ip', table], { allowFailure: true });
  }
});


test('nftFillAndWake fills a dormant table\'s empty interval sets as nft -f would, past one message, and wakes it in the same transaction; a refusal changes nothing', async () => {
  const table = 'swfill';
  const elements = (members: readonly string[]) => (members.length > 0 ? `elements = { ${members.join(', ')} }; ` : '');
  /** The table as nft makes it: dormant with empty sets (what nftFillAndWake is for), or whole and active. */
  const tableScript = (name: string, sets: { a: readonly string[]; b: readonly string[] } | 'dormant') => {
    const held = sets === 'dormant' ? { a: [], b: [] } : sets;
    return `add table ip ${name}${sets === 'dormant' ? ' { flags dormant; }' : ''}\n`
      + `add set ip ${name} a { type ipv4_addr; flags interval; ${elements(held.a)}}\nadd set ip ${name} b { type ipv4_addr; flags interval; ${elements(held.b)}}\n`
      + `add chain ip ${name} filter_forward { type filter hook forward priority -1; policy accept; }\nadd rule ip ${name} filter_forward ip daddr @a accept\n`;
  };
  const skeleton = tableScript(table, 'dormant');
  const listed = async (name: string) => parseNftJson((await run('nft', ['-j', 'list', 'table', 'ip', name])).stdout);
  const members = async (name: string) => Object.fromEntries([...(await listed(name)).sets].map(([set, s]) => [set, [...s.members].sort()]));
  const a = slash24s(10_000);
  const b = ['0.0.0.0/8', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.5/32'];
  try {
    await run('nft', ['-f', '-'], { input: skeleton });
    assert.equal(await nftFillAndWake('ip', table, [{ set: 'a', add: [...a, '10.0.0.0/33'] }, { set: 'b', add: b }]), false, 'a prefix that is not one: nothing sent');
    assert.equal(await nftFillAndWake('ip', table, [{ set: 'a', add: a }, { set: 'b', add: [...b, '10.0.0.0/16'] }]), false, 'an overlapping prefix: the kernel refuses the transaction');
    assert.equal(await nftFillAndWake('ip', table, [{ set: 'a', add: slash24s(27_000) }]), false, 'larger than one send takes');
    assert.equal(await nftTableState('ip', table), 'dormant', 'every refusal left the table dormant');
    assert.deepEqual(await members(table), { a: [], b: [] }, 'and its sets empty: all or nothing');

    assert.equal(await nftFillAndWake('ip', table, [{ set: 'a', add: a }, { set: 'b', add: b }]), true);
    assert.equal(await nftTableState('ip', table), 'active', 'woken in the same transaction');
    // The same table written by nft itself, elements and all, holds the same members.
    await run('nft', ['-f', '-'], { input: tableScript('swbynft', { a, b }) });
    const byNft = await members('swbynft');
    assert.equal(byNft.a!.length, 10_000);
    assert.deepEqual(await members(table), byNft);
    assert.equal(await nftFillAndWake('ip', 'swnosuch', [{ set: 'a', add: ['10.0.0.0/24'] }]), false, 'a table that is not there: refused, not made');
    assert.equal(await nftTableState('ip', 'swnosuch'), 'absent');
    await run('nft', ['delete', 'table', 'ip', table]);
    // Encoded at once, sent once sendAfter fulfils: here the table is made meanwhile.
    const made = run('nft', ['-f', '-'], { input: skeleton });
    assert.equal(await nftFillAndWake('ip', table, [{ set: 'a', add: slash24s(NFT_FILL_PREFIXES_MAX) }], { sendAfter: made }), true, 'the planner\'s bound fits one send');
    assert.equal((await members(table)).a!.length, NFT_FILL_PREFIXES_MAX);
    await run('nft', ['delete', 'table', 'ip', table]);
    await run('nft', ['-f', '-'], { input: skeleton });
    const notMade = Promise.reject(new Error('nft failed'));
    await assert.rejects(nftFillAndWake('ip', table, [{ set: 'a', add: a }], { sendAfter: notMade }), /nft failed/, 'what it waited for failed: its error passes on');
    assert.equal(await nftTableState('ip', table), 'dormant', 'and nothing was sent');
    assert.deepEqual(await members(table), { a: [], b: [] });
  } finally {
    await run('nft', ['delete', 'table', 'ip', table], { allowFailure: true });
    await run('nft', ['delete', 'table', 'ip', 'swbynft'], { allowFailure: true });
  }
});

test('ipsetCreate makes hash:net sets as ipset -exist create does; one there with the same settings is no error, with others it is refused', async () => {
  try {
    assert.equal(await ipsetCreate([{ set: LOCAL, hashsize: 16384, maxelem: 262144 }, { set: REMOTE, hashsize: 1024, maxelem: 262144 }]), true);
    // The tool's own set beside it, for its header.
    await run('ipset', ['create', 'BY-THE-TOOL', 'hash:net', 'family', 'inet', 'hashsize', '16384', 'maxelem', '262144']);
    const header = async (name: string) => (await run('ipset', ['list', '-t', name])).stdout.split('\n').filter((l) => /^(Type|Revision|Header):/.test(l)).map((l) => l.replace(/ initval 0x[0-9a-f]+/, ''));
    assert.deepEqual(await header(LOCAL), await header('BY-THE-TOOL'), 'type, revision and header as the tool makes them');
    assert.equal(await ipsetCreate([{ set: LOCAL, hashsize: 16384, maxelem: 262144 }]), true, 'there with the same settings: no error, as -exist');
    assert.equal(await ipsetCreate([{ set: REMOTE, hashsize: 1024, maxelem: 65536 }]), false, 'there with other settings: refused, and the caller restores (which says why)');
    await run('ipset', ['create', 'SIX', 'hash:net', 'family', 'inet6']);
    assert.equal(await ipsetCreate([{ set: 'SIX', hashsize: 1024, maxelem: 262144 }]), false, 'a set of another family under that name: refused');
  } finally {
    await run('ipset', ['destroy'], { allowFailure: true });
  }
});
