import { isDeepStrictEqual } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CIDRS_PER_SET, validateFilter } from '../../src/plan/filter-input.ts';
import {
  chooseIptablesMode, countForeignRules, hooksWithOwnedJumps, iptablesFilterCanDrop, IptablesParseError, iptablesTableDrift, parseIptablesSave, planIptablesTable, renderIptables, ruleMark,
  type IptablesTablePlan,
} from '../../src/plan/filter-iptables.ts';
import { hashSizeFor, ipsetsAsWritten, parseIpsetSave, planIpsetChange, planIpsetRestore, planIpsetWrite, renderIpsets, IpsetParseError } from '../../src/plan/filter-ipset.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';

const desired: DesiredFilter = {
  localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16'], nodeAddresses: ['192.168.1.10/32', '192.168.1.11/32'], cniAddress: '10.1.0.1',
  vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'fixed', mss: 1300 },
};
const rendered = renderIptables(validateFilter(desired));
const M = '-m set --match-set SUBMARINER-LOCALCIDRS src -m set --match-set SUBMARINER-REMOTECIDRS dst';
const R = '-m set --match-set SUBMARINER-REMOTECIDRS src -m set --match-set SUBMARINER-LOCALCIDRS dst';
const texts = (table: IptablesTablePlan) => ({
  chains: table.chains.map((c) => ({ name: c.name, rules: c.rules.map((r) => r.text.replace(/"seaway:[^"]+"/, '"seaway:*"')) })),
  jumps: table.jumps.map((j) => ({ text: j.text.replace(/"seaway:[^"]+"/, '"seaway:*"'), position: j.position })),
});
const C = '-m comment --comment "seaway:*"';

test('renders every seaway chain and jump, each rule carrying its ownership mark; FORWARD accepts only what leaves through vx-submariner', () => {
  assert.deepEqual(texts(rendered.nat), {
    chains: [{ name: 'SUBMARINER-POSTROUTING', rules: [
      `-A SUBMARINER-POSTROUTING ${M} ${C} -j ACCEPT`,
      `-A SUBMARINER-POSTROUTING ${R} ${C} -j ACCEPT`,
      `-A SUBMARINER-POSTROUTING -s 240.0.0.0/8 -o vx-submariner ${C} -j SNAT --to-source 10.1.0.1`,
    ] }],
    jumps: [{ text: `-A POSTROUTING ${C} -j SUBMARINER-POSTROUTING`, position: 'first' }],
  });
  assert.deepEqual(texts(rendered.filter), {
    chains: [
      { name: 'SUBMARINER-INPUT', rules: [`-A SUBMARINER-INPUT -p udp -m udp --dport 4800 -m set --match-set SEAWAY-NODEADDRS src ${C} -j ACCEPT`] },
      { name: 'SUBMARINER-FORWARD', rules: [`-A SUBMARINER-FORWARD -o vx-submariner ${C} -j ACCEPT`] },
    ],
    jumps: [
      { text: `-A INPUT -p udp ${C} -j SUBMARINER-INPUT`, position: 'last' },
      { text: `-A FORWARD ${C} -j SUBMARINER-FORWARD`, position: 'first' },
    ],
  });
  assert.deepEqual(texts(rendered.mangle), {
    chains: [{ name: 'SUBMARINER-POSTROUTING', rules: [
      `-A SUBMARINER-POSTROUTING -p tcp ${M} -m tcp --tcp-flags SYN,RST SYN ${C} -j TCPMSS --set-mss 1300`,
      `-A SUBMARINER-POSTROUTING -p tcp ${R} -m tcp --tcp-flags SYN,RST SYN ${C} -j TCPMSS --set-mss 1300`,
    ] }],
    jumps: [{ text: `-A POSTROUTING ${C} -j SUBMARINER-POSTROUTING`, position: 'first' }],
  });
});

test('a mark is a hash of the rule\'s chain and content: stable, and different for any other rule', () => {
  const again = renderIptables(validateFilter(desired));
  assert.deepEqual(again.nat.chains[0]!.rules.map((r) => r.mark), rendered.nat.chains[0]!.rules.map((r) => r.mark));
  const other = renderIptables(validateFilter({ ...desired, cniAddress: '10.1.0.2' }));
  assert.notEqual(other.nat.chains[0]!.rules[2]!.mark, rendered.nat.chains[0]!.rules[2]!.mark, 'another SNAT address, another mark');
  assert.equal(other.nat.chains[0]!.rules[0]!.mark, rendered.nat.chains[0]!.rules[0]!.mark);
  const all = [rendered.nat, rendered.filter, rendered.mangle].flatMap((t) => [...t.chains.flatMap((c) => c.rules), ...t.jumps]).map((r) => r.mark);
  assert.equal(new Set(all).size, all.length, 'no two rules share a mark (the nat and mangle POSTROUTING jumps differ by their table only)');
  assert.notEqual(ruleMark('nat', 'A', '-s 10.0.0.0/8', 'ACCEPT'), ruleMark('nat', 'B', '-s 10.0.0.0/8', 'ACCEPT'));
  assert.notEqual(ruleMark('nat', 'A', '-s 10.0.0.0/8', 'ACCEPT'), ruleMark('mangle', 'A', '-s 10.0.0.0/8', 'ACCEPT'));
  for (const mark of all) assert.match(mark, /^[A-Za-z0-9_-]{16}$/);
});

test('without a CNI address there is no SNAT rule; pmtu clamping by default', () => {
  const r = renderIptables(validateFilter({ ...desired, cniAddress: undefined, mssClamp: { mode: 'pmtu' } }));
  assert.equal(r.nat.chains[0]!.rules.length, 2);
  assert.match(r.mangle.chains[0]!.rules[0]!.text, /--clamp-mss-to-pmtu$/);
});

test('rendering is deterministic whatever the input order', () => {
  const a = renderIpsets(validateFilter({ ...desired, remoteCidrs: ['10.3.0.0/16', '10.2.0.0/16'] }));
  const b = renderIpsets(validateFilter({ ...desired, remoteCidrs: ['10.2.0.0/16', '10.3.0.0/16', '10.3.0.0/16'] }));
  assert.deepEqual(a, b);
  assert.deepEqual(a.get('SEAWAY-NODEADDRS'), ['192.168.1.10/32', '192.168.1.11/32']);
});

test('10,000 remote subnets validate, render and plan in well under a second', () => {
  const remote = Array.from({ length: 10000 }, (_, i) => `10.${100 + Math.floor(i / 250)}.${i % 250}.0/24`);
  const started = performance.now();
  const input = validateFilter({ ...desired, remoteCidrs: remote });
  renderIptables(input);
  const script = planIpsetRestore(renderIpsets(input), new Map())!;
  const elapsed = performance.now() - started;
  assert.equal(script.split('\n').filter((l) => l.startsWith('add SUBMARINER-REMOTECIDRS')).length, 10000);
  assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
});

const natJump = rendered.nat.jumps[0]!.text;
const natRules = rendered.nat.chains[0]!.rules.map((r) => r.text);
const save = `# Generated by iptables-save v1.8.9
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [12:720]
:SUBMARINER-POSTROUTING - [0:0]
:KUBE-POSTROUTING - [0:0]
${natJump}
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
${natRules.join('\n')}
-A KUBE-POSTROUTING -j MASQUERADE --random-fully
COMMIT
# Completed
`;
const insertNatJump = `-I POSTROUTING 1 ${natJump.slice('-A POSTROUTING '.length)}`;

test('parses iptables-save output into tables, chains, policies and rules', () => {
  const parsed = parseIptablesSave(save);
  const nat = parsed.get('nat')!;
  assert.deepEqual([...nat.keys()], ['PREROUTING', 'POSTROUTING', 'SUBMARINER-POSTROUTING', 'KUBE-POSTROUTING']);
  assert.equal(nat.get('POSTROUTING')!.policy, 'ACCEPT');
  assert.equal(nat.get('SUBMARINER-POSTROUTING')!.policy, '-');
  assert.deepEqual(nat.get('POSTROUTING')!.rules, [natJump, '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING']);
  assert.equal(countForeignRules(parsed), 2, 'kube-proxy\'s two rules; seaway\'s own are not counted');
});

test('the iptables flavour with more foreign rules is chosen; nft when neither has any', () => {
  const foreign = '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n';
  assert.deepEqual(chooseIptablesMode({ legacy: null, nft: null }), { mode: 'nft', foreignRules: { legacy: 0, nft: 0 } });
  assert.deepEqual(chooseIptablesMode({ legacy: save, nft: '' }), { mode: 'legacy', foreignRules: { legacy: 2, nft: 0 } });
  assert.equal(chooseIptablesMode({ legacy: foreign, nft: save }).mode, 'nft');
  assert.equal(chooseIptablesMode({ legacy: foreign, nft: foreign }).mode, 'nft', 'a tie goes to nft');
  assert.deepEqual(chooseIptablesMode({ legacy: 'garbage\n', nft: null }).foreignRules, { legacy: 0, nft: 0 }, 'unparseable output weighs nothing');
});

test('parses -c counters and rejects malformed output with the line number', () => {
  const parsed = parseIptablesSave('*filter\n:INPUT DROP [1:2]\n[5:300] -A INPUT -j ACCEPT\nCOMMIT\n');
  assert.deepEqual(parsed.get('filter')!.get('INPUT'), { policy: 'DROP', rules: ['-A INPUT -j ACCEPT'] });
  assert.throws(() => parseIptablesSave('-A INPUT -j ACCEPT\n'), (e: unknown) => e instanceof IptablesParseError && /line 1: outside a table/.test(e.message));
  assert.throws(() => parseIptablesSave('*filter\n-A NOPE -j ACCEPT\n'), /line 2: rule for undeclared chain NOPE/);
  assert.throws(() => parseIptablesSave('*filter\n:INPUT\n'), /malformed chain line/);
  assert.throws(() => parseIptablesSave('*filter\n-I INPUT 1 -j ACCEPT\n'), /expected a rule/);
});

test('an intact table plans no write', () => {
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(save).get('nat')), null);
});

test('rules are recognised by their marks, not their spelling: another iptables version\'s option order is no drift', () => {
  // An older iptables prints the comment match last and adds "-m udp"; the marks are what count.
  const respelled = save.replace(natRules[2]!, natRules[2]!.replace(/(-s 240\.0\.0\.0\/8 -o vx-submariner) (-m comment --comment "[^"]+")/, '$2 $1'));
  assert.notEqual(respelled, save);
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(respelled).get('nat')), null);
  // The same words without seaway's mark are someone else's rule: the chain is rewritten.
  const unmarked = save.replace(natRules[0]!, natRules[0]!.replace(/ -m comment --comment "[^"]+"/, ''));
  assert.match(planIptablesTable('nat', rendered.nat, parseIptablesSave(unmarked).get('nat'))!, /^\*nat\n:SUBMARINER-POSTROUTING - \[0:0\]\n/);
});

test('a jump behind a foreign rule that can masquerade pod traffic to remote clusters is moved first, leaving the chain alone', () => {
  const moved = save.replace(`${natJump}\n`, '').replace('-A KUBE-POSTROUTING', `${natJump}\n-A KUBE-POSTROUTING`);
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(moved).get('nat')), `*nat\n-D ${natJump.slice(3)}\n${insertNatJump}\nCOMMIT\n`);
  const drift = iptablesTableDrift(rendered.nat, parseIptablesSave(moved).get('nat'));
  assert.equal(drift.jumps[0]!.rival, '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING -> -A KUBE-POSTROUTING -j MASQUERADE --random-fully', 'the rival is named with the path to the breaking rule');
});

test('a foreign rule ahead of the jump that cannot touch pod traffic to remote clusters is no drift', () => {
  const harmless = [
    '-A POSTROUTING -s 192.168.0.0/16 -j MASQUERADE',
    '-A POSTROUTING -d 192.0.2.0/24 -j MASQUERADE',
    '-A POSTROUTING -s 10.1.0.0/16 -d 10.1.0.0/16 -j MASQUERADE',
    '-A POSTROUTING -o lo -j LOG',
    '-A POSTROUTING -j RIVAL',
  ];
  const withRival = save.replace(':KUBE-POSTROUTING', ':RIVAL - [0:0]\n:KUBE-POSTROUTING').replace(natJump, `${harmless.join('\n')}\n${natJump}`)
    .replace('COMMIT', '-A RIVAL -s 172.16.0.0/12 -j MASQUERADE\n-A RIVAL -p tcp -j RETURN\nCOMMIT');
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(withRival).get('nat')), null);
  const breaking = withRival.replace('-A RIVAL -s 172.16.0.0/12 -j MASQUERADE', '-A RIVAL -s 10.1.0.0/16 ! -d 10.1.0.0/16 -j MASQUERADE');
  assert.equal(iptablesTableDrift(rendered.nat, parseIptablesSave(breaking).get('nat')).jumps[0]!.rival, '-A POSTROUTING -j RIVAL -> -A RIVAL -s 10.1.0.0/16 ! -d 10.1.0.0/16 -j MASQUERADE');
});

test('the INPUT jump is appended and may stay behind any foreign rule; FORWARD moves only ahead of a catch-all DROP', () => {
  const f = rendered.filter;
  const inputJump = f.jumps[0]!.text;
  const forwardJump = f.jumps[1]!.text;
  const filterSave = (input: string[], forward: string[]) => [
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':SUBMARINER-INPUT - [0:0]', ':SUBMARINER-FORWARD - [0:0]', ':POLICY - [0:0]',
    ...input, ...forward, ...f.chains.flatMap((c) => c.rules.map((r) => r.text)),
    '-A POLICY -s 10.2.0.5/32 -d 10.1.0.7/32 -j DROP', 'COMMIT', '',
  ].join('\n');
  const table = (input: string[], forward: string[]) => parseIptablesSave(filterSave(input, forward)).get('filter');
  assert.equal(planIptablesTable('filter', f, table(['-A INPUT -p udp --dport 4800 -j DROP', inputJump], [forwardJump, '-A FORWARD -j POLICY'])), null,
    'the host\'s own DROP ahead of the appended INPUT jump has its say; a policy chain behind FORWARD\'s jump is fine');
  assert.equal(planIptablesTable('filter', f, table([inputJump], ['-A FORWARD -j POLICY', '-A FORWARD -o vx-submariner -m mark --mark 0x1 -j DROP', forwardJump])), null,
    'a conditional DROP ahead of FORWARD\'s jump is policy: no drift');
  assert.equal(iptablesTableDrift(f, table([inputJump], ['-A FORWARD -o eth0 -j DROP', '-A FORWARD -j DROP', forwardJump])).jumps[0]?.rival, '-A FORWARD -j DROP',
    'a catch-all DROP ahead of the accept breaks the datapath; one for another device does not');
  assert.equal(planIptablesTable('filter', f, table([], [forwardJump])), `*filter\n${inputJump}\nCOMMIT\n`, 'a missing INPUT jump is appended');
  const reject = '-A INPUT -j REJECT --reject-with icmp-host-prohibited';
  const inputInsert = (at: number) => `-I INPUT ${at} ${inputJump.slice('-A INPUT '.length)}`;
  assert.equal(planIptablesTable('filter', f, table(['-A INPUT -i lo -j ACCEPT', reject], [forwardJump])), `*filter\n${inputInsert(2)}\nCOMMIT\n`,
    'a missing INPUT jump goes just ahead of a trailing catch-all REJECT, not to position 1');
  const behind = table(['-A INPUT -i lo -j ACCEPT', '-A INPUT -p udp --dport 4800 -j DROP', reject, inputJump], [forwardJump]);
  assert.equal(planIptablesTable('filter', f, behind), `*filter\n-D ${inputJump.slice(3)}\n${inputInsert(3)}\nCOMMIT\n`,
    'an INPUT jump behind the catch-all moves just ahead of it, still behind the host\'s own DROP of UDP 4800');
  assert.deepEqual(iptablesTableDrift(f, behind).jumps.map((d) => d.rival), [reject], 'the catch-all is named');
});

test('a missing jump is inserted; duplicated jumps are all deleted first', () => {
  const missing = save.replace(`${natJump}\n`, '');
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(missing).get('nat')), `*nat\n${insertNatJump}\nCOMMIT\n`);
  const doubled = save.replace(`${natJump}\n`, `${natJump}\n${natJump}\n`);
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(doubled).get('nat')), `*nat\n-D ${natJump.slice(3)}\n-D ${natJump.slice(3)}\n${insertNatJump}\nCOMMIT\n`);
  const submariners = save.replace(natJump, '-A POSTROUTING -j SUBMARINER-POSTROUTING');
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(submariners).get('nat')), `*nat\n-D POSTROUTING -j SUBMARINER-POSTROUTING\n${insertNatJump}\nCOMMIT\n`, 'Submariner\'s unmarked jump is replaced by a marked one');
});

