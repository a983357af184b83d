import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRule, RuleParseError, tokenizeRule } from '../../src/plan/iptables-rule.ts';
import { firstBreakingRule, ruleReach, setsMatchedFrom, type HookHazard, type KnownSets, type TrafficClass } from '../../src/plan/datapath-hazards.ts';
import { parseCidr, type Cidr } from '../../src/model/cidr.ts';

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(text);
  return parsed.cidr;
};
const local = { set: 'LOCAL', cidrs: [cidr('10.1.0.0/16'), cidr('100.64.0.0/16')] };
const remote = { set: 'REMOTE', cidrs: [cidr('10.2.0.0/16')], neverLocal: true };
/** A worker's: its pod traffic to remote clusters leaves by vx-submariner only. */
const nat: HookHazard = {
  classes: [{ src: local, dst: remote, out: ['vx-submariner'] }, { src: remote, dst: local }],
  breaking: new Set(['MASQUERADE', 'SNAT', 'NETMAP']), certainty: 'some',
};
const forward: HookHazard = {
  classes: [{ src: local, dst: remote, out: ['vx-submariner'] }, { src: remote, dst: local, out: ['vx-submariner'] }],
  breaking: new Set(['DROP', 'REJECT']), certainty: 'all',
};
const mangle: HookHazard = { classes: [{ src: local, dst: remote, proto: 'tcp' }, { src: remote, dst: local, proto: 'tcp' }], breaking: new Set(['ACCEPT', 'DROP', 'REJECT']), certainty: 'some' };
const [out, back] = nat.classes as [TrafficClass, TrafficClass];
const gatewayOut: TrafficClass = { src: local, dst: remote, notOut: ['tunl0'] };
const gatewayNat: HookHazard = { ...nat, classes: [gatewayOut, back] };
const rule = (...lines: string[]) => lines;
const first = (ahead: string[], hazard: HookHazard, chains: Map<string, string[]> = new Map(), sets: KnownSets = new Map()) =>
  firstBreakingRule(ahead, hazard, chains, sets)?.rule ?? null;

test('tokenizes iptables-save words: quotes group, backslashes escape', () => {
  assert.deepEqual(tokenizeRule('-A X -m comment --comment "a b \\"c\\"" -j ACCEPT'), ['-A', 'X', '-m', 'comment', '--comment', 'a b "c"', '-j', 'ACCEPT']);
  assert.deepEqual(tokenizeRule('  -A   X  '), ['-A', 'X']);
  assert.deepEqual(tokenizeRule('-A X --comment ""'), ['-A', 'X', '--comment', '']);
  assert.throws(() => tokenizeRule('-A X --comment "open'), RuleParseError);
});

test('parses options, negations, modules, the target and seaway\'s mark', () => {
  const parsed = parseRule('-A SUBMARINER-POSTROUTING ! -s 10.0.0.0/8 -o vx+ -m set ! --match-set S src -m comment --comment "seaway:AbC_-123" -j SNAT --to-source 1.2.3.4');
  assert.deepEqual(parsed.options, [
    { name: '-s', negated: true, values: ['10.0.0.0/8'], module: '' },
    { name: '-o', negated: false, values: ['vx+'], module: '' },
    { name: '--match-set', negated: true, values: ['S', 'src'], module: 'set' },
    { name: '--comment', negated: false, values: ['seaway:AbC_-123'], module: 'comment' },
  ]);
  assert.equal(parsed.target, 'SNAT');
  assert.equal(parsed.mark, 'AbC_-123');
  assert.equal(parseRule('-A X -g Y').goto, true);
  assert.equal(parseRule('-A X --source 1.2.3.4/32 --jump Y').options[0]!.name, '-s', 'long option names are read as the short ones');
  assert.equal(parseRule('-A X -p tcp').target, null, 'a counting rule has no target');
  assert.equal(parseRule('-A X -m comment --comment "seaway: spaced" -j Y').mark, null, 'a comment that is not a mark');
  assert.equal(parseRule('-A X -m comment --comment "cali:abcdef" -j Y').mark, null, 'Felix\'s marks are not seaway\'s');
});

test('malformed rules are refused with the rule named', () => {
  for (const bad of ['', '-I X 1 -j Y', '-A', '-A X -j', '-A X -m', '-A X -s', '-A X stray -j Y']) {
    assert.throws(() => parseRule(bad), (e: unknown) => e instanceof RuleParseError && e.message.includes('iptables rule'), bad);
  }
});

