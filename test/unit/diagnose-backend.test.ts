import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseBackend, type BackendInputs } from '../../src/plan/diagnose-backend.ts';

const KUBE = '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\n:CNI-FORWARD - [0:0]\n-A FORWARD -j CNI-FORWARD\nCOMMIT\n';
const SEAWAY = '*nat\n:POSTROUTING ACCEPT [0:0]\n:SUBMARINER-POSTROUTING - [0:0]\n-A POSTROUTING -j SUBMARINER-POSTROUTING\nCOMMIT\n';
const inputs = (over: Partial<BackendInputs>): BackendInputs => ({
  saves: { legacy: '', nft: '' }, nftTables: [], configured: 'auto', seaway: { backend: 'iptables', iptablesMode: 'nft' }, ...over,
});

test('kube-proxy and the CNI in the flavour seaway writes: ok, naming both', () => {
  const [f] = diagnoseBackend('n', inputs({ saves: { legacy: '', nft: KUBE } }));
  assert.equal(f!.severity, 'ok');
  assert.match(f!.found, /iptables-nft holds CNI-FORWARD, KUBE-POSTROUTING, KUBE-SERVICES; seaway writes iptables-nft/);
});

test('seaway in the other flavour than kube-proxy is an error; the fix depends on whether the backend was forced', () => {
  const [auto] = diagnoseBackend('n', inputs({ saves: { legacy: KUBE, nft: SEAWAY } }));
  assert.equal(auto!.severity, 'error');
  assert.match(auto!.found, /iptables-legacy holds .*KUBE-SERVICES, but seaway writes iptables-nft/);
  assert.match(auto!.fix ?? '', /restart the route agent so it detects iptables-legacy/);
  const [forced] = diagnoseBackend('n', inputs({ configured: 'iptables', saves: { legacy: KUBE, nft: null } }));
  assert.match(forced!.fix ?? '', /set --filter-backend auto/);
});

test('rules of the host in both flavours are a warning that also says what seaway writes', () => {
  const findings = diagnoseBackend('n', inputs({ saves: { legacy: KUBE, nft: KUBE } }));
  assert.deepEqual(findings.map((f) => f.severity), ['warning']);
  assert.match(findings[0]!.found, /both iptables flavours.*seaway writes iptables-nft/);
});

test('the nftables backend beside an iptables host, and a host with only native nft tables, are fine and said so', () => {
  const [nftBackend] = diagnoseBackend('n', inputs({ configured: 'nftables', seaway: { backend: 'nftables', iptablesMode: 'nft' }, saves: { legacy: null, nft: KUBE } }));
  assert.equal(nftBackend!.severity, 'ok');
  assert.match(nftBackend!.found, /its own nft table ip seaway/);
  const [native] = diagnoseBackend('n', inputs({ nftTables: ['ip nat', 'ip seaway', 'inet kube-proxy', 'ip6 filter'], seaway: { backend: 'nftables', iptablesMode: 'nft' } }));
  assert.match(native!.found, /no kube-proxy or CNI chains.*native nft tables: inet kube-proxy;/);
});

test('output that does not parse, and a detection that fails, are warnings, never a throw', () => {
  const findings = diagnoseBackend('n', inputs({ saves: { legacy: 'garbage line\n', nft: KUBE }, seaway: { problem: 'iptables-nft-save exited 1' } }));
  assert.deepEqual(findings.map((f) => f.severity), ['warning', 'warning']);
  assert.match(findings[0]!.found, /iptables-legacy-save output does not parse/);
  assert.match(findings[1]!.found, /could not be told: iptables-nft-save exited 1/);
});