test('a flushed or altered chain is declared again (which flushes it under --noflush) and refilled', () => {
  const flushed = save.replace(natRules.join('\n') + '\n', '');
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(flushed).get('nat')),
    `*nat\n:SUBMARINER-POSTROUTING - [0:0]\n${natRules.join('\n')}\nCOMMIT\n`);
  const appended = save.replace(natRules[2]!, `${natRules[2]!}\n-A SUBMARINER-POSTROUTING -j MASQUERADE`);
  assert.equal(planIptablesTable('nat', rendered.nat, parseIptablesSave(appended).get('nat')),
    `*nat\n:SUBMARINER-POSTROUTING - [0:0]\n${natRules.join('\n')}\nCOMMIT\n`, 'a rule someone added to seaway\'s chain is removed');
  assert.equal(planIptablesTable('nat', rendered.nat, undefined), `*nat\n:SUBMARINER-POSTROUTING - [0:0]\n${natRules.join('\n')}\n${insertNatJump}\nCOMMIT\n`);
});

test('removal deletes jumps, then flushes and deletes the chains; nothing when seaway has nothing there', () => {
  assert.equal(planIptablesTable('nat', null, parseIptablesSave(save).get('nat')),
    `*nat\n-D ${natJump.slice(3)}\n-F SUBMARINER-POSTROUTING\n-X SUBMARINER-POSTROUTING\nCOMMIT\n`);
  assert.equal(planIptablesTable('nat', null, undefined), null);
  assert.equal(planIptablesTable('filter', null, parseIptablesSave('*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j ACCEPT\nCOMMIT\n').get('filter')), null);
});

