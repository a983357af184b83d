import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/kernel/exec.ts';
import { continuousPing, createGatewayPair, parsePingSummary, parseTimestampedPing, ping, WAN_IFACE } from '../helpers/gateway-pair.ts';
import { cleartextHits, describePackets, findCleartext, ipv4InCidrs, parsePcap, startWanCapture } from '../helpers/wan-capture.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';

const POD_CIDRS = ['10.1.0.0/16', '10.2.0.0/16'];

// ---- pure parts (no root needed) ----

/** A pcap record: 16-byte header (little-endian) then the frame. */
function record(seconds: number, micros: number, frame: number[]): number[] {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(seconds, 0);
  header.writeUInt32LE(micros, 4);
  header.writeUInt32LE(frame.length, 8);
  header.writeUInt32LE(frame.length, 12);
  return [...header, ...frame];
}
const ETH_IPV4 = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
/** A 20-byte IPv4 header (checksum left 0: the parser does not check it). */
function ipv4(protocol: number, src: number[], dst: number[], payloadLength: number): number[] {
  const total = 20 + payloadLength;
  return [0x45, 0, total >> 8, total & 0xff, 0, 1, 0x40, 0, 64, protocol, 0, 0, ...src, ...dst];
}
function udp(srcPort: number, dstPort: number, payload: number[]): number[] {
  const length = 8 + payload.length;
  return [srcPort >> 8, srcPort & 0xff, dstPort >> 8, dstPort & 0xff, length >> 8, length & 0xff, 0, 0, ...payload];
}

