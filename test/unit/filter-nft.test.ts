import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateFilter } from '../../src/plan/filter-input.ts';
import { decompileRule, filterNotifications, NFT_ELEMENT_CHANGES_MAX, NFT_FILL_PREFIXES_MAX, NftParseError, parseNftJson, planNft, planNftWrite, renderNft, renderNftTable } from '../../src/plan/filter-nft.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';

const desired: DesiredFilter = {
  localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16', '10.3.1.5/32'], nodeAddresses: ['192.168.1.10/32', '192.168.1.11/32'], cniAddress: '10.1.0.1',
  vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'fixed', mss: 1300 },
};
const rendered = renderNft(validateFilter(desired));

/** `nft -j list table ip seaway` from nft 1.0.6 after seaway applied `desired`. */
const LISTED = JSON.stringify({"nftables": [{"metainfo": {"version": "1.0.6","release_name": "Lester Gooch #5","json_schema_version": 1}},{"table": {"family": "ip","name": "seaway","handle": 2}},{"set": {"family": "ip","name": "localcidrs","table": "seaway","type": "ipv4_addr","handle": 1,"flags": ["interval"],"elem": [{"prefix": {"addr": "10.1.0.0","len": 16}}]}},{"set": {"family": "ip","name": "remotecidrs","table": "seaway","type": "ipv4_addr","handle": 2,"flags": ["interval"],"elem": [{"prefix": {"addr": "10.2.0.0","len": 16}},"10.3.1.5"]}},{"set": {"family": "ip","name": "nodeaddrs","table": "seaway","type": "ipv4_addr","handle": 3,"flags": ["interval"],"elem": ["192.168.1.10","192.168.1.11"]}},{"chain": {"family": "ip","table": "seaway","name": "nat_postrouting","handle": 4,"type": "nat","hook": "postrouting","prio": 99,"policy": "accept"}},{"chain": {"family": "ip","table": "seaway","name": "filter_input","handle": 8,"type": "filter","hook": "input","prio": -1,"policy": "accept"}},{"chain": {"family": "ip","table": "seaway","name": "filter_forward","handle": 10,"type": "filter","hook": "forward","prio": -1,"policy": "accept"}},{"chain": {"family": "ip","table": "seaway","name": "mangle_postrouting","handle": 12,"type": "filter","hook": "postrouting","prio": -151,"policy": "accept"}},{"rule": {"family": "ip","table": "seaway","chain": "nat_postrouting","handle": 5,"expr": [{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": "@localcidrs"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "daddr"}},"right": "@remotecidrs"}},{"snat": {"addr": {"payload": {"protocol": "ip","field": "saddr"}}}}]}},{"rule": {"family": "ip","table": "seaway","chain": "nat_postrouting","handle": 6,"expr": [{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": "@remotecidrs"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "daddr"}},"right": "@localcidrs"}},{"snat": {"addr": {"payload": {"protocol": "ip","field": "saddr"}}}}]}},{"rule": {"family": "ip","table": "seaway","chain": "nat_postrouting","handle": 7,"expr": [{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": {"prefix": {"addr": "240.0.0.0","len": 8}}}},{"match": {"op": "==","left": {"meta": {"key": "oifname"}},"right": "vx-submariner"}},{"snat": {"addr": "10.1.0.1"}}]}},{"rule": {"family": "ip","table": "seaway","chain": "filter_input","handle": 9,"expr": [{"match": {"op": "==","left": {"payload": {"protocol": "udp","field": "dport"}},"right": 4800}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": "@nodeaddrs"}},{"accept": null}]}},{"rule": {"family": "ip","table": "seaway","chain": "filter_forward","handle": 11,"expr": [{"match": {"op": "==","left": {"meta": {"key": "oifname"}},"right": "vx-submariner"}},{"accept": null}]}},{"rule": {"family": "ip","table": "seaway","chain": "mangle_postrouting","handle": 13,"expr": [{"match": {"op": "==","left": {"&": [{"payload": {"protocol": "tcp","field": "flags"}},["syn","rst"]]},"right": "syn"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": "@localcidrs"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "daddr"}},"right": "@remotecidrs"}},{"mangle": {"key": {"tcp option": {"name": "maxseg","field": "size"}},"value": 1300}}]}},{"rule": {"family": "ip","table": "seaway","chain": "mangle_postrouting","handle": 14,"expr": [{"match": {"op": "==","left": {"&": [{"payload": {"protocol": "tcp","field": "flags"}},["syn","rst"]]},"right": "syn"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "saddr"}},"right": "@remotecidrs"}},{"match": {"op": "==","left": {"payload": {"protocol": "ip","field": "daddr"}},"right": "@localcidrs"}},{"mangle": {"key": {"tcp option": {"name": "maxseg","field": "size"}},"value": 1300}}]}}]});

test('renders the exact nft table text', () => {
  assert.equal(renderNftTable(rendered), [
    'add table ip seaway',
    'delete table ip seaway',
    'add table ip seaway',
    'add set ip seaway localcidrs { type ipv4_addr; flags interval; elements = { 10.1.0.0/16 }; }',
    'add set ip seaway remotecidrs { type ipv4_addr; flags interval; elements = { 10.2.0.0/16, 10.3.1.5/32 }; }',
    'add set ip seaway nodeaddrs { type ipv4_addr; flags interval; elements = { 192.168.1.10/32, 192.168.1.11/32 }; }',
    'add chain ip seaway nat_postrouting { type nat hook postrouting priority 99; policy accept; }',
    'add rule ip seaway nat_postrouting ip saddr @localcidrs ip daddr @remotecidrs snat to ip saddr',
    'add rule ip seaway nat_postrouting ip saddr @remotecidrs ip daddr @localcidrs snat to ip saddr',
    'add rule ip seaway nat_postrouting ip saddr 240.0.0.0/8 oifname "vx-submariner" snat to 10.1.0.1',
    'add chain ip seaway filter_input { type filter hook input priority -1; policy accept; }',
    'add rule ip seaway filter_input udp dport 4800 ip saddr @nodeaddrs accept',
    'add chain ip seaway filter_forward { type filter hook forward priority -1; policy accept; }',
    'add rule ip seaway filter_forward oifname "vx-submariner" accept',
    'add chain ip seaway mangle_postrouting { type filter hook postrouting priority -151; policy accept; }',
    'add rule ip seaway mangle_postrouting tcp flags & (syn | rst) == syn ip saddr @localcidrs ip daddr @remotecidrs tcp option maxseg size set 1300',
    'add rule ip seaway mangle_postrouting tcp flags & (syn | rst) == syn ip saddr @remotecidrs ip daddr @localcidrs tcp option maxseg size set 1300',
    '',
  ].join('\n'));
});

test('empty sets are declared without elements; no SNAT rule without a CNI address; pmtu clamp', () => {
  const text = renderNftTable(renderNft(validateFilter({ ...desired, remoteCidrs: [], cniAddress: undefined, mssClamp: { mode: 'pmtu' } })));
  assert.match(text, /add set ip seaway remotecidrs \{ type ipv4_addr; flags interval; \}\n/);
  assert.doesNotMatch(text, /snat to 10/);
  assert.match(text, /maxseg size set rt mtu/);
});

test('parses the real nft JSON listing back into exactly the rendered sets and rules', () => {
  const seen = parseNftJson(LISTED);
  assert.deepEqual(new Map([...seen.sets].map(([k, v]) => [k, [...v.members]])), rendered.sets);
  for (const c of rendered.chains) {
    const s = seen.chains.get(c.name)!;
    assert.deepEqual({ type: s.type, hook: s.hook, prio: s.prio, policy: s.policy, rules: s.rules }, { type: c.type, hook: c.hook, prio: c.prio, policy: c.policy, rules: c.rules });
  }
  assert.equal(planNft(rendered, seen), null, 'intact: nothing to write');
});

test('unknown expressions never match a rendered rule', () => {
  assert.match(decompileRule([{ counter: { packets: 0, bytes: 0 } }, { accept: null }]), /^\?.* accept$/);
  assert.equal(decompileRule([{ match: { op: '!=', left: { meta: { key: 'iifname' } }, right: 'eth0' } }, { drop: null }]), 'iifname != "eth0" drop');
});

test('malformed nft output is rejected with a reason', () => {
  assert.throws(() => parseNftJson('not json'), (e: unknown) => e instanceof NftParseError && /not JSON/.test(e.message));
  assert.throws(() => parseNftJson('{"foo": 1}'), /no "nftables" array/);
  assert.throws(() => parseNftJson('{"nftables": [{"rule": {"chain": "ghost", "expr": []}}]}'), /rule in unknown chain ghost/);
});

function mutate(edit: (doc: { nftables: Record<string, any>[] }) => void) {
  const doc = JSON.parse(LISTED);
  edit(doc);
  return parseNftJson(JSON.stringify(doc));
}

test('drift planning: a missing table is written whole, removal deletes it, absence needs nothing', () => {
  assert.equal(planNft(rendered, null), renderNftTable(rendered));
  assert.equal(planNft(null, parseNftJson(LISTED)), 'delete table ip seaway\n');
  assert.equal(planNft(null, null), null);
});

test('drift planning: an emptied set gets only its members back', () => {
  const seen = mutate((d) => { for (const i of d.nftables) if (i.set?.name === 'remotecidrs') delete i.set.elem; });
  assert.equal(planNft(rendered, seen), 'add element ip seaway remotecidrs { 10.2.0.0/16, 10.3.1.5/32 }\n');
});

test('drift planning: a set that only gains members gets just the new ones', () => {
  const next = renderNft(validateFilter({ ...desired, remoteCidrs: ['10.2.0.0/16', '10.3.1.5/32', '10.9.0.0/16'] }));
  assert.equal(planNft(next, parseNftJson(LISTED)), 'add element ip seaway remotecidrs { 10.9.0.0/16 }\n');
});

test('drift planning: a set that loses a member is flushed and refilled in the same script', () => {
  const next = renderNft(validateFilter({ ...desired, remoteCidrs: ['10.2.0.0/16', '10.9.0.0/16'] }));
  assert.equal(planNft(next, parseNftJson(LISTED)), 'flush set ip seaway remotecidrs\nadd element ip seaway remotecidrs { 10.2.0.0/16, 10.9.0.0/16 }\n');
  const emptied = renderNft(validateFilter({ ...desired, remoteCidrs: [] }));
  assert.equal(planNft(emptied, parseNftJson(LISTED)), 'flush set ip seaway remotecidrs\n');
});

test('drift planning: a flushed chain is flushed and refilled alone; a deleted chain is added back', () => {
  const flushed = mutate((d) => { d.nftables = d.nftables.filter((i) => i.rule?.chain !== 'filter_forward'); });
  const plan = planNft(rendered, flushed)!;
  assert.equal(plan, 'flush chain ip seaway filter_forward\nadd rule ip seaway filter_forward oifname "vx-submariner" accept\n');
  const deleted = mutate((d) => { d.nftables = d.nftables.filter((i) => i.rule?.chain !== 'filter_input' && i.chain?.name !== 'filter_input'); });
  assert.equal(planNft(rendered, deleted), 'add chain ip seaway filter_input { type filter hook input priority -1; policy accept; }\nadd rule ip seaway filter_input udp dport 4800 ip saddr @nodeaddrs accept\n');
});

test('drift planning: a wrong priority or a foreign chain in the table rewrites it whole', () => {
  const moved = mutate((d) => { for (const i of d.nftables) if (i.chain?.name === 'nat_postrouting') i.chain.prio = 100; });
  assert.equal(planNft(rendered, moved), renderNftTable(rendered));
  const foreign = mutate((d) => { d.nftables.push({ chain: { family: 'ip', table: 'seaway', name: 'intruder' } }); });
  assert.equal(planNft(rendered, foreign), renderNftTable(rendered));
});

test('nf_tables notifications: the tables that can hold seaway\'s filter, complete only with the nftables backend, nft-flavoured iptables and no shim', () => {
  assert.deepEqual(filterNotifications('nftables', 'nft', false), { tables: ['ip seaway', 'ip filter'], complete: true });
  assert.deepEqual(filterNotifications('nftables', 'nft', true), { tables: ['ip seaway', 'ip filter'], complete: false }, 'the shim matches ipsets, which send no notifications');
  assert.deepEqual(filterNotifications('nftables', 'legacy', false), { tables: ['ip seaway'], complete: false }, 'a legacy DROP policy calling for the shim sends none');
  assert.deepEqual(filterNotifications('iptables', 'nft', false), { tables: ['ip seaway', 'ip nat', 'ip filter', 'ip mangle'], complete: false }, 'the chains are notified, the ipsets are not');
  assert.deepEqual(filterNotifications('iptables', 'legacy', false), { tables: ['ip seaway'], complete: false }, 'only a stale nft table of an earlier run is notified');
});

const echoLimit = { address: '10.1.0.1', exempt: ['10.3.1.5/32', '10.2.0.1/32'], perSecond: 200, burst: 400 };
const gateway = renderNft(validateFilter({ ...desired, echoLimit }));
const LIMIT_RULE = 'icmp type echo-request ip daddr 10.1.0.1 ip saddr @remotecidrs ip saddr != @gwhealth limit rate over 200/second burst 400 packets drop';
/** The gateway's set and rule as nft 1.0.6 lists them after seaway applied `desired` with `echoLimit`. */
const GWHEALTH_SET = {"set": {"family": "ip", "name": "gwhealth", "table": "seaway", "type": "ipv4_addr", "handle": 4, "flags": ["interval"], "elem": ["10.2.0.1", "10.3.1.5"]}};
const LIMIT_RULE_JSON = {"rule": {"family": "ip", "table": "seaway", "chain": "filter_input", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.1.0.1"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@remotecidrs"}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@gwhealth"}}, {"limit": {"rate": 200, "burst": 400, "per": "second", "inv": true}}, {"drop": null}]}};
const gatewayListed = () => mutate((d) => {
  const at = d.nftables.findIndex((i) => i.set?.name === 'nodeaddrs');
  d.nftables.splice(at + 1, 0, GWHEALTH_SET);
  const after = d.nftables.findIndex((i) => i.rule?.chain === 'filter_input');
  d.nftables.splice(after + 1, 0, LIMIT_RULE_JSON);
});

test('the echo limit: a gwhealth set of the exempt senders and a rule dropping echo requests to the address from remote ranges over the limit', () => {
  const lines = renderNftTable(gateway).split('\n');
  assert.deepEqual(lines.slice(6, 7), ['add set ip seaway gwhealth { type ipv4_addr; flags interval; elements = { 10.2.0.1/32, 10.3.1.5/32 }; }'], 'after the other sets');
  const input = lines.indexOf('add chain ip seaway filter_input { type filter hook input priority -1; policy accept; }');
  assert.deepEqual(lines.slice(input + 1, input + 4), [
    'add rule ip seaway filter_input udp dport 4800 ip saddr @nodeaddrs accept',
    'add rule ip seaway filter_input icmp type echo-request ip daddr 10.1.0.1 ip saddr @remotecidrs ip saddr != @gwhealth limit rate over 200/second burst 400 packets drop',
    'add chain ip seaway filter_forward { type filter hook forward priority -1; policy accept; }',
  ]);
  assert.deepEqual(gateway.chains.find((c) => c.name === 'filter_input')!.rules, ['udp dport 4800 ip saddr @nodeaddrs accept', LIMIT_RULE]);
  assert.deepEqual(gateway.chains.filter((c) => c.name !== 'filter_input'), rendered.chains.filter((c) => c.name !== 'filter_input'), 'nothing else changes');
  assert.equal(rendered.sets.has('gwhealth'), false, 'without a limit there is no such set');
  const empty = renderNftTable(renderNft(validateFilter({ ...desired, echoLimit: { ...echoLimit, exempt: [], perSecond: 10, burst: 5 } })));
  assert.match(empty, /add set ip seaway gwhealth \{ type ipv4_addr; flags interval; \}\n/, 'no remote gateway to exempt: an empty set');
  assert.match(empty, /limit rate over 10\/second burst 5 packets drop\n/, 'nft\'s default burst is still written out, as the JSON lists it');
});

test('decompile round trip: the real listing of the gateway\'s table reads back as exactly the rendered rules and sets', () => {
  const seen = gatewayListed();
  assert.deepEqual(new Map([...seen.sets].map(([k, v]) => [k, [...v.members]])), gateway.sets);
  assert.deepEqual(seen.chains.get('filter_input')!.rules, gateway.chains.find((c) => c.name === 'filter_input')!.rules);
  assert.equal(planNft(gateway, seen), null, 'intact: nothing to write');
});

test('decompiling limits: packet rates with and without over; byte rates and incomplete ones never match', () => {
  const limit = (fields: Record<string, unknown>) => decompileRule([{ limit: fields } as never, { drop: null }]);
  assert.equal(limit({ rate: 10, burst: 5, per: 'second', inv: true }), 'limit rate over 10/second burst 5 packets drop');
  assert.equal(limit({ rate: 3, burst: 1, per: 'minute' }), 'limit rate 3/minute burst 1 packets drop');
  assert.match(limit({ rate: 10, burst: 0, per: 'second', rate_unit: 'kbytes', burst_unit: 'bytes' }), /^\?/);
  assert.match(limit({ rate: 10, per: 'second' }), /^\?/);
  assert.match(limit({ rate: '10', burst: 5, per: 'second' }), /^\?/);
  const rate = (r: number) => planNft(renderNft(validateFilter({ ...desired, echoLimit: { ...echoLimit, perSecond: r } })), gatewayListed());
  assert.equal(rate(100), `flush chain ip seaway filter_input\nadd rule ip seaway filter_input udp dport 4800 ip saddr @nodeaddrs accept\nadd rule ip seaway filter_input ${LIMIT_RULE.replace('200/second', '100/second')}\n`,
    'another rate is drift in that chain alone');
});

test('drift planning: a node becoming the gateway gets the set and the rule; one ceasing to be the gateway loses both', () => {
  assert.equal(planNft(gateway, parseNftJson(LISTED)), [
    'add set ip seaway gwhealth { type ipv4_addr; flags interval; elements = { 10.2.0.1/32, 10.3.1.5/32 }; }',
    'flush chain ip seaway filter_input',
    'add rule ip seaway filter_input udp dport 4800 ip saddr @nodeaddrs accept',
    `add rule ip seaway filter_input ${LIMIT_RULE}`,
    '',
  ].join('\n'));
  assert.equal(planNft(rendered, gatewayListed()), renderNftTable(rendered), 'a set seaway no longer wants rewrites the table whole, in one transaction');
  const moreExempt = renderNft(validateFilter({ ...desired, echoLimit: { ...echoLimit, exempt: [...echoLimit.exempt, '10.2.9.1/32'] } }));
  assert.equal(planNft(moreExempt, gatewayListed()), 'add element ip seaway gwhealth { 10.2.9.1/32 }\n', 'a new remote gateway is only added to the set');
});

test('planNftWrite: a change of set members only comes with it as elements to add and delete, the script being planNft\'s', () => {
  const next = renderNft(validateFilter({ ...desired, remoteCidrs: ['10.2.0.0/16', '10.9.0.0/16'], nodeAddresses: ['192.168.1.10/32', '192.168.1.11/32', '192.168.1.12/32'] }));
  const write = planNftWrite(next, parseNftJson(LISTED));
  assert.ok(write);
  assert.equal(write.script, planNft(next, parseNftJson(LISTED)));
  assert.deepEqual(write.elements, [
    { set: 'remotecidrs', add: ['10.9.0.0/16'], del: ['10.3.1.5/32'] },
    { set: 'nodeaddrs', add: ['192.168.1.12/32'], del: [] },
  ]);
  assert.equal(planNftWrite(rendered, parseNftJson(LISTED)), null, 'intact: nothing');
});

test('planNftWrite: a chain to write, a set to make, a table to replace or more than NFT_ELEMENT_CHANGES_MAX prefixes: the script alone', () => {
  const flushed = mutate((d) => { d.nftables = d.nftables.filter((i) => i.rule?.chain !== 'filter_forward'); });
  const next = renderNft(validateFilter({ ...desired, remoteCidrs: ['10.2.0.0/16', '10.9.0.0/16'] }));
  const chainToo = planNftWrite(next, flushed);
  assert.match(chainToo?.script ?? '', /flush chain ip seaway filter_forward/);
  assert.equal(chainToo?.elements, undefined, 'members and a chain: nft writes both');
  const noSet = mutate((d) => { d.nftables = d.nftables.filter((i) => i.set?.name !== 'nodeaddrs'); });
  assert.equal(planNftWrite(rendered, noSet)?.elements, undefined, 'a set to make');
  assert.deepEqual(planNftWrite(null, parseNftJson(LISTED)), { script: 'delete table ip seaway\n' });
  const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24`);
  const at = planNftWrite(renderNft(validateFilter({ ...desired, remoteCidrs: [...desired.remoteCidrs, ...many(NFT_ELEMENT_CHANGES_MAX)] })), parseNftJson(LISTED));
  assert.equal(at?.elements?.[0]?.add.length, NFT_ELEMENT_CHANGES_MAX, 'at the bound: elements');
  const past = planNftWrite(renderNft(validateFilter({ ...desired, remoteCidrs: [...desired.remoteCidrs, ...many(NFT_ELEMENT_CHANGES_MAX + 1)] })), parseNftJson(LISTED));
  assert.ok(past?.script);
  assert.equal(past.elements, undefined, 'past it: nft refills');
});

test('planNftWrite: a table where there is none is staged (nft makes it dormant with empty sets, netlink fills and wakes it), the whole table the fallback', () => {
  const write = planNftWrite(rendered, null);
  assert.ok(write?.staged);
  assert.equal(write.script, renderNftTable(rendered));
  assert.equal(write.elements, undefined);
  assert.deepEqual(write.staged.fill, [
    { set: 'localcidrs', add: ['10.1.0.0/16'] },
    { set: 'remotecidrs', add: ['10.2.0.0/16', '10.3.1.5/32'] },
    { set: 'nodeaddrs', add: ['192.168.1.10/32', '192.168.1.11/32'] },
  ]);
  const skeleton = write.staged.skeleton.split('\n');
  assert.deepEqual(skeleton.slice(0, 3), ['add table ip seaway', 'delete table ip seaway', 'add table ip seaway { flags dormant; }']);
  assert.deepEqual(skeleton.filter((l) => l.startsWith('add set')), [
    'add set ip seaway localcidrs { type ipv4_addr; flags interval; }',
    'add set ip seaway remotecidrs { type ipv4_addr; flags interval; }',
    'add set ip seaway nodeaddrs { type ipv4_addr; flags interval; }',
  ], 'every set made, none filled');
  const chainsAndRules = (text: string) => text.split('\n').filter((l) => l.startsWith('add chain') || l.startsWith('add rule'));
  assert.deepEqual(chainsAndRules(write.staged.skeleton), chainsAndRules(write.script), 'the same chains and rules as the whole table');

  const noRemote = renderNft(validateFilter({ ...desired, remoteCidrs: [] }));
  assert.deepEqual(planNftWrite(noRemote, null)?.staged?.fill.map((f) => f.set), ['localcidrs', 'nodeaddrs'], 'an empty set has nothing to fill');
  const nothing = renderNft(validateFilter({ ...desired, localCidrs: [], remoteCidrs: [], nodeAddresses: [] }));
  assert.deepEqual(planNftWrite(nothing, null), { script: renderNftTable(nothing) }, 'no set with members: one nft transaction, nothing staged');
  const many = (n: number) => Array.from({ length: n }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`).filter((c) => !c.startsWith('10.1.'));
  // The local CIDR and the two node addresses count too.
  const atBound = many(NFT_FILL_PREFIXES_MAX + 260).slice(0, NFT_FILL_PREFIXES_MAX - 3);
  assert.ok(planNftWrite(renderNft(validateFilter({ ...desired, remoteCidrs: atBound })), null)?.staged, 'at NFT_FILL_PREFIXES_MAX prefixes in all: staged');
  const past = planNftWrite(renderNft(validateFilter({ ...desired, remoteCidrs: [...atBound, '172.16.0.0/24'] })), null);
  assert.ok(past);
  // (ok, not equal: a failing comparison would print 20,000 prefixes)
  assert.ok(past.staged === undefined, 'past it (one send could not carry the fill): nft writes the whole table');
});

test('planNftWrite: a dormant table (a staged write cut off before its fill) is replaced whole, never repaired in place', () => {
  const dormant = { ...parseNftJson(LISTED), dormant: true };
  assert.deepEqual(planNftWrite(rendered, dormant), { script: renderNftTable(rendered) }, 'even with every set and rule as wanted');
  const emptied = mutate((d) => { for (const i of d.nftables) if (i.set) delete i.set.elem; });
  assert.deepEqual(planNftWrite(rendered, { ...emptied, dormant: true }), { script: renderNftTable(rendered) }, 'its sets empty: not a change of elements, which would leave it dormant');
  assert.ok(planNftWrite(rendered, emptied)?.elements, 'the same table awake: its members are only added');
});

test('parseNftJson: a table listed as dormant is dormant, whichever way nft spells its flags; nft 1.0.6\'s own listing says nothing', () => {
  const withFlags = (flags: unknown) => mutate((d) => { for (const i of d.nftables) if (i.table) i.table.flags = flags; });
  assert.equal(withFlags('dormant').dormant, true);
  assert.equal(withFlags(['dormant']).dormant, true);
  assert.equal(withFlags('ip').dormant, undefined, 'nft 1.0.6 prints the family there, dormant or not: netlink tells');
  assert.equal(parseNftJson(LISTED).dormant, undefined);
});
