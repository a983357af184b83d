import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import type { Rtnetlink, KernelWrite } from '../../src/kernel/rtnetlink.ts';
import type { Sysctls } from '../../src/kernel/sysctl.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';

test('a sysctl step that fails as a whole fails the sysctls only: the routes written before it are reported programmed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-rds-'));
  try {
    const written: KernelWrite[] = [];
    const rtnl = {
      listLinks: async () => [{ index: 2, name: 'eth0', mtu: 1500, up: true }, { index: 3, name: 'vx-submariner', kind: 'vxlan', mtu: 1450, up: true, vxlan: { vni: 100, port: 4800, local: '192.168.1.2', learning: false, underlayIndex: 2 } }],
      listAddresses: async () => [{ ifindex: 3, address: '240.168.1.2', prefixLength: 8, cidr: '240.168.1.2/8', scope: 0 }],
      listRoutes: async () => [],
      listRules: async () => [],
      listFdb: async () => [],
      apply: async (writes: readonly KernelWrite[]) => { written.push(...writes); return writes.map((write) => ({ write, ok: true as const })); },
    } as unknown as Rtnetlink;
    const sysctls: Sysctls = { read: async () => { throw Object.assign(new Error('EACCES: permission denied, open /proc/sys/net/ipv4/ip_forward'), { code: 'EACCES' }); }, write: async () => undefined };
    const dataplane = createRoutingDataplane({ rtnl, sysctls, sysctlStatePath: join(dir, 'sysctls.json'), logger: pino({ level: 'silent' }) });
    const desired: DesiredState = {
      links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.2', underlayDevice: 'eth0', address: '240.168.1.2/8' }],
      routes: [{ table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' }],
      rules: [], fdb: [], filter: null,
      sysctls: [{ key: 'net/ipv4/ip_forward', value: '1' }, { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' }],
    };
    const report = await dataplane.apply(desired);
    assert.equal(written.filter((w) => w.kind === 'route').length, 1, 'the route was written');
    assert.deepEqual(report.failures.map((f) => [f.kind, f.key, f.code]), [
      ['sysctl', 'net/ipv4/ip_forward', 'EACCES'], ['sysctl', 'net/ipv4/conf/vx-submariner/rp_filter', 'EACCES'],
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a link just made gets its own sysctls before its routes (the first ARP\'s retry uses them); the others follow, none restored between', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-rds-'));
  try {
    const events: string[] = [];
    let linkMade = false;
    const eth0 = { index: 2, name: 'eth0', mtu: 1500, up: true };
    const vxlan = { index: 3, name: 'vx-submariner', kind: 'vxlan', mtu: 1450, up: true, vxlan: { vni: 100, port: 4800, local: '192.168.1.2', learning: false, underlayIndex: 2 } };
    const rtnl = {
      listLinks: async () => (linkMade ? [eth0, vxlan] : [eth0]),
      listAddresses: async () => [],
      listRoutes: async () => [],
      listRules: async () => [],
      listFdb: async () => [],
      apply: async (writes: readonly KernelWrite[]) => {
        for (const write of writes) {
          events.push(write.kind);
          if (write.kind === 'link') linkMade = true;
        }
        return writes.map((write) => ({ write, ok: true as const }));
      },
    } as unknown as Rtnetlink;
    const values = new Map<string, string>([['net/ipv4/ip_forward', '0']]);
    const sysctls: Sysctls = {
      read: async (key) => values.get(key) ?? (key.includes('vx-submariner') && linkMade ? (key.endsWith('retrans_time_ms') ? '1000' : '0') : undefined),
      write: async (key, value) => { values.set(key, value); events.push(`sysctl ${key}=${value}`); },
    };
    const dataplane = createRoutingDataplane({ rtnl, sysctls, sysctlStatePath: join(dir, 'sysctls.json'), logger: pino({ level: 'silent' }) });
    const desired: DesiredState = {
      links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.2', underlayDevice: 'eth0', address: '240.168.1.2/8' }],
      routes: [{ table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' }],
      rules: [], fdb: [], filter: null,
      sysctls: [
        { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' },
        { key: 'net/ipv4/ip_forward', value: '1' },
        { key: 'net/ipv4/neigh/vx-submariner/retrans_time_ms', value: '100' },
      ],
    };
    const report = await dataplane.apply(desired);
    assert.deepEqual(report.failures, []);
    const at = (event: string) => events.indexOf(event);
    assert.ok(at('sysctl net/ipv4/neigh/vx-submariner/retrans_time_ms=100') >= 0 && at('sysctl net/ipv4/neigh/vx-submariner/retrans_time_ms=100') < at('route'), events.join(', '));
    assert.ok(at('sysctl net/ipv4/conf/vx-submariner/rp_filter=2') >= 0 && at('sysctl net/ipv4/conf/vx-submariner/rp_filter=2') < at('route'));
    assert.ok(at('sysctl net/ipv4/ip_forward=1') > at('route'), 'the node-wide one in the step after the routes');
    assert.equal(events.filter((e) => e.startsWith('sysctl')).length, 3, `each written once: ${events.join(', ')}`);
    assert.equal(report.writesByKind.sysctl?.ok, 3);
    // A pass with the link already there: no sysctl written again (this fake keeps no routes: those are rewritten).
    events.length = 0;
    await dataplane.apply(desired);
    assert.deepEqual(events.filter((e) => e.startsWith('sysctl')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the early step for a link made again restores nothing: a node-wide value seaway set stays set', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-rds-'));
  try {
    const events: string[] = [];
    let linkThere = true;
    const eth0 = { index: 2, name: 'eth0', mtu: 1500, up: true };
    const vxlan = { index: 3, name: 'vx-submariner', kind: 'vxlan', mtu: 1450, up: true, vxlan: { vni: 100, port: 4800, local: '192.168.1.2', learning: false, underlayIndex: 2 } };
    const rtnl = {
      listLinks: async () => (linkThere ? [eth0, vxlan] : [eth0]),
      listAddresses: async () => [], listRoutes: async () => [], listRules: async () => [], listFdb: async () => [],
      apply: async (writes: readonly KernelWrite[]) => {
        for (const write of writes) if (write.kind === 'link') linkThere = true;
        return writes.map((write) => ({ write, ok: true as const }));
      },
    } as unknown as Rtnetlink;
    const values = new Map<string, string>([['net/ipv4/conf/cni0/rp_filter', '1']]);
    const sysctls: Sysctls = {
      read: async (key) => values.get(key) ?? (key.includes('vx-submariner') && linkThere ? '0' : undefined),
      write: async (key, value) => { values.set(key, value); events.push(`${key}=${value}`); },
    };
    const dataplane = createRoutingDataplane({ rtnl, sysctls, sysctlStatePath: join(dir, 'sysctls.json'), logger: pino({ level: 'silent' }) });
    const desired: DesiredState = {
      links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.2', underlayDevice: 'eth0', address: '240.168.1.2/8' }],
      routes: [], rules: [], fdb: [], filter: null,
      sysctls: [{ key: 'net/ipv4/conf/cni0/rp_filter', value: '2' }, { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' }],
    };
    await dataplane.apply(desired);
    assert.equal(values.get('net/ipv4/conf/cni0/rp_filter'), '2');
    // The link goes (someone deleted it) and is made again: its own value early, cni0's never given back meanwhile.
    linkThere = false;
    for (const key of [...values.keys()]) if (key.includes('vx-submariner')) values.delete(key);
    events.length = 0;
    const report = await dataplane.apply(desired);
    assert.deepEqual(report.failures, []);
    assert.deepEqual(events, ['net/ipv4/conf/vx-submariner/rp_filter=2'], 'cni0\'s rp_filter was not restored to 1 and set again');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
