/** The IPsec cable's own kernel objects, in a throwaway namespace: the fail-closed floor and the source addresses on lo. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ipsecKernel } from '../../src/cable/ipsec-kernel.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';

await runInsideNetns(import.meta.url, 'ipsk');
requireTools('ip');

const rtnl = openRtnetlink();
after(() => rtnl.close());
const kernel = ipsecKernel(rtnl);
const ip = async (args: string[]) => (await run('ip', args)).stdout;

test('the floor: rule 221 and blackholes for exactly the remote subnets; a foreign route in the table is left alone', async () => {
  await run('ip', ['route', 'add', '10.9.0.0/16', 'dev', 'lo', 'table', '221']);
  await kernel.ensureFailClosed(['10.2.0.0/16', '10.3.0.0/16']);
  assert.match(await ip(['rule']), /^221:\s+from all lookup 221 proto 147/m);
  let routes = await ip(['route', 'show', 'table', '221']);
  assert.match(routes, /^blackhole 10\.2\.0\.0\/16 proto 147/m);
  assert.match(routes, /^blackhole 10\.3\.0\.0\/16 proto 147/m);
  await kernel.ensureFailClosed(['10.2.0.0/16']);
  routes = await ip(['route', 'show', 'table', '221']);
  assert.doesNotMatch(routes, /10\.3\.0\.0/, 'the subnet no longer wanted goes');
  assert.match(routes, /^10\.9\.0\.0\/16 dev lo/m, 'a route seaway did not make stays');
  await kernel.ensureFailClosed(['10.2.0.0/16']);
  assert.equal((await ip(['rule'])).match(/lookup 221/g)?.length, 1, 'idempotent: one rule');
  // With a default route that would take it, a packet to the blackholed subnet is refused by the lookup (EINVAL), one elsewhere is not.
  await run('ip', ['route', 'add', 'default', 'dev', 'lo']);
  const lookup = await run('ip', ['route', 'get', '10.2.1.2'], { allowFailure: true });
  assert.notEqual(lookup.code, 0);
  assert.match(lookup.stderr, /Invalid argument/);
  assert.equal((await run('ip', ['route', 'get', '10.3.1.2'], { allowFailure: true })).code, 0, 'outside the blackholed subnets the default route answers');
});

test('source addresses: /32s on lo labelled as seaway\'s, not added where some interface has the address, removed when no longer wanted', async () => {
  await run('ip', ['addr', 'add', '10.1.1.1/24', 'dev', 'lo']);
  await kernel.ensureAddresses(['10.96.255.255', '10.1.1.1']);
  let addresses = await ip(['-4', 'addr', 'show', 'dev', 'lo']);
  assert.match(addresses, /inet 10\.96\.255\.255\/32 scope global lo:seaway/);
  assert.equal(addresses.match(/10\.1\.1\.1/g)?.length, 1, 'the address some interface has is not added again');
  assert.deepEqual((await kernel.addresses()).filter((a) => a.startsWith('10.')).sort(), ['10.1.1.1', '10.96.255.255']);
  await kernel.ensureAddresses(['10.97.255.255']);
  addresses = await ip(['-4', 'addr', 'show', 'dev', 'lo']);
  assert.doesNotMatch(addresses, /10\.96\.255\.255/, 'seaway\'s address no longer wanted goes');
  assert.match(addresses, /inet 10\.97\.255\.255\/32 scope global lo:seaway/);
  assert.match(addresses, /inet 10\.1\.1\.1\/24/, 'an address seaway did not add stays');
});

test('removeAll (a node no longer a gateway, seaway cleanup): the floor\'s blackholes and rule and the source addresses go; what seaway did not make stays', async () => {
  await kernel.ensureFailClosed(['10.2.0.0/16', '10.4.0.0/16']);
  await kernel.ensureAddresses(['10.98.255.255']);
  await run('ip', ['rule', 'add', 'priority', '221', 'lookup', '221']);
  await kernel.removeAll();
  await kernel.removeAll();
  const routes = await ip(['route', 'show', 'table', '221']);
  assert.doesNotMatch(routes, /blackhole/, 'no blackhole of seaway\'s left');
  assert.match(routes, /^10\.9\.0\.0\/16 dev lo/m, 'a route seaway did not make stays');
  const rules = await ip(['rule']);
  assert.doesNotMatch(rules, /lookup 221 proto 147/, 'seaway\'s rule 221 is gone');
  assert.match(rules, /^221:\s+from all lookup 221\s*$/m, 'a rule 221 without seaway\'s protocol stays');
  assert.doesNotMatch(await ip(['-4', 'addr', 'show', 'dev', 'lo']), /lo:seaway/);
});