test('reach of a rule over a traffic class: addresses, negations, interfaces, protocols, sets, address types', () => {
  const reach = (text: string, traffic: TrafficClass, sets: KnownSets = new Map()) => ruleReach(parseRule(text), traffic, sets);
  const [fwdOut] = forward.classes as [TrafficClass];
  const [clamp] = mangle.classes as [TrafficClass];
  const cases: Array<[string, TrafficClass, string]> = [
    ['-A P -j MASQUERADE', out, 'all'],
    ['-A P -s 10.0.0.0/8 -d 10.2.0.0/16 -j MASQUERADE', out, 'some'], // 100.64/16 is local too, outside 10/8
    ['-A P -s 10.1.0.0/16 -j MASQUERADE', out, 'some'],
    ['-A P -s 192.168.0.0/16 -j MASQUERADE', out, 'none'],
    ['-A P -d 10.2.3.4 -j MASQUERADE', out, 'some'], // a host address without /32
    ['-A P ! -d 10.0.0.0/8 -j MASQUERADE', out, 'none'], // remote 10.2/16 is inside 10/8
    ['-A P ! -d 10.1.0.0/16 -j MASQUERADE', out, 'all'],
    ['-A P ! -d 10.2.128.0/17 -j MASQUERADE', out, 'some'],
    ['-A P -d not-an-address -j MASQUERADE', out, 'some'], // what cannot be read may match
    ['-A P -m set --match-set LOCAL src -j X', out, 'all'],
    ['-A P -m set --match-set LOCAL src -j X', back, 'none'],
    ['-A P -m set ! --match-set LOCAL src -j X', back, 'all'],
    ['-A P -m set --match-set LOCAL src,dst -j X', out, 'some'], // a two-dimension match is not judged
    ['-A P -m set --match-set cali40all-ipam-pools dst -j X', out, 'some'], // a foreign set not read may hold anything
    ['-A P -m mark --mark 0x4000/0x4000 -j X', out, 'some'],
    ['-A P -m comment --comment "x" -j X', out, 'all'], // a comment matches everything
    ['-A P -o tunl0 -j MASQUERADE', out, 'none'], // a worker's traffic to remote clusters leaves by vx-submariner
    ['-A P -o vx+ -j MASQUERADE', out, 'all'],
    ['-A P ! -o lo -j MASQUERADE', out, 'all'],
    ['-A P -o tunl0 -j MASQUERADE', gatewayOut, 'none'], // the gateway's never by its CNI interface
    ['-A P ! -o tunl0 -j MASQUERADE', gatewayOut, 'all'],
    ['-A P -o eth1 -j MASQUERADE', gatewayOut, 'some'], // its cable's egress is not known
    ['-A P -o tun+ -j MASQUERADE', gatewayOut, 'some'],
    ['-A P -o tunl0 -j MASQUERADE', back, 'some'], // into local pods: any CNI device
    ['-A P -o vx-submariner -j DROP', fwdOut, 'all'],
    ['-A P -o vx+ -j DROP', fwdOut, 'all'],
    ['-A P ! -o vx-submariner -j DROP', fwdOut, 'none'],
    ['-A P -o eth0 -j DROP', fwdOut, 'none'],
    ['-A P -i eth0 -j DROP', fwdOut, 'some'],
    ['-A P -p udp -j ACCEPT', clamp, 'none'],
    ['-A P -p 6 -j ACCEPT', clamp, 'all'],
    ['-A P ! -p tcp -j ACCEPT', clamp, 'none'],
    ['-A P -p all -j ACCEPT', clamp, 'all'],
    ['-A P -p tcp -j ACCEPT', out, 'some'], // nat cares about every protocol
    ['-A P -m addrtype --src-type LOCAL -j MASQUERADE', back, 'none'], // remote pods are never this host's addresses
    ['-A P -m addrtype ! --src-type LOCAL -j MASQUERADE', back, 'all'],
    ['-A P -m addrtype --src-type LOCAL -j MASQUERADE', out, 'some'], // the CNI interface's address is local
    ['-A P -m addrtype --dst-type LOCAL -j MASQUERADE', out, 'none'],
    ['-A P -m addrtype --limit-iface-out --src-type LOCAL -j MASQUERADE', back, 'none'],
  ];
  for (const [text, traffic, expected] of cases) assert.equal(reach(text, traffic), expected, `${text} over ${traffic === out ? 'local->remote' : traffic === back ? 'remote->local' : 'the hook\'s class'}`);
  const pools: KnownSets = new Map([['all-pools', [cidr('10.1.0.0/16'), cidr('100.64.0.0/16'), cidr('10.2.0.0/16')]], ['masq-pools', [cidr('10.1.0.0/16')]]]);
  assert.equal(reach('-A P -m set ! --match-set all-pools dst -j MASQUERADE', out, pools), 'none', 'a read foreign set is judged by its members');
  assert.equal(reach('-A P -m set --match-set masq-pools src -j MASQUERADE', out, pools), 'some');
  assert.equal(reach('-A P -m set --match-set masq-pools src -j MASQUERADE', back, pools), 'none');
});

