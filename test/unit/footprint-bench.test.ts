/** The footprint benchmark's pure parts: its test objects, the subnet check, /proc parsing, CPU %. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  benchNode, benchNodeIp, benchNodePodCidr, boundedAll, checkSubnets, cpuPercent, metricSum, parseHeapMetrics, parseProcStatTicks, parseProcStatus, phaseFigures, remoteSubnet,
} from '../bench/footprint-support.ts';

describe('footprint benchmark objects', () => {
  it('5,000 Nodes: distinct addresses and pod CIDRs, about 10 KB of JSON each', () => {
    const ips = new Set(Array.from({ length: 5000 }, (_, i) => benchNodeIp(i + 1)));
    const cidrs = Array.from({ length: 5000 }, (_, i) => benchNodePodCidr(i + 1));
    assert.equal(ips.size, 5000);
    assert.equal(new Set(cidrs).size, 5000);
    const size = JSON.stringify(benchNode(5000, new Date('2026-11-30T10:00:00Z'))).length;
    assert.ok(size > 8000 && size < 16000, `${size} bytes`);
  });

  it('1,000 clusters x 10 subnets: valid, disjoint, clear of the lab\'s own ranges and the Nodes\' pod CIDRs', () => {
    const subnets = Array.from({ length: 1000 }, (_, i) => Array.from({ length: 10 }, (__, j) => remoteSubnet(i + 1, j))).flat();
    const reserved = ['10.1.0.0/16', '10.101.0.0/16', ...Array.from({ length: 5000 }, (_, i) => benchNodePodCidr(i + 1))];
    assert.equal(checkSubnets(subnets, reserved), null);
  });
});

describe('checkSubnets', () => {
  it('finds overlaps, with a reserved range or between subnets; reserved ranges may overlap each other', () => {
    assert.match(checkSubnets(['10.2.0.0/24', '10.2.0.128/25'], []) ?? '', /10\.2\.0\.128\/25 overlaps 10\.2\.0\.0\/24/);
    assert.match(checkSubnets(['10.1.5.0/24'], ['10.1.0.0/16']) ?? '', /overlaps the lab's 10\.1\.0\.0\/16/);
    assert.equal(checkSubnets(['10.2.0.0/24', '10.2.1.0/24'], ['10.1.0.0/16', '10.1.2.0/24']), null);
  });
  it('refuses malformed CIDRs and host bits', () => {
    assert.notEqual(checkSubnets(['10.2.0.0/33'], []), null);
    assert.notEqual(checkSubnets(['banana'], []), null);
    assert.match(checkSubnets(['10.2.0.1/24'], []) ?? '', /host bits set/);
  });
});

describe('/proc parsing and figures', () => {
  it('reads VmRSS and RssAnon, and refuses a status without them', () => {
    assert.deepEqual(parseProcStatus('Name:\tnode\nVmRSS:\t  131072 kB\nRssAnon:\t   65536 kB\n'), { vmRssKiB: 131072, rssAnonKiB: 65536 });
    assert.throws(() => parseProcStatus('Name:\tkthreadd\n'), /no VmRSS line/);
  });
  it('reads utime + stime after the last ")", whatever the command name holds', () => {
    const stat = (name: string) => `4547 (${name}) S 1 4547 4547 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 8 0 100 0 0`;
    assert.equal(parseProcStatTicks(stat('node')), 287);
    assert.equal(parseProcStatTicks(stat('a) b (c')), 287);
    assert.throws(() => parseProcStatTicks('4547 node S'), /no "\)"/);
    assert.throws(() => parseProcStatTicks('4547 (node) S 1 2'), /no utime\/stime/);
  });
  it('CPU % of one core; medians and maxima in MiB', () => {
    assert.equal(cpuPercent(50, 100, 1000), 50);
    assert.throws(() => cpuPercent(1, 0, 1000), RangeError);
    const figures = phaseFigures('p', [{ vmRssKiB: 102400, rssAnonKiB: 51200 }, { vmRssKiB: 204800, rssAnonKiB: 61440 }, { vmRssKiB: 153600, rssAnonKiB: 40960 }] as never, null);
    assert.deepEqual([figures.vmRssMedianMiB, figures.vmRssMaxMiB, figures.rssAnonMedianMiB, figures.rssAnonMaxMiB], [150, 200, 50, 60]);
  });
  it('V8 heap used and total from prom-client\'s default metrics; null without them', () => {
    const text = '# HELP nodejs_heap_size_total_bytes x\n# TYPE nodejs_heap_size_total_bytes gauge\nnodejs_heap_size_total_bytes 41943040\nnodejs_heap_size_used_bytes 2.097152e+7\nnodejs_heap_space_size_used_bytes{space="old"} 1\n';
    assert.deepEqual(parseHeapMetrics(text), { usedMiB: 20, totalMiB: 40 });
    assert.equal(parseHeapMetrics('nodejs_heap_size_used_bytes 1\n'), null);
    assert.equal(parseHeapMetrics(''), null);
  });
  it('a counter summed over its labels; 0 when absent', () => {
    const text = 'seaway_reconcile_passes_total{result="ok"} 12\nseaway_reconcile_passes_total{result="waiting"} 3\nseaway_reconcile_passes_total_other 100\n';
    assert.equal(metricSum(text, 'seaway_reconcile_passes_total'), 15);
    assert.equal(metricSum(text, 'absent_total'), 0);
  });
  it('boundedAll runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await boundedAll(Array.from({ length: 25 }, (_, i) => i), 4, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      done.push(item);
      running -= 1;
    });
    assert.equal(done.length, 25);
    assert.ok(most <= 4 && most > 1, `at most ${most} at once`);
  });
});
