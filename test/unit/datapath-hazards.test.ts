import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRule, RuleParseError, tokenizeRule } from '../../src/plan/iptables-rule.ts';
import { firstBreakingRule, ruleReach, type HookHazard, type TrafficClass } from '../../src/plan/datapath-hazards.ts';
import { parseCidr, type Cidr } from '../../src/model/cidr.ts';

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(text);
  return parsed.cidr;
};
const local = { set: 'LOCAL', cidrs: [cidr('10.1.0.0/16'), cidr('100.64.0.0/16')] };
const remote = { set: 'REMOTE', cidrs: [cidr('10.2.0.0/16')] };
const classes: TrafficClass[] = [{ src: local, dst: remote }, { src: remote, dst: local }];
const nat: HookHazard = { classes, breaking: new Set(['MASQUERADE', 'SNAT', 'NETMAP']), certainty: 'some', ownSets: new Set(['LOCAL', 'REMOTE']) };
const forward: HookHazard = { ...nat, classes: classes.map((c) => ({ ...c, out: 'vx-submariner' })), breaking: new Set(['DROP', 'REJECT']), certainty: 'all' };
const mangle: HookHazard = { ...nat, classes: classes.map((c) => ({ ...c, proto: 'tcp' })), breaking: new Set(['ACCEPT', 'DROP', 'REJECT']) };

test('tokenizes iptables-save words: quotes group, backslashes escape', () => {
  assert.deepEqual(tokenizeRule('-A X -m comment --comment "a b \\"c\\"" -j ACCEPT'), ['-A', 'X', '-m', 'comment', '--comment', 'a b "c"', '-j', 'ACCEPT']);
  assert.deepEqual(tokenizeRule('  -A   X  '), ['-A', 'X']);
  assert.deepEqual(tokenizeRule('-A X --comment ""'), ['-A', 'X', '--comment', '']);
  assert.throws(() => tokenizeRule('-A X --comment "open'), RuleParseError);
});