test('the first breaking rule is found through jumps and gotos, with its path and top-level index; RETURN and final verdicts end the search', () => {
  const chains = new Map<string, string[]>([
    ['KUBE-POSTROUTING', rule('-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN', '-A KUBE-POSTROUTING -j MASQUERADE --random-fully')],
    ['RET', rule('-A RET -j RETURN', '-A RET -j MASQUERADE')],
    ['OK', rule('-A OK -j ACCEPT')],
    ['LOOP', rule('-A LOOP -j LOOP2')],
    ['LOOP2', rule('-A LOOP2 -j LOOP')],
  ]);
  assert.deepEqual(firstBreakingRule(['-A POSTROUTING -j LOG', '-A POSTROUTING -j KUBE-POSTROUTING'], nat, chains), { index: 1, rule: '-A POSTROUTING -j KUBE-POSTROUTING -> -A KUBE-POSTROUTING -j MASQUERADE --random-fully' });
  assert.equal(first(['-A POSTROUTING -j RET', '-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 1.1.1.1'], nat, chains), '-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 1.1.1.1', 'a RETURN comes back to the hook');
  assert.equal(first(['-A POSTROUTING -j OK', '-A POSTROUTING -j MASQUERADE'], nat, chains), null, 'an ACCEPT that takes all of it ends the hook');
  assert.equal(first(['-A POSTROUTING -g RET', '-A POSTROUTING -j MASQUERADE'], nat, chains), null, 'nothing comes back from a goto that takes all of it');
  assert.equal(first(['-A POSTROUTING -j LOOP', '-A POSTROUTING -j LOG'], nat, chains), null, 'a cycle ends');
  assert.equal(first(['-A POSTROUTING -s 192.168.0.0/16 -j KUBE-POSTROUTING'], nat, chains), null, 'a jump that cannot take the traffic is not followed');
  assert.equal(first(['-A POSTROUTING -j NOSUCHCHAIN', '-A POSTROUTING -j CONNMARK --save-mark'], nat, chains), null, 'extension targets let it pass');
  const unreadable = '-A POSTROUTING -m comment --comment "open -j MASQUERADE';
  assert.throws(() => parseRule(unreadable), RuleParseError);
  assert.equal(first([unreadable], nat, chains), unreadable, 'an unreadable rule that may masquerade counts');
  assert.equal(first(['-A POSTROUTING -m comment --comment "open -j LOG'], nat, chains), null, 'one that cannot does not');
  assert.equal(first(['-A POSTROUTING -m comment --comment "open -j KUBE-POSTROUTING'], nat, chains), '-A POSTROUTING -m comment --comment "open -j KUBE-POSTROUTING -> -A KUBE-POSTROUTING -j MASQUERADE --random-fully', 'an unreadable jump is followed');
});

/** Calico Felix's nat rules (v3.2x, IPIP), as iptables-save prints them. */
const FELIX = new Map<string, string[]>([
  ['cali-POSTROUTING', rule(
    '-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-fip-snat',
    '-A cali-POSTROUTING -m comment --comment "cali:nYKhEzDlr11Jccal" -j cali-nat-outgoing',
    '-A cali-POSTROUTING -o tunl0 -m comment --comment "cali:SXWvdsbh4Mw7wOln" -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL -j MASQUERADE --random-fully',
  )],
  ['cali-fip-snat', []],
  ['cali-nat-outgoing', rule('-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully')],
]);
const FELIX_JUMP = '-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING';

