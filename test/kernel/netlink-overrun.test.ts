/**
 * Real netlink sockets inside a throwaway namespace: what an overrun (ENOBUFS) of an event socket
 * does, and what the kernel grants the request socket for its receive buffer.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { NetlinkConnection } from '../../src/kernel/netlink/connection.ts';
import { NETLINK_RECEIVE_BUFFER_BYTES, rawNetlinkSocketFactory, receiveBuffer } from '../../src/kernel/netlink/socket.ts';
import { NETLINK_ROUTE } from '../../src/kernel/netlink/codec.ts';

await runInsideNetns(import.meta.url, 'overrun');
requireTools('ip');

const RTM_GETLINK = 18;
const PAIRS = 150;

const dir = await mkdtemp(join(tmpdir(), 'seaway-overrun-'));
after(() => rm(dir, { recursive: true, force: true }));

/*
 * An overrun sets the socket error, epoll reports EPOLLERR, and libuv calls the binding's poll
 * handler with an error. The stock `netlink` 0.3.0 binding built that error with a NULL syscall
 * name, which threw a C++ exception nobody caught and aborted the process ("terminate called after
 * throwing an instance of 'Napi::Error'"); scripts/patch-netlink.sh (run by bootstrap) fixes it
 * (syscall "poll") and rebuilds the binding the project loads. With it, the binding emits the error
 * and closes the socket; the subscription reopens, reports the loss and receives the later event.
 * The child is a process of its own so that an abort, should the fix be missing, fails this test
 * instead of ending the runner.
 */
test('an overrun event socket reports the loss, listens again, and later events arrive', async (t) => {
  try {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(new URL('./netlink-overrun-child.ts', import.meta.url)), dir, String(PAIRS)], {
      // cwd in the temp dir: a core dump of an abort, where enabled, goes away with it.
      encoding: 'utf8', timeout: 60_000, env: process.env, cwd: dir,
    });
    assert.equal(child.status, 0, `child ended with ${child.status ?? child.signal}: ${child.stderr}`);
    const outcome = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { lost: string[]; laterEventArrived: boolean };
    t.diagnostic(`overrun outcome: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.lost.length >= 1, 'the loss is reported');
    assert.match(outcome.lost[0]!, /^netlink events lost \(.+\): full resync$/);
    assert.equal(outcome.laterEventArrived, true, 'events flow again after the overrun');
  } finally {
    await run('ip', ['link', 'del', 'ovafter0'], { allowFailure: true });
    await writeFile(join(dir, 'deletes'), Array.from({ length: PAIRS }, (_, i) => `link del ova${i}\n`).join(''));
    await run('ip', ['-force', '-batch', join(dir, 'deletes')], { allowFailure: true });
  }
});

test('the request socket reads back the receive buffer the kernel granted', async (t) => {
  const warnings: string[] = [];
  const connection = new NetlinkConnection({ warn: (m) => warnings.push(m) });
  try {
    const buffer = connection.receiveBuffer;
    assert.ok(buffer);
    assert.equal(buffer.requested, NETLINK_RECEIVE_BUFFER_BYTES);
    const rmemMax = Number(execFileSync('cat', ['/proc/sys/net/core/rmem_max'], { encoding: 'utf8' }).trim());
    t.diagnostic(`SO_RCVBUF read back ${buffer.granted} bytes for ${buffer.requested} asked (net.core.rmem_max ${rmemMax})`);
    // The patched binding asks with SO_RCVBUFFORCE, which ignores rmem_max under CAP_NET_ADMIN (these
    // tests run as root): the kernel grants what was asked and reports it doubled.
    assert.equal(buffer.granted, 2 * buffer.requested);
    assert.equal(buffer.capped, false);
    assert.equal(warnings.length, 0);
    assert.ok((await connection.dump(RTM_GETLINK, [Buffer.alloc(16)])).length >= 1, 'the socket answers');
    // Past rmem_max, which plain SO_RCVBUF could not reach (the size is a C int: stay well below 2^31).
    const beyond = 2 * rmemMax;
    if (beyond <= 2 ** 30) {
      const socket = rawNetlinkSocketFactory(NETLINK_ROUTE, 0, beyond)();
      try {
        const big = receiveBuffer(socket, beyond);
        t.diagnostic(`asking ${beyond} (2 x rmem_max) read back ${big.granted}`);
        assert.deepEqual(big, { requested: beyond, granted: 2 * beyond, capped: false });
      } finally {
        socket.close();
      }
    }
  } finally {
    connection.close();
  }
});

test('the send buffer is granted past net.core.wmem_max (an nftables transaction is one datagram)', (t) => {
  const wmemMax = Number(execFileSync('cat', ['/proc/sys/net/core/wmem_max'], { encoding: 'utf8' }).trim());
  // Twice wmem_max, which plain SO_SNDBUF could not reach; the patched binding asks with
  // SO_SNDBUFFORCE, and the kernel grants it doubled. (A C int: stay well below 2^31.)
  const beyond = Math.min(2 * wmemMax, 2 ** 29);
  assert.ok(beyond > wmemMax, `net.core.wmem_max ${wmemMax} leaves no room below 2^29 to ask past it`);
  const socket = rawNetlinkSocketFactory(NETLINK_ROUTE, beyond)() as ReturnType<ReturnType<typeof rawNetlinkSocketFactory>> & { getSendBufferSize(): number };
  try {
    t.diagnostic(`asking ${beyond} (past wmem_max ${wmemMax}) read back ${socket.getSendBufferSize()}`);
    assert.equal(socket.getSendBufferSize(), 2 * beyond);
  } finally {
    socket.close();
  }
});