test('parses options, negations, modules, the target and seaway\'s mark', () => {
  const rule = parseRule('-A SUBMARINER-POSTROUTING ! -s 10.0.0.0/8 -o vx+ -m set ! --match-set S src -m comment --comment "seaway:AbC_-123" -j SNAT --to-source 1.2.3.4');
  assert.equal(rule.chain, 'SUBMARINER-POSTROUTING');
  assert.deepEqual(rule.options, [
    { name: '-s', negated: true, values: ['10.0.0.0/8'], module: '' },
    { name: '-o', negated: false, values: ['vx+'], module: '' },
    { name: '--match-set', negated: true, values: ['S', 'src'], module: 'set' },
    { name: '--comment', negated: false, values: ['seaway:AbC_-123'], module: 'comment' },
  ]);
  assert.equal(rule.target, 'SNAT');
  assert.deepEqual(rule.targetArgs, ['--to-source', '1.2.3.4']);
  assert.equal(rule.mark, 'AbC_-123');
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

test('reach of a rule over a traffic class: addresses, negations, interfaces, protocols, seaway\'s sets', () => {
  const reach = (text: string, traffic: TrafficClass, hazard = nat) => ruleReach(parseRule(text), traffic, hazard);
  const out = classes[0]!;
  const back = classes[1]!;
  assert.equal(reach('-A P -j MASQUERADE', out), 'all');
  assert.equal(reach('-A P -s 10.0.0.0/8 -d 10.2.0.0/16 -j MASQUERADE', out), 'some', '100.64/16 is local too and outside 10/8');
  assert.equal(reach('-A P -s 10.1.0.0/16 -j MASQUERADE', out), 'some');
  assert.equal(reach('-A P -s 192.168.0.0/16 -j MASQUERADE', out), 'none');
  assert.equal(reach('-A P -d 10.2.3.4 -j MASQUERADE', out), 'some', 'a host address without /32');
  assert.equal(reach('-A P ! -d 10.0.0.0/8 -j MASQUERADE', out), 'none', 'remote 10.2/16 is inside 10/8');
  assert.equal(reach('-A P ! -d 10.1.0.0/16 -j MASQUERADE', out), 'all');
  assert.equal(reach('-A P ! -d 10.2.128.0/17 -j MASQUERADE', out), 'some');
  assert.equal(reach('-A P -d not-an-address -j MASQUERADE', out), 'some', 'what cannot be read may match');
  assert.equal(reach('-A P -m set --match-set LOCAL src -j X', out), 'all');
  assert.equal(reach('-A P -m set --match-set LOCAL src -j X', back), 'none');
  assert.equal(reach('-A P -m set ! --match-set LOCAL src -j X', back), 'all');
  assert.equal(reach('-A P -m set --match-set LOCAL src,dst -j X', out), 'some', 'a two-dimension match is not judged');
  assert.equal(reach('-A P -m set --match-set cali40all-ipam-pools dst -j X', out), 'some', 'a foreign set may hold anything');
  assert.equal(reach('-A P -m mark --mark 0x4000/0x4000 -j X', out), 'some');
  assert.equal(reach('-A P -m comment --comment "x" -j X', out), 'all', 'a comment matches everything');
  assert.equal(reach('-A P -o vx-submariner -j DROP', out, forward), 'some', 'the class has no device under the nat hazard');
  assert.equal(reach('-A P -o vx-submariner -j DROP', forward.classes[0]!, forward), 'all');
  assert.equal(reach('-A P -o vx+ -j DROP', forward.classes[0]!, forward), 'all');
  assert.equal(reach('-A P ! -o vx-submariner -j DROP', forward.classes[0]!, forward), 'none');
  assert.equal(reach('-A P -o eth0 -j DROP', forward.classes[0]!, forward), 'none');
  assert.equal(reach('-A P -i eth0 -j DROP', forward.classes[0]!, forward), 'some');
  assert.equal(reach('-A P -p udp -j ACCEPT', mangle.classes[0]!, mangle), 'none');
  assert.equal(reach('-A P -p 6 -j ACCEPT', mangle.classes[0]!, mangle), 'all');
  assert.equal(reach('-A P ! -p tcp -j ACCEPT', mangle.classes[0]!, mangle), 'none');
  assert.equal(reach('-A P -p all -j ACCEPT', mangle.classes[0]!, mangle), 'all');
  assert.equal(reach('-A P -p tcp -j ACCEPT', out), 'some', 'nat cares about every protocol');
});

test('the first breaking rule is found through jumps and gotos, with its path; RETURN and final verdicts end the search', () => {
  const chains = new Map<string, string[]>([
    ['KUBE-POSTROUTING', ['-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN', '-A KUBE-POSTROUTING -j MASQUERADE --random-fully']],
    ['RET', ['-A RET -j RETURN', '-A RET -j MASQUERADE']],
    ['OK', ['-A OK -j ACCEPT']],
    ['LOOP', ['-A LOOP -j LOOP2']],
    ['LOOP2', ['-A LOOP2 -j LOOP']],
  ]);
  assert.equal(firstBreakingRule(['-A POSTROUTING -j KUBE-POSTROUTING'], nat, chains), '-A POSTROUTING -j KUBE-POSTROUTING -> -A KUBE-POSTROUTING -j MASQUERADE --random-fully');
  assert.equal(firstBreakingRule(['-A POSTROUTING -j RET', '-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 1.1.1.1'], nat, chains), '-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 1.1.1.1', 'a RETURN comes back to the hook');
  assert.equal(firstBreakingRule(['-A POSTROUTING -j OK', '-A POSTROUTING -j MASQUERADE'], nat, chains), null, 'an ACCEPT that takes all of it ends the hook');
  assert.equal(firstBreakingRule(['-A POSTROUTING -g RET', '-A POSTROUTING -j MASQUERADE'], nat, chains), null, 'nothing comes back from a goto that takes all of it');
  assert.equal(firstBreakingRule(['-A POSTROUTING -j LOOP', '-A POSTROUTING -j LOG'], nat, chains), null, 'a cycle ends');
  assert.equal(firstBreakingRule(['-A POSTROUTING -s 192.168.0.0/16 -j KUBE-POSTROUTING'], nat, chains), null, 'a jump that cannot take the traffic is not followed');
  assert.equal(firstBreakingRule(['-A POSTROUTING -j NOSUCHCHAIN', '-A POSTROUTING -j CONNMARK --save-mark'], nat, chains), null, 'extension targets let it pass');
  const unreadable = '-A POSTROUTING -m comment --comment "open -j MASQUERADE';
  assert.throws(() => parseRule(unreadable), RuleParseError);
  assert.equal(firstBreakingRule([unreadable], nat, chains), unreadable, 'an unreadable rule that may masquerade counts');
  assert.equal(firstBreakingRule(['-A POSTROUTING -m comment --comment "open -j LOG'], nat, chains), null, 'one that cannot does not');
});

test('FORWARD: only a catch-all DROP of traffic into vx-submariner counts; a conditional one is policy', () => {
  const chains = new Map<string, string[]>([
    ['KUBE-ROUTER-FORWARD', ['-A KUBE-ROUTER-FORWARD -m set --match-set KUBE-DST-X dst -j DROP']],
    ['DOCKER-ISOLATION', ['-A DOCKER-ISOLATION -o docker0 -j DROP']],
    ['DENY', ['-A DENY -j REJECT']],
  ]);
  assert.equal(firstBreakingRule(['-A FORWARD -j KUBE-ROUTER-FORWARD', '-A FORWARD -s 10.2.0.0/16 -d 10.1.0.7/32 -j DROP', '-A FORWARD -j DOCKER-ISOLATION'], forward, chains), null);
  assert.equal(firstBreakingRule(['-A FORWARD -j DENY'], forward, chains), '-A FORWARD -j DENY -> -A DENY -j REJECT');
  assert.equal(firstBreakingRule(['-A FORWARD -m conntrack --ctstate INVALID -j DENY'], forward, chains), null, 'conditional on the way in, too');
});