test('Calico Felix\'s jump first in nat POSTROUTING breaks the datapath until the remote CIDRs are in its IPPools (Submariner\'s answer), then it is harmless', () => {
  assert.deepEqual(setsMatchedFrom([FELIX_JUMP], FELIX), ['cali40all-ipam-pools', 'cali40masq-ipam-pools']);
  const withoutPools: KnownSets = new Map([['cali40masq-ipam-pools', [cidr('10.1.0.0/16')]], ['cali40all-ipam-pools', [cidr('10.1.0.0/16')]]]);
  assert.match(first([FELIX_JUMP], nat, FELIX, withoutPools) ?? '', / -> -A cali-POSTROUTING .*-j cali-nat-outgoing -> -A cali-nat-outgoing .*-j MASQUERADE --random-fully$/);
  assert.match(first([FELIX_JUMP], nat, FELIX) ?? '', /-j MASQUERADE/, 'the sets not read: may masquerade');
  const withPools: KnownSets = new Map([['cali40masq-ipam-pools', [cidr('10.1.0.0/16')]], ['cali40all-ipam-pools', [cidr('10.1.0.0/16'), cidr('10.2.0.0/16'), cidr('100.64.0.0/16')]]]);
  assert.equal(first([FELIX_JUMP], nat, FELIX, withPools), null, 'remote CIDRs in an IPPool (disabled, natOutgoing false): no masquerade of pod traffic between clusters');
  assert.equal(first([FELIX_JUMP], gatewayNat, FELIX, withPools), null, 'on the gateway too, whose traffic never leaves by tunl0');
  assert.match(first([FELIX_JUMP], gatewayNat, FELIX, withoutPools) ?? '', /cali-nat-outgoing .*-j MASQUERADE --random-fully$/);
});

test('FORWARD: only a catch-all DROP of traffic into vx-submariner counts; a conditional one, or one after a conditional RETURN, is policy', () => {
  const chains = new Map<string, string[]>([
    ['KUBE-ROUTER-FORWARD', rule('-A KUBE-ROUTER-FORWARD -m set --match-set KUBE-DST-X dst -j DROP')],
    ['DOCKER-ISOLATION', rule('-A DOCKER-ISOLATION -o docker0 -j DROP')],
    ['DENY', rule('-A DENY -j REJECT')],
    ['POLICY', rule('-A POLICY -m mark --mark 0x1/0x1 -j RETURN', '-A POLICY -j DROP')],
    ['ALLOWED', rule('-A ALLOWED -m conntrack --ctstate ESTABLISHED -j ACCEPT')],
  ]);
  assert.equal(first(['-A FORWARD -j KUBE-ROUTER-FORWARD', '-A FORWARD -s 10.2.0.0/16 -d 10.1.0.7/32 -j DROP', '-A FORWARD -j DOCKER-ISOLATION'], forward, chains), null);
  assert.equal(first(['-A FORWARD -j DENY'], forward, chains), '-A FORWARD -j DENY -> -A DENY -j REJECT');
  assert.equal(first(['-A FORWARD -m conntrack --ctstate INVALID -j DENY'], forward, chains), null, 'conditional on the way in, too');
  assert.equal(first(['-A FORWARD -j POLICY'], forward, chains), null, 'what a conditional RETURN leaves is only some of the traffic');
  assert.equal(first(['-A FORWARD -j ALLOWED', '-A FORWARD -j DROP'], forward, chains), null, 'what a conditional ACCEPT leaves is only some of it');
  assert.equal(first(['-A FORWARD -m mark --mark 0x2 -j RETURN', '-A FORWARD -j DROP'], forward, chains), null, 'the same at the top level');
});

test('INPUT: a catch-all REJECT is found with its index, so the appended jump can go just ahead of it', () => {
  const vxlanIn: HookHazard = { classes: [{ src: { cidrs: [cidr('192.168.1.10/32')] }, dst: { cidrs: [cidr('0.0.0.0/0')] }, proto: 'udp' }], breaking: new Set(['DROP', 'REJECT']), certainty: 'all', judgeEach: true };
  const input = rule('-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT', '-A INPUT -p udp -m udp --dport 4800 -j DROP', '-A INPUT -p icmp -j ACCEPT', '-A INPUT -j REJECT --reject-with icmp-host-prohibited');
  assert.deepEqual(firstBreakingRule(input, vxlanIn, new Map()), { index: 3, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' }, 'the operator\'s DROP of 4800 is theirs to make; the trailing REJECT catches all');
  assert.equal(firstBreakingRule(input.slice(0, 3), vxlanIn, new Map()), null);
  assert.equal(firstBreakingRule(['-A INPUT -p tcp -j REJECT'], vxlanIn, new Map()), null, 'a TCP-only REJECT cannot take VXLAN');
  assert.equal(firstBreakingRule(input, { ...vxlanIn, judgeEach: false }, new Map()), null, 'judged after what the earlier rules took, the REJECT would be conditional');
});
