/**
 * What the cables keep in the kernel, removed by a gateway that steps down and by `seaway cleanup`
 * (removeCableLeftovers), in a throwaway namespace: seaway's routes and rules in the cable table
 * (218) and the floor (221), the IPsec source addresses, the VXLAN cable's device; what is not
 * seaway's (a foreign route in those tables, another VXLAN device, a `submariner` of another kind) stays.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { removeCableLeftovers } from '../../src/cable/cable-leftovers.ts';
import { cableRoutes } from '../../src/cable/cable-routes.ts';
import { ipsecKernel } from '../../src/cable/ipsec-kernel.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';

await runInsideNetns(import.meta.url, 'cbl');
requireTools('ip');

const rtnl = openRtnetlink();
after(() => rtnl.close());
const ip = async (args: string[]) => (await run('ip', args, { allowFailure: true })).stdout;

test('every cable\'s kernel state goes; what is not seaway\'s stays', async () => {
  await run('ip', ['link', 'add', 'under0', 'type', 'dummy']).catch(() => run('ip', ['link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1']));
  await run('ip', ['addr', 'add', '198.18.0.1/24', 'dev', 'under0']);
  await run('ip', ['link', 'set', 'under0', 'up']);
  // The VXLAN cable's device, and one that is not a cable's; a `submariner` that is no WireGuard device.
  await run('ip', ['link', 'add', 'vxlan-tunnel', 'type', 'vxlan', 'id', '1000', 'dstport', '4500', 'local', '198.18.0.1', 'dev', 'under0']);
  await run('ip', ['link', 'add', 'vx-other', 'type', 'vxlan', 'id', '7', 'dstport', '4789', 'local', '198.18.0.1', 'dev', 'under0']);
  await run('ip', ['link', 'add', 'submariner', 'type', 'vxlan', 'id', '8', 'dstport', '4790', 'local', '198.18.0.1', 'dev', 'under0']);
  await run('ip', ['link', 'set', 'vxlan-tunnel', 'up']);
  const index = Number(/^(\d+):/.exec(await ip(['-o', 'link', 'show', 'vxlan-tunnel']))![1]);
  await cableRoutes(rtnl).ensure([{ dst: '10.2.0.0/16', oif: index }]);
  await ipsecKernel(rtnl).ensureFailClosed(['10.2.0.0/16']);
  await ipsecKernel(rtnl).ensureAddresses(['10.96.255.255']);
  await run('ip', ['route', 'add', '10.9.0.0/16', 'dev', 'lo', 'table', '218']);
  assert.match(await ip(['rule']), /^218:\s+from all lookup 218 proto 147/m);

  await removeCableLeftovers(rtnl);

  const rules = await ip(['rule']);
  assert.doesNotMatch(rules, /lookup 218|lookup 221/, 'both rules gone');
  assert.equal((await ip(['route', 'show', 'table', '221'])).trim(), '', 'the floor gone');
  assert.equal((await ip(['route', 'show', 'table', '218'])).trim(), '10.9.0.0/16 dev lo scope link', 'only the foreign route stays in the cable table');
  assert.doesNotMatch(await ip(['addr', 'show', 'dev', 'lo']), /lo:seaway/);
  const links = await ip(['-o', 'link', 'show']);
  assert.doesNotMatch(links, /vxlan-tunnel/, 'the VXLAN cable\'s device gone');
  assert.match(links, /vx-other/, 'another VXLAN device stays');
  assert.match(links, /submariner/, 'a `submariner` that is not a WireGuard device stays');

  await removeCableLeftovers(rtnl);
  assert.match(await ip(['-o', 'link', 'show']), /vx-other/, 'idempotent');
});