test('the pcap parser reads a handmade capture: cleartext pod packets found, IKE/ESP-in-UDP/ESP/keepalive counted', () => {
  const wan1 = [198, 18, 0, 1];
  const wan2 = [198, 18, 0, 2];
  const icmpEcho = [8, 0, 0, 0, 0, 1, 0, 1];
  const ike = udp(4500, 4500, [0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
  const espInUdp = udp(4500, 4500, [0xc1, 0, 0, 1, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
  const keepalive = udp(4500, 4500, [0xff]);
  const ike500 = udp(500, 500, [1, 2, 3, 4, 5, 6, 7, 8]);
  const esp = [0xc1, 0, 0, 2, 0, 0, 0, 9, 1, 2, 3, 4];
  const arp = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1];
  const vlanIcmp = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 5, 0x08, 0x00, ...ipv4(1, [10, 2, 1, 2], [10, 1, 1, 2], 8), ...icmpEcho];
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const bytes = Uint8Array.from([
    ...header,
    ...record(1700000000, 500000, [...ETH_IPV4, ...ipv4(1, [10, 1, 1, 2], [10, 2, 1, 2], 8), ...icmpEcho]),
    ...record(1700000001, 0, [...ETH_IPV4, ...ipv4(17, wan1, wan2, ike.length), ...ike]),
    ...record(1700000001, 1, [...ETH_IPV4, ...ipv4(17, wan2, wan1, espInUdp.length), ...espInUdp]),
    ...record(1700000001, 2, [...ETH_IPV4, ...ipv4(17, wan1, wan2, keepalive.length), ...keepalive]),
    ...record(1700000001, 3, [...ETH_IPV4, ...ipv4(17, wan1, wan2, ike500.length), ...ike500]),
    ...record(1700000001, 4, [...ETH_IPV4, ...ipv4(50, wan1, wan2, esp.length), ...esp]),
    ...record(1700000001, 5, arp),
    ...record(1700000001, 6, vlanIcmp),
    // A truncated last record (capture still being written) is ignored.
    0x01, 0x02, 0x03,
  ]);
  const packets = parsePcap(bytes);
  assert.equal(packets.length, 8);
  assert.deepEqual(
    packets.map((p) => p.kind),
    ['other', 'ike', 'esp-in-udp', 'nat-keepalive', 'ike', 'esp', 'other', 'other'],
  );
  assert.equal(packets[0]!.src, '10.1.1.2');
  assert.equal(packets[0]!.dst, '10.2.1.2');
  assert.equal(packets[0]!.protocol, 1);
  assert.equal(packets[0]!.time, 1700000000.5);
  assert.equal(packets[1]!.srcPort, 4500);
  assert.equal(packets[6]!.src, undefined, 'ARP has no IPv4 header');
  const report = findCleartext(packets, POD_CIDRS);
  assert.deepEqual(report.hits.map((p) => p.index), [0, 7]);
  assert.deepEqual(report.totals, { ike: 2, espInUdp: 1, natKeepalive: 1, esp: 1, other: 3, total: 8 });

  // Big-endian nanosecond captures parse too.
  const be = Buffer.alloc(24 + 16 + 34);
  be.writeUInt32BE(0xa1b23c4d, 0);
  be.writeUInt32BE(1, 20);
  be.writeUInt32BE(10, 24);
  be.writeUInt32BE(250_000_000, 28);
  be.writeUInt32BE(34, 32);
  be.writeUInt32BE(60, 36);
  Buffer.from([...ETH_IPV4, ...ipv4(6, [10, 2, 0, 9], [198, 18, 0, 1], 0)]).copy(be, 40);
  const [tcp] = parsePcap(be);
  assert.equal(tcp!.time, 10.25);
  assert.equal(tcp!.length, 60);
  assert.equal(tcp!.src, '10.2.0.9');
  assert.throws(() => parsePcap(Buffer.from('0A0D0D0A000000000000000000000000000000000000000000', 'hex')), /pcapng is not supported/);

  assert.ok(ipv4InCidrs('10.1.255.1', POD_CIDRS));
  assert.ok(!ipv4InCidrs('10.3.0.1', POD_CIDRS));
  assert.ok(ipv4InCidrs('192.0.2.7', ['0.0.0.0/0']));
});

test('ping output parsers read iputils summaries and -D -O lines', () => {
  assert.deepEqual(parsePingSummary('3 packets transmitted, 3 received, 0% packet loss, time 402ms'), { transmitted: 3, received: 3, errors: 0 });
  assert.deepEqual(parsePingSummary('1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms'), { transmitted: 1, received: 0, errors: 1 });
  assert.equal(parsePingSummary('connect: Network is unreachable'), undefined);
  const out = [
    'PING 10.2.1.2 (10.2.1.2) 56(84) bytes of data.',
    '[1700000000.100000] 64 bytes from 10.2.1.2: icmp_seq=1 ttl=62 time=0.1 ms',
    '[1700000000.200000] no answer yet for icmp_seq=2',
    '[1700000000.300000] no answer yet for icmp_seq=3',
    '[1700000000.350000] 64 bytes from 10.2.1.2: icmp_seq=3 ttl=62 time=150 ms',
    '[1700000000.900000] 64 bytes from 10.2.1.2: icmp_seq=9 ttl=62 time=0.1 ms',
  ].join('\n');
  // 3 came late (its reply after "no answer yet"): unanswered in time, not lost; 2 never came.
  assert.deepEqual(parseTimestampedPing(out), { replyTimes: [1700000000.1, 1700000000.35, 1700000000.9], unanswered: [2, 3], lost: [2] });
});

// ---- the topology (root) ----

test('a gateway pair: pods reach their gateway, not each other; plain routes make them reach, and the WAN capture sees pod addresses', async () => {
  requireTools('ip', 'ping', 'tcpdump', 'sysctl');
  const dir = await mkdtemp(join(tmpdir(), 'seaway-gwpair-'));
  const pair = await createGatewayPair({ gw1ServiceAddresses: ['10.1.128.1/32'], gw2ServiceAddresses: ['10.2.128.1/32'] });
  const names = Object.values(pair.names);
  let capture: Awaited<ReturnType<typeof startWanCapture>> | undefined;
  try {
    assert.equal(new Set(names).size, 4);
    for (const name of names) assert.match(name, /^swt-(gw|pod)[12]-[0-9a-f]{6}$/);
    // Nothing in the root namespace: the WAN and LAN links live only inside.
    for (const iface of [WAN_IFACE, 'lan0']) {
      const root = await run('ip', ['-o', 'link', 'show', iface], { allowFailure: true });
      assert.notEqual(root.code, 0, `${iface} must not exist in the root namespace`);
    }
    const forwarding = await pair.exec(pair.gw1.gateway, 'sysctl', ['-n', 'net.ipv4.ip_forward']);
    assert.equal(forwarding.stdout.trim(), '1');

    // Pods reach their own gateway (and its service address); the gateways reach each other over the WAN.
    for (const side of [pair.gw1, pair.gw2]) {
      const toGateway = await ping(side.pod, side.lanAddress, { count: 2, intervalS: 0.1 });
      assert.equal(toGateway.received, 2, toGateway.output);
      const toService = await ping(side.pod, side.serviceAddresses[0]!, { count: 1 });
      assert.equal(toService.received, 1, toService.output);
    }
    const overWan = await ping(pair.gw1.gateway, pair.gw2.wanAddress, { count: 2, intervalS: 0.1 });
    assert.equal(overWan.received, 2, overWan.output);

    // No route between the clusters: gw1 answers "Destination Net Unreachable" at once.
    const blocked = await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 1, timeoutS: 1 });
    assert.equal(blocked.received, 0, blocked.output);
    assert.match(blocked.output, /Unreachable/, blocked.output);

    // A plain (unencrypted) route pair: pod traffic now crosses the WAN in the clear, and the capture must see it.
    capture = await startWanCapture(pair.gw1.gateway, WAN_IFACE, join(dir, 'wan.pcap'));
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'add', pair.gw2.clusterCidr, 'via', pair.gw2.wanAddress]);
    await pair.exec(pair.gw2.gateway, 'ip', ['route', 'add', pair.gw1.clusterCidr, 'via', pair.gw1.wanAddress]);
    const through = await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 3, intervalS: 0.1 });
    assert.equal(through.received, 3, through.output);

    // An outage measured by continuousPing: replies flow, the route goes away until ping reports
    // unanswered sequences, comes back, replies flow again; the largest gap spans the outage.
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress, { intervalS: 0.02, timeoutS: 1 });
    await waitFor('5 replies before the outage', () => pinger.replies >= 5);
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'del', pair.gw2.clusterCidr]);
    await waitFor('ping to report 5 unanswered sequences', () => pinger.unanswered >= 5);
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'add', pair.gw2.clusterCidr, 'via', pair.gw2.wanAddress]);
    const repliesBefore = pinger.replies;
    await waitFor('5 replies after the outage', () => pinger.replies >= repliesBefore + 5);
    const report = await pinger.stop();
    assert.ok(report.transmitted > report.received, JSON.stringify({ ...report, output: undefined }));
    assert.ok(report.received >= 10, report.output);
    assert.ok(report.unanswered.length >= 5, report.output);
    assert.ok(report.maxGapS < 10, `max gap ${report.maxGapS}s`);

    await capture.stop();
    const wan = await cleartextHits(capture.file, POD_CIDRS);
    const echo = wan.hits.filter((p) => p.protocol === 1);
    assert.ok(echo.some((p) => p.src === pair.gw1.podAddress && p.dst === pair.gw2.podAddress), describePackets(wan.hits));
    assert.ok(echo.some((p) => p.src === pair.gw2.podAddress && p.dst === pair.gw1.podAddress), describePackets(wan.hits));
    assert.ok(echo.length >= 6 + 10, `expected the echo requests and replies, got ${echo.length}`);
    assert.equal(wan.totals.ike + wan.totals.esp + wan.totals.espInUdp, 0, JSON.stringify(wan.totals));
  } finally {
    await capture?.stop();
    await pair.destroy();
    await pair.destroy(); // safe twice
    await rm(dir, { recursive: true, force: true });
  }
  const list = await run('ip', ['netns', 'list']);
  for (const name of names) assert.ok(!list.stdout.includes(name), `${name} must be gone after destroy`);
});
