/**
 * Run by netlink-overrun.test.ts inside its namespace, as a process of its own because the stock
 * `netlink` 0.3.0 binding aborted the whole process when a socket overran (see the test). Subscribes
 * to link events on a socket with the smallest receive buffer, blocks the event loop while a burst
 * of links is created so the buffer overruns, then creates one more link. Prints one JSON line:
 * the loss reasons and whether the later link's event arrived.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawNetlinkSocket } from 'netlink';
import { subscribeNetlink } from '../../src/kernel/netlink/subscription.ts';
import { NETLINK_ROUTE } from '../../src/kernel/netlink/codec.ts';
import { decodeEvent } from '../../src/kernel/rtnetlink-events.ts';
import { NETLINK_RECEIVE_BUFFER_BYTES, type NetlinkSocket } from '../../src/kernel/netlink/socket.ts';

const RTNLGRP_LINK = 1;
const [dir, pairs] = [process.argv[2]!, Number(process.argv[3])];

let opened = 0;
const names = new Set<string>();
const lost: string[] = [];
const subscription = subscribeNetlink(NETLINK_ROUTE, [RTNLGRP_LINK], (messages) => {
  for (const msg of messages) {
    const event = decodeEvent(msg.type, msg.payload);
    if (event?.type === 'link') names.add(event.name);
  }
}, (reason) => lost.push(reason), {
  // The first socket gets the kernel's minimum buffer (asking 1 byte), so the burst overruns it for
  // sure; its replacements the usual size, so the later event fits.
  socketFactory: (): NetlinkSocket => new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: opened++ === 0 ? 1 : NETLINK_RECEIVE_BUFFER_BYTES, sendBufferSize: 0 }),
  warn: () => {},
});

const batch = join(dir, 'links');
writeFileSync(batch, Array.from({ length: pairs }, (_, i) => `link add ova${i} type veth peer name ovb${i}\n`).join(''));
// Synchronous on purpose: nothing reads the socket while the kernel sends the burst.
execFileSync('ip', ['-batch', batch], { timeout: 30_000 });
for (let i = 0; i < 300 && lost.length === 0; i++) await sleep(10);
execFileSync('ip', ['link', 'add', 'ovafter0', 'type', 'veth', 'peer', 'name', 'ovafter1'], { timeout: 10_000 });
for (let i = 0; i < 300 && !names.has('ovafter0'); i++) await sleep(10);
subscription.close();
process.stdout.write(`${JSON.stringify({ lost, laterEventArrived: names.has('ovafter0'), socketsOpened: opened })}\n`);