test('whether an iptables filter table could drop what nft accepts', () => {
  assert.equal(iptablesFilterCanDrop(parseIptablesSave('')), false);
  assert.equal(iptablesFilterCanDrop(parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n')), false);
  assert.equal(iptablesFilterCanDrop(parseIptablesSave('*filter\n:FORWARD DROP [0:0]\nCOMMIT\n')), true);
  assert.equal(iptablesFilterCanDrop(parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REJECT\nCOMMIT\n')), true);
  assert.equal(iptablesFilterCanDrop(parseIptablesSave('*filter\n:FORWARD ACCEPT [0:0]\n:SUBMARINER-FORWARD - [0:0]\n-A FORWARD -j SUBMARINER-FORWARD\nCOMMIT\n')), false);
});

test('ipset save parsing gives host addresses their /32 and rejects garbage', () => {
  const sets = parseIpsetSave('create SUBMARINER-REMOTECIDRS hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\nadd SUBMARINER-REMOTECIDRS 10.2.0.0/16\nadd SUBMARINER-REMOTECIDRS 10.3.1.5\n');
  assert.deepEqual([...sets.get('SUBMARINER-REMOTECIDRS')!.members], ['10.2.0.0/16', '10.3.1.5/32']);
  assert.equal(sets.get('SUBMARINER-REMOTECIDRS')!.maxelem, 65536);
  assert.throws(() => parseIpsetSave('add X 10.0.0.0/8\n'), (e: unknown) => e instanceof IpsetParseError && /undeclared set X/.test(e.message));
  assert.throws(() => parseIpsetSave('flush\n'), /line 1/);
});

test('a set with a smaller maxelem than seaway\'s (Submariner\'s 65536) is rebuilt under a temporary name and swapped in; one with seaway\'s is edited in place', () => {
  const theirs = new Map([['SUBMARINER-REMOTECIDRS', { type: 'hash:net', members: new Set(['10.2.0.0/16', '10.9.0.0/16']), maxelem: 65536 }]]);
  assert.equal(planIpsetRestore(new Map([['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16', '10.3.0.0/16']]]), theirs), [
    'create SUBMARINER-REMOTECIDRS-SWAP hash:net family inet hashsize 1024 maxelem 262144', 'flush SUBMARINER-REMOTECIDRS-SWAP',
    'add SUBMARINER-REMOTECIDRS-SWAP 10.2.0.0/16', 'add SUBMARINER-REMOTECIDRS-SWAP 10.3.0.0/16',
    'swap SUBMARINER-REMOTECIDRS SUBMARINER-REMOTECIDRS-SWAP', 'destroy SUBMARINER-REMOTECIDRS-SWAP', '',
  ].join('\n'));
  const ours = new Map([['SUBMARINER-REMOTECIDRS', { type: 'hash:net', members: new Set(['10.2.0.0/16', '10.9.0.0/16']), maxelem: 262144 }]]);
  assert.equal(planIpsetRestore(new Map([['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16', '10.3.0.0/16']]]), ours), 'add SUBMARINER-REMOTECIDRS 10.3.0.0/16\ndel SUBMARINER-REMOTECIDRS 10.9.0.0/16\n');
});

test('ipset hashes are sized for the members they are created with', () => {
  assert.equal(hashSizeFor(0), 1024);
  assert.equal(hashSizeFor(1024), 1024);
  assert.equal(hashSizeFor(1025), 2048);
  assert.equal(hashSizeFor(10_000), 16384);
  assert.equal(hashSizeFor(10_000_000), 262144, 'never beyond maxelem');
  const script = planIpsetRestore(new Map([['SUBMARINER-REMOTECIDRS', Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`)]]), new Map());
  assert.match(script!, /^create SUBMARINER-REMOTECIDRS hash:net family inet hashsize 4096 maxelem 262144\n/);
});

test('ipset plans add and delete the difference, create missing sets, and destroy on removal', () => {
  const want = new Map([['SUBMARINER-LOCALCIDRS', ['10.1.0.0/16']], ['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16', '10.4.0.0/16']]]);
  const seen = parseIpsetSave('create SUBMARINER-REMOTECIDRS hash:net\nadd SUBMARINER-REMOTECIDRS 10.2.0.0/16\nadd SUBMARINER-REMOTECIDRS 10.3.0.0/16\n');
  assert.equal(planIpsetRestore(want, seen),
    'create SUBMARINER-LOCALCIDRS hash:net family inet hashsize 1024 maxelem 262144\nadd SUBMARINER-LOCALCIDRS 10.1.0.0/16\nadd SUBMARINER-REMOTECIDRS 10.4.0.0/16\ndel SUBMARINER-REMOTECIDRS 10.3.0.0/16\n');
  assert.equal(planIpsetRestore(new Map([['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16', '10.3.0.0/16']]]), seen), null);
  assert.equal(planIpsetRestore(null, seen), 'destroy SUBMARINER-REMOTECIDRS\n');
  assert.equal(planIpsetRestore(null, new Map()), null);
});

const echoLimit = { address: '10.1.0.1', exempt: ['10.3.0.1/32', '10.2.0.1/32'], perSecond: 200, burst: 400 };
const gateway = renderIptables(validateFilter({ ...desired, echoLimit }));
const marks = (table: IptablesTablePlan) => table.chains.flatMap((c) => c.rules).map((r) => r.mark);

test('the echo limit: a chain returning the exempt senders (a set), then remote sources within the limit, dropping the rest; its jump first in INPUT, listed after the appended one', () => {
  assert.deepEqual(texts(gateway.filter), {
    chains: [
      ...texts(rendered.filter).chains,
      { name: 'SEAWAY-ECHO-LIMIT', rules: [
        `-A SEAWAY-ECHO-LIMIT -m set --match-set SEAWAY-ECHO-EXEMPT src ${C} -j RETURN`,
        `-A SEAWAY-ECHO-LIMIT -m set --match-set SUBMARINER-REMOTECIDRS src -m limit --limit 200/sec --limit-burst 400 ${C} -j RETURN`,
        `-A SEAWAY-ECHO-LIMIT -m set --match-set SUBMARINER-REMOTECIDRS src ${C} -j DROP`,
      ] },
    ],
    jumps: [
      ...texts(rendered.filter).jumps,
      { text: `-A INPUT -d 10.1.0.1/32 -p icmp -m icmp --icmp-type 8 ${C} -j SEAWAY-ECHO-LIMIT`, position: 'first' },
    ],
  });
  assert.deepEqual(texts(gateway.nat), texts(rendered.nat), 'nat and mangle are the same as without the limit');
  assert.deepEqual(texts(gateway.mangle), texts(rendered.mangle));
  assert.equal(new Set(marks(gateway.filter)).size, marks(gateway.filter).length, 'every rule has its own mark');
  const slower = renderIptables(validateFilter({ ...desired, echoLimit: { ...echoLimit, perSecond: 10, burst: 5 } }));
  assert.match(slower.filter.chains[2]!.rules[1]!.text, /-m limit --limit 10\/sec --limit-burst 5 /);
  assert.notEqual(slower.filter.chains[2]!.rules[1]!.mark, gateway.filter.chains[2]!.rules[1]!.mark, 'another rate is another rule');
  assert.equal(renderIptables(validateFilter(desired)).filter.chains.length, 2, 'no limit: no chain, no jump');
  assert.deepEqual(renderIpsets(validateFilter({ ...desired, echoLimit })).get('SEAWAY-ECHO-EXEMPT'), ['10.2.0.1/32', '10.3.0.1/32'], 'the exempt senders are the set\'s members');
  assert.deepEqual(renderIpsets(validateFilter(desired)).get('SEAWAY-ECHO-EXEMPT'), [], 'empty where there is no limit');
  const otherExempt = renderIptables(validateFilter({ ...desired, echoLimit: { ...echoLimit, exempt: ['10.9.0.1/32'] } }));
  assert.deepEqual(texts(otherExempt.filter), texts(gateway.filter), 'other exempt senders: the same rules, only the set differs');
});

const filterSaveOf = (plan: IptablesTablePlan, input: string[], extraChains: string[] = []) => parseIptablesSave([
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ...plan.chains.map((c) => `:${c.name} - [0:0]`), ...extraChains,
  ...input, ...plan.jumps.filter((j) => j.hook === 'FORWARD').map((j) => j.text), ...plan.chains.flatMap((c) => c.rules.map((r) => r.text)), 'COMMIT', '',
].join('\n')).get('filter');

test('the echo limit\'s jump is inserted at 1 when missing; behind a foreign accept placed later it stays (no tug-of-war over a limiter)', () => {
  const f = gateway.filter;
  const [inputJump, , echoJump] = f.jumps.map((j) => j.text);
  const insertEcho = `-I INPUT 1 ${echoJump!.slice('-A INPUT '.length)}`;
  assert.equal(planIptablesTable('filter', f, filterSaveOf(f, [echoJump!, inputJump!])), null, 'intact');
  assert.equal(planIptablesTable('filter', f, filterSaveOf(f, ['-A INPUT -p icmp -j ACCEPT', inputJump!])), `*filter\n${insertEcho}\nCOMMIT\n`,
    'missing: inserted ahead of the host\'s early accept of ICMP');
  assert.equal(planIptablesTable('filter', f, filterSaveOf(f, ['-A INPUT -p icmp -j ACCEPT', echoJump!, inputJump!])), null,
    'a foreign rule ahead of an intact jump has its say');
  const before = renderIptables(validateFilter({ ...desired, cniAddress: '10.1.0.9', echoLimit: { ...echoLimit, address: '10.1.0.9' } })).filter.jumps[2]!.text;
  assert.equal(planIptablesTable('filter', f, filterSaveOf(f, ['-A INPUT -p icmp -j ACCEPT', inputJump!, before])), `*filter\n-D ${before.slice(3)}\n${insertEcho}\nCOMMIT\n`,
    'the jump for the CNI address the node had before is replaced by one for the new address, first');
});

test('placing both INPUT jumps in one script: the appended one is inserted ahead of the catch-all REJECT before the insert at 1 shifts the chain', () => {
  const f = gateway.filter;
  const [inputJump, , echoJump] = f.jumps.map((j) => j.text);
  const host = ['-A INPUT -i lo -j ACCEPT', '-A INPUT -p udp --dport 4800 -j DROP', '-A INPUT -j REJECT --reject-with icmp-host-prohibited'];
  const script = planIptablesTable('filter', f, filterSaveOf(f, host))!;
  assert.equal(script, `*filter\n-I INPUT 3 ${inputJump!.slice('-A INPUT '.length)}\n-I INPUT 1 ${echoJump!.slice('-A INPUT '.length)}\nCOMMIT\n`);
  // Applied in order, the result: the limiter first, the host's own DROP of UDP 4800 still ahead of seaway's accept.
  const chain = [...host];
  for (const line of script.split('\n').filter((l) => l.startsWith('-I INPUT '))) {
    const [, , at, ...rest] = line.split(' ');
    chain.splice(Number(at) - 1, 0, `-A INPUT ${rest.join(' ')}`);
  }
  assert.deepEqual(chain, [echoJump, host[0], host[1], inputJump, host[2]]);
});

test('when the node stops being the gateway its echo-limit chain and jump are removed; a changed limit rewrites only that chain', () => {
  const f = gateway.filter;
  const [inputJump, , echoJump] = f.jumps.map((j) => j.text);
  const asGateway = filterSaveOf(f, [echoJump!, inputJump!]);
  assert.equal(planIptablesTable('filter', rendered.filter, asGateway),
    `*filter\n-D ${echoJump!.slice(3)}\n-F SEAWAY-ECHO-LIMIT\n-X SEAWAY-ECHO-LIMIT\nCOMMIT\n`);
  const moreExempt = renderIptables(validateFilter({ ...desired, echoLimit: { ...echoLimit, exempt: [...echoLimit.exempt, '10.4.0.1/32'] } })).filter;
  assert.equal(planIptablesTable('filter', moreExempt, asGateway), null, 'another exempt sender is the set\'s business: no rule changes');
  const faster = renderIptables(validateFilter({ ...desired, echoLimit: { ...echoLimit, perSecond: 400 } })).filter;
  const script = planIptablesTable('filter', faster, asGateway)!;
  assert.equal(script, `*filter\n:SEAWAY-ECHO-LIMIT - [0:0]\n${faster.chains[2]!.rules.map((r) => r.text).join('\n')}\nCOMMIT\n`);
  const forwardJump = f.jumps[1]!.text;
  assert.equal(planIptablesTable('filter', null, asGateway), [
    '*filter', `-D ${inputJump!.slice(3)}`, `-D ${forwardJump.slice(3)}`, `-D ${echoJump!.slice(3)}`,
    '-F SUBMARINER-INPUT', '-X SUBMARINER-INPUT', '-F SUBMARINER-FORWARD', '-X SUBMARINER-FORWARD', '-F SEAWAY-ECHO-LIMIT', '-X SEAWAY-ECHO-LIMIT', 'COMMIT', '',
  ].join('\n'), 'cleanup removes it with the rest');
  const saved = new Map([['filter', asGateway!]]);
  assert.equal(countForeignRules(saved), 0, 'the limiter\'s jump and chain are seaway\'s own');
  assert.deepEqual(hooksWithOwnedJumps(saved), [{ table: 'filter', hook: 'INPUT' }, { table: 'filter', hook: 'FORWARD' }]);
  assert.equal(iptablesFilterCanDrop(saved), false, 'seaway\'s own DROP in its limiter does not call for the nft backend\'s shim');
});

test('planIpsetChange gives a change of any size as members (netlink takes them in lists), with the same script', () => {
  const members = (n: number) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const change = planIpsetChange(new Map([['S', members(560)]]), new Map([['S', members(3560).slice(560)]]));
  assert.ok(change);
  assert.deepEqual(change.members?.map((c) => [c.set, c.add.length, c.del.length]), [['S', 3000, 560]]);
  assert.equal(change.script.split('\n').filter(Boolean).length, 3560);
  assert.equal(change.creates, undefined, 'no set to make');
});

test('planIpsetWrite: sets to make are given as creates with all their members; a rebuilt or destroyed set gives the script alone', () => {
  const fresh = planIpsetWrite(new Map([['A', ['10.1.0.0/24', '10.2.0.0/24']], ['B', []]]), new Map());
  assert.ok(fresh);
  assert.deepEqual(fresh.creates, [{ set: 'A', hashsize: 1024, maxelem: MAX_CIDRS_PER_SET }, { set: 'B', hashsize: 1024, maxelem: MAX_CIDRS_PER_SET }]);
  assert.deepEqual(fresh.members, [{ set: 'A', add: ['10.1.0.0/24', '10.2.0.0/24'], del: [] }], 'an empty set has no change of members');
  assert.equal(fresh.script, `create A hash:net family inet hashsize 1024 maxelem ${MAX_CIDRS_PER_SET}\nadd A 10.1.0.0/24\nadd A 10.2.0.0/24\ncreate B hash:net family inet hashsize 1024 maxelem ${MAX_CIDRS_PER_SET}\n`);
  const big = planIpsetWrite(new Map([['A', Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`)]]), new Map());
  assert.deepEqual(big?.creates, [{ set: 'A', hashsize: 16384, maxelem: MAX_CIDRS_PER_SET }], 'the hash sized for its members, as in the script');
  assert.match(big?.script ?? '', /^create A hash:net family inet hashsize 16384 /);
  const seen = new Map([['A', { type: 'hash:net', members: new Set(['10.1.0.0/24', '10.9.0.0/24']), maxelem: MAX_CIDRS_PER_SET }]]);
  const changed = planIpsetWrite(new Map([['A', ['10.1.0.0/24', '10.2.0.0/24']], ['B', ['10.3.0.0/24']]]), seen);
  assert.ok(changed);
  assert.deepEqual(changed.members, [{ set: 'A', add: ['10.2.0.0/24'], del: ['10.9.0.0/24'] }, { set: 'B', add: ['10.3.0.0/24'], del: [] }]);
  assert.deepEqual(changed.creates, [{ set: 'B', hashsize: 1024, maxelem: MAX_CIDRS_PER_SET }]);
  const theirs = new Map([['A', { type: 'hash:net', members: new Set(['10.1.0.0/24']), maxelem: 65536 }]]);
  const rebuilt = planIpsetWrite(new Map([['A', ['10.1.0.0/24', '10.2.0.0/24']]]), theirs);
  assert.ok(rebuilt);
  assert.match(rebuilt.script, /^swap A A-SWAP$/m);
  assert.equal(rebuilt.members, undefined, 'a swap: only the restore does it');
  assert.equal(rebuilt.creates, undefined);
  assert.deepEqual(planIpsetWrite(null, new Map([['SEAWAY-NODEADDRS', seen.get('A')!]])), { script: 'destroy SEAWAY-NODEADDRS\n' }, 'destroyed: the script alone');
  assert.equal(planIpsetWrite(new Map([['A', ['10.9.0.0/24', '10.1.0.0/24']]]), seen), null, 'the same members in another order: nothing to write');
});

test('planIpsetWrite: only sets it makes fill beside the rules, never the echo limit\'s exempt senders nor a set that is there or rebuilt', () => {
  const wanted = new Map([
    ['SUBMARINER-REMOTECIDRS', ['10.2.0.0/24']], ['SUBMARINER-LOCALCIDRS', ['10.1.0.0/16']], ['SEAWAY-ECHO-EXEMPT', ['192.168.9.1/32']], ['SEAWAY-NODEADDRS', []],
  ]);
  assert.deepEqual(planIpsetWrite(wanted, new Map())?.fillBesideRules, ['SUBMARINER-REMOTECIDRS', 'SUBMARINER-LOCALCIDRS'], 'made and filled here; the exempt set and an empty one are not');
  const there = new Map([['SUBMARINER-REMOTECIDRS', { type: 'hash:net', members: new Set<string>(), maxelem: MAX_CIDRS_PER_SET }]]);
  assert.deepEqual(planIpsetWrite(wanted, there)?.fillBesideRules, ['SUBMARINER-LOCALCIDRS'], 'a set that is there may have rules matching it already');
  const theirs = new Map([['SUBMARINER-LOCALCIDRS', { type: 'hash:net', members: new Set<string>(), maxelem: 65536 }]]);
  const rebuilt = planIpsetWrite(wanted, theirs);
  assert.equal(rebuilt?.members, undefined, 'a rebuild goes to the restore whole');
  assert.equal(rebuilt?.fillBesideRules, undefined);
  const onlyExempt = planIpsetWrite(new Map([['SEAWAY-ECHO-EXEMPT', ['192.168.9.1/32']]]), new Map());
  assert.ok(onlyExempt && !('fillBesideRules' in onlyExempt), 'nothing beside: no field');
  assert.equal(planIpsetWrite(null, there)?.fillBesideRules, undefined, 'destroyed: nothing filled');
});

test('planIpsetChange writes what planIpsetRestore would against the sets as written before, and nothing for sets whose members are the same (seeded cases)', () => {
  let state = 7;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const members = () => [...new Set(Array.from({ length: random(40) }, () => `10.${random(4)}.${random(8)}.0/24`))];
  // As validateFilter leaves them: in address order, none covering another (here /24s and a few /25s in their place).
  const canonical = () => {
    const list: string[] = [];
    for (let b = 0; b < 4; b++) for (let c = 0; c < 8; c++) if (random(3) === 0) list.push(`10.${b}.${c}.0/${random(4) === 0 ? 25 : 24}`);
    return list;
  };
  for (const [kind, make] of [['any order', members], ['address order', canonical]] as const) {
    for (let round = 0; round < 200; round++) {
      const before = new Map([['SUBMARINER-LOCALCIDRS', make()], ['SUBMARINER-REMOTECIDRS', make()], ['SEAWAY-NODEADDRS', make()]]);
      const after = new Map([...before].map(([name, list]) => [name, random(3) === 0 ? [...list] : make()]));
      const change = planIpsetChange(before, after);
      assert.equal(change?.script ?? null, planIpsetRestore(after, ipsetsAsWritten(before)), `${kind}, round ${round}`);
      if (change?.members) {
        // The members, applied to the sets as written, are the sets wanted.
        for (const { set, add, del } of change.members) {
          const held = new Set(before.get(set));
          for (const m of del) assert.ok(held.delete(m), `${kind}, round ${round}: ${m} deleted from ${set} was there`);
          for (const m of add) { assert.ok(!held.has(m), `${kind}, round ${round}: ${m} added to ${set} was not there`); held.add(m); }
          assert.deepEqual([...held].sort(), [...after.get(set)!].sort(), `${kind}, round ${round}: ${set}`);
        }
        assert.deepEqual(change.members.map((c) => c.set), [...after.keys()].filter((name) => !isDeepStrictEqual(new Set(before.get(name)), new Set(after.get(name)))), 'every set whose members changed, no other');
      }
      if (change) assert.ok(change.members, `${kind}, round ${round}: sets that only change members are written as members`);
    }
  }
  assert.deepEqual(planIpsetChange(new Map([['S', ['10.2.0.0/24', '10.1.0.0/24']]]), new Map([['S', ['10.3.0.0/24']]]))?.members, [{ set: 'S', add: ['10.3.0.0/24'], del: ['10.1.0.0/24', '10.2.0.0/24'] }], 'a list out of order: diffed against the set as written');
  assert.deepEqual(planIpsetChange(new Map([['S', ['10.1.0.0/24', 'bogus']]]), new Map([['S', ['10.3.0.0/24']]]))?.members, [{ set: 'S', add: ['10.3.0.0/24'], del: ['10.1.0.0/24', 'bogus'] }], 'a member that is not a CIDR is still a member to delete (netlink refuses it, and the restore names it)');
  const fresh = planIpsetChange(new Map([['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16']]]), new Map([['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16']], ['SEAWAY-ECHO-EXEMPT', ['10.3.0.1/32']]]));
  assert.match(fresh?.script ?? '', /^create SEAWAY-ECHO-EXEMPT hash:net /m, 'a set the last write did not make is created');
  assert.equal(fresh?.script, planIpsetRestore(new Map([['SEAWAY-ECHO-EXEMPT', ['10.3.0.1/32']]]), new Map()));
  assert.deepEqual(fresh?.creates, [{ set: 'SEAWAY-ECHO-EXEMPT', hashsize: 1024, maxelem: MAX_CIDRS_PER_SET }], 'a set to make');
  assert.deepEqual(fresh?.members, [{ set: 'SEAWAY-ECHO-EXEMPT', add: ['10.3.0.1/32'], del: [] }]);
  const same = new Map([['SEAWAY-NODEADDRS', ['192.168.1.10/32']], ['SUBMARINER-REMOTECIDRS', ['10.2.0.0/16']]]);
  assert.equal(planIpsetChange(same, new Map([...same].map(([name, list]) => [name, [...list]]))), null, 'copies of the same members: nothing to write');
});
