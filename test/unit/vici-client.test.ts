/**
 * ViciClient against a fake charon: a real net.Server on a unix socket in a temp dir that reads
 * the client's packets and answers with byte fixtures (or silence, garbage, half a packet).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ViciClient, ViciCommandError, ViciConnectionError, ViciEncodeError, ViciProtocolError, ViciTimeoutError, ViciUnknownCommandError,
  ViciUnknownEventError, connectUnix, expectSuccess, type ViciClientOptions,
} from '../../src/kernel/vici/client.ts';
import { ViciConnection } from '../../src/kernel/vici/connection.ts';
import { PacketReader, encodePacket, type ViciPacket } from '../../src/kernel/vici/message.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { waitFor, within } from '../helpers/wait.ts';

const bytes = (...parts: (number | string)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p, 'ascii'))));
const segment = (payload: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, payload.length >> 8, payload.length & 0xff]), payload]);

const VERSION_REQUEST = Buffer.from('00000009000776657273696f6e', 'hex');
const VERSION_RESPONSE = Buffer.from(
  '000000640103066461656d6f6e000e636861726f6e2d73797374656d64030776657273696f6e0005352e392e3803077379736e616d6500054c696e7578'
  + '030772656c65617365000f362e31382e34342d66632d7635393503076d616368696e6500067838365f3634', 'hex');
const VERSION = { daemon: 'charon-systemd', version: '5.9.8', sysname: 'Linux', release: '6.18.44-fc-v595', machine: 'x86_64' };
const CMD_UNKNOWN = segment(bytes(2));
const EVENT_CONFIRM = segment(bytes(5));
const EVENT_UNKNOWN = segment(bytes(6));
const SUCCESS = segment(bytes(1, 3, 7, 'success', 0, 3, 'yes'));
/** An ike-updown "up" event for IKE_SA gw. */
const IKE_UP = segment(bytes(7, 10, 'ike-updown', 3, 2, 'up', 0, 3, 'yes', 1, 2, 'gw', 3, 5, 'state', 0, 11, 'ESTABLISHED', 2));
const IKE_UP_MESSAGE = { up: 'yes', gw: { state: 'ESTABLISHED' } };
const listSa = (n: number) => segment(bytes(7, 7, 'list-sa', 1, 3, `sa${n}`, 3, 5, 'state', 0, 11, 'ESTABLISHED', 2));
const KNOWN_EVENTS = new Set(['ike-updown', 'child-updown', 'list-sa', 'control-log']);

/** One connection the fake accepted: what the client sent, and a way to answer. */
interface Peer {
  socket: Socket;
  packets: ViciPacket[];
  raw: Buffer[];
  closed: Promise<void>;
  send(...segments: Buffer[]): void;
}

type Script = (packet: ViciPacket, peer: Peer) => void;

/** Answers like charon for the commands and events the tests use; scripts override per test. */
const charonLike: Script = (packet, peer) => {
  switch (packet.type) {
    case 'cmd-request':
      if (packet.name === 'version') return peer.send(VERSION_RESPONSE);
      if (packet.name === 'list-sas') return peer.send(listSa(1), listSa(2), segment(bytes(1)));
      if (packet.name === 'load-shared' || packet.name === 'unload-conn') return peer.send(SUCCESS);
      if (packet.name === 'silent') return;
      return peer.send(CMD_UNKNOWN);
    case 'event-register':
      return peer.send(KNOWN_EVENTS.has(packet.name) ? EVENT_CONFIRM : EVENT_UNKNOWN);
    case 'event-unregister':
      return peer.send(EVENT_CONFIRM);
    default:
      throw new Error(`the fake got an unexpected ${packet.type}`);
  }
};

interface Fake {
  path: string;
  peers: Peer[];
  /** Every packet every connection received, in order, as "type name". */
  log(): string[];
  server: Server;
}

let dir: string;
let sockets = 0;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'seaway-vici-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

async function startFake(script: Script): Promise<Fake> {
  const path = join(dir, `charon-${++sockets}.vici`);
  const peers: Peer[] = [];
  const server = createServer((socket) => {
    const reader = new PacketReader();
    let onClose = () => {};
    const peer: Peer = {
      socket, packets: [], raw: [],
      closed: new Promise((resolve) => { onClose = resolve; }),
      send: (...segments) => { if (!socket.destroyed) socket.write(Buffer.concat(segments)); },
    };
    socket.on('close', onClose);
    socket.on('error', () => { /* the client resets connections on purpose */ });
    socket.on('data', (chunk: Buffer) => {
      peer.raw.push(chunk);
      for (const packet of reader.feed(chunk)) {
        peer.packets.push(packet);
        script(packet, peer);
      }
    });
    peers.push(peer);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
  const describePacket = (p: ViciPacket) => ('name' in p ? `${p.type} ${p.name}` : p.type);
  return { path, peers, server, log: () => peers.flatMap((peer) => peer.packets.map(describePacket)) };
}

/** Runs fn with a fake charon and a client of it; both are shut down afterwards, also on failure. */
async function withFake(script: Script, fn: (client: ViciClient, fake: Fake) => Promise<void>, options: Partial<ViciClientOptions> = {}): Promise<void> {
  const fake = await startFake(script);
  const client = new ViciClient({ connect: connectUnix(fake.path), timeoutMs: 2000, reconnect: { minMs: 5, maxMs: 20 }, ...options });
  try {
    await fn(client, fake);
  } finally {
    client.close();
    for (const peer of fake.peers) peer.socket.destroy();
    await new Promise((resolve) => fake.server.close(resolve));
  }
}

const rejection = async (promise: Promise<unknown>): Promise<Error> => {
  const error = await promise.then(() => assert.fail('resolved'), (e: unknown) => e);
  assert.ok(error instanceof Error, String(error));
  return error;
};

describe('requests', () => {
  it('sends the version request byte for byte and decodes the answer', async () => {
    await withFake(charonLike, async (client, fake) => {
      assert.equal(client.connected, false, 'nothing is opened before the first use');
      assert.deepEqual(await client.request('version'), VERSION);
      assert.deepEqual(Buffer.concat(fake.peers[0]!.raw), VERSION_REQUEST);
      assert.equal(client.connected, true);
    });
  });

  it('CMD_UNKNOWN rejects with ViciUnknownCommandError and the connection stays usable', async () => {
    await withFake(charonLike, async (client, fake) => {
      const error = await rejection(client.request('nosuch'));
      assert.ok(error instanceof ViciUnknownCommandError);
      assert.equal(error.message, 'vici: unknown command "nosuch"');
      assert.deepEqual(await client.request('version'), VERSION);
      assert.equal(fake.peers.length, 1);
    });
  });

  it('serializes requests: the next one is sent only after the answer to the previous one', async () => {
    let outstanding = 0;
    let overlaps = 0;
    // Answers each command with its own name, a little later, so overlapping requests would show.
    const script: Script = (packet, peer) => {
      if (packet.type !== 'cmd-request') return;
      if (outstanding++ > 0) overlaps++;
      setImmediate(() => { outstanding--; peer.send(encodePacket({ type: 'cmd-response', message: { answers: packet.name } })); });
    };
    await withFake(script, async (client) => {
      const answers = await Promise.all(['one', 'two', 'three', 'four'].map((name) => client.request(name)));
      assert.deepEqual(answers.map((a) => a.answers), ['one', 'two', 'three', 'four']);
      assert.equal(overlaps, 0);
    });
  });

  it('an encoding error rejects without touching the connection', async () => {
    await withFake(charonLike, async (client, fake) => {
      assert.ok(await rejection(client.request('load-shared', { data: 'x'.repeat(70_000) })) instanceof ViciEncodeError);
      assert.ok(await rejection(client.request('')) instanceof ViciEncodeError);
      assert.equal(fake.peers.length, 0);
    });
  });

  it('expectSuccess passes success=yes through and turns success=no into ViciCommandError with errmsg', async () => {
    await withFake(charonLike, async (client) => {
      assert.deepEqual(expectSuccess(await client.request('load-shared', { type: 'IKE', data: Buffer.from('k') }), 'load-shared'), { success: 'yes' });
    });
    assert.throws(() => expectSuccess({ success: 'no', errmsg: "CHILD_SA config 'nosuch' not found" }, 'initiate'), (error: unknown) => {
      assert.ok(error instanceof ViciCommandError);
      assert.equal(error.errmsg, "CHILD_SA config 'nosuch' not found");
      assert.equal(error.message, `vici command "initiate" failed: CHILD_SA config 'nosuch' not found`);
      return true;
    });
    assert.throws(() => expectSuccess({}, 'terminate'), /vici command "terminate" failed: no error message given/);
  });

  it('never logs message contents, only command names', async () => {
    const { logger, lines } = captureLogger();
    await withFake(charonLike, async (client) => {
      await client.request('load-shared', { type: 'IKE', data: 'topsecret-psk', owners: ['198.18.0.1'] });
      await rejection(client.request('nosuch', { data: 'topsecret-psk' }));
    }, { logger });
    assert.ok(lines.some((line) => line.command === 'load-shared'), 'the command name is logged');
    assert.doesNotMatch(JSON.stringify(lines), /topsecret/);
  });
});

describe('events in the middle of a command', () => {
  it('delivers a subscribed event that arrives between a request and its answer, in the same chunk or split', async () => {
    const script: Script = (packet, peer) => {
      if (packet.type === 'cmd-request' && packet.name === 'same-chunk') return peer.send(IKE_UP, SUCCESS);
      if (packet.type === 'cmd-request' && packet.name === 'split') {
        const both = Buffer.concat([IKE_UP, SUCCESS]);
        peer.socket.write(both.subarray(0, 7));
        setImmediate(() => peer.socket.write(both.subarray(7)));
        return;
      }
      charonLike(packet, peer);
    };
    await withFake(script, async (client) => {
      const seen: unknown[] = [];
      await client.subscribe('ike-updown', (message, event) => { seen.push({ event, message }); });
      assert.deepEqual(await client.request('same-chunk'), { success: 'yes' });
      assert.deepEqual(await client.request('split'), { success: 'yes' });
      assert.deepEqual(seen, [{ event: 'ike-updown', message: IKE_UP_MESSAGE }, { event: 'ike-updown', message: IKE_UP_MESSAGE }]);
    });
  });
});

describe('streamed commands', () => {
  it('registers the event, collects the streamed events, takes the answer, then unregisters', async () => {
    await withFake(charonLike, async (client, fake) => {
      const result = await client.stream('list-sas', 'list-sa');
      assert.deepEqual(result, { events: [{ sa1: { state: 'ESTABLISHED' } }, { sa2: { state: 'ESTABLISHED' } }], response: {} });
      assert.deepEqual(fake.log(), ['event-register list-sa', 'cmd-request list-sas', 'event-unregister list-sa']);
    });
  });

  it('an unknown streamed command still unregisters its event', async () => {
    await withFake(charonLike, async (client, fake) => {
      assert.ok(await rejection(client.stream('list-nothing', 'list-sa')) instanceof ViciUnknownCommandError);
      assert.deepEqual(fake.log(), ['event-register list-sa', 'cmd-request list-nothing', 'event-unregister list-sa']);
      assert.deepEqual(await client.request('version'), VERSION);
    });
  });

  it('an unknown event rejects with ViciUnknownEventError before the command is sent', async () => {
    await withFake(charonLike, async (client, fake) => {
      const error = await rejection(client.stream('list-sas', 'no-such-event'));
      assert.ok(error instanceof ViciUnknownEventError);
      assert.equal(error.message, 'vici: unknown event "no-such-event"');
      assert.deepEqual(fake.log(), ['event-register no-such-event']);
    });
  });
});

describe('subscriptions', () => {
  it('delivers events and unregisters when the last handler of an event unsubscribes', async () => {
    await withFake(charonLike, async (client, fake) => {
      const first: unknown[] = [];
      const second: unknown[] = [];
      const unsubscribeFirst = await client.subscribe('ike-updown', (message) => { first.push(message); });
      const unsubscribeSecond = await client.subscribe('ike-updown', (message) => { second.push(message); });
      assert.deepEqual(fake.log(), ['event-register ike-updown'], 'one registration serves both handlers');
      fake.peers[0]!.send(IKE_UP);
      await waitFor('both handlers to get the event', () => first.length === 1 && second.length === 1);
      await unsubscribeFirst();
      assert.deepEqual(fake.log(), ['event-register ike-updown'], 'still one handler: stays registered');
      fake.peers[0]!.send(IKE_UP);
      await waitFor('the remaining handler to get the event', () => second.length === 2);
      assert.equal(first.length, 1);
      await unsubscribeSecond();
      await unsubscribeSecond(); // twice is harmless
      assert.deepEqual(fake.log(), ['event-register ike-updown', 'event-unregister ike-updown']);
    });
  });

  it('an unknown event rejects and nothing is subscribed', async () => {
    await withFake(charonLike, async (client) => {
      assert.ok(await rejection(client.subscribe('nosuch-event', () => {})) instanceof ViciUnknownEventError);
    });
  });

  it('handler errors (thrown or rejected) are logged and later events still arrive', async () => {
    const { logger, lines } = captureLogger();
    await withFake(charonLike, async (client, fake) => {
      let calls = 0;
      await client.subscribe('ike-updown', () => { calls++; throw new Error('handler bug'); });
      await client.subscribe('ike-updown', async () => { throw new Error('async handler bug'); });
      fake.peers[0]!.send(IKE_UP, IKE_UP);
      await waitFor('both failures logged twice', () => lines.filter((l) => l.msg === 'vici: event handler failed').length === 4);
      assert.equal(calls, 2);
      assert.deepEqual(await client.request('version'), VERSION);
      assert.ok(lines.some((l) => l.err === 'async handler bug' && l.event === 'ike-updown'));
    }, { logger });
  });

  it('re-registers after charon drops the connection, without waiting for a request, and tells onConnect', async () => {
    await withFake(charonLike, async (client, fake) => {
      let connects = 0;
      client.onConnect(() => { connects++; });
      const seen: unknown[] = [];
      await client.subscribe('ike-updown', (message) => { seen.push(message); });
      await client.subscribe('child-updown', () => {});
      assert.equal(connects, 1);
      fake.peers[0]!.socket.destroy(); // charon restarts
      await waitFor('a second connection with both events registered again', () => fake.peers[1]?.packets.length === 2);
      assert.deepEqual(fake.peers[1]!.packets, [{ type: 'event-register', name: 'ike-updown' }, { type: 'event-register', name: 'child-updown' }]);
      await waitFor('onConnect after the re-registration', () => connects === 2);
      fake.peers[1]!.send(IKE_UP);
      await waitFor('the event from the new connection', () => seen.length === 1);
      assert.deepEqual(seen, [IKE_UP_MESSAGE]);
    });
  });

  it('keeps trying to reconnect while charon is away, and re-registers once it is back', async () => {
    let refusing = true;
    const script: Script = (packet, peer) => {
      if (refusing) return void peer.socket.destroy();
      charonLike(packet, peer);
    };
    await withFake(script, async (client, fake) => {
      refusing = false;
      const seen: unknown[] = [];
      await client.subscribe('ike-updown', (message) => { seen.push(message); });
      refusing = true;
      fake.peers[0]!.socket.destroy();
      await waitFor('several refused reconnects', () => fake.peers.length >= 4);
      refusing = false;
      await waitFor('a connection that registered ike-updown', () => fake.peers.find((p, i) => i > 0 && p.packets.length > 0 && !p.socket.destroyed));
      const peer = fake.peers.at(-1)!;
      await waitFor('the confirmation to arrive', () => client.connected && peer.packets.length === 1);
      peer.send(IKE_UP);
      await waitFor('the event from the new connection', () => seen.length === 1);
    });
  });

  it('without subscriptions, a lost connection is reopened by the next request', async () => {
    await withFake(charonLike, async (client, fake) => {
      await client.request('version');
      fake.peers[0]!.socket.destroy();
      await waitFor('the client to see the connection closed', () => !client.connected);
      assert.equal(fake.peers.length, 1, 'no background reconnect without subscriptions');
      assert.deepEqual(await client.request('version'), VERSION);
      assert.equal(fake.peers.length, 2);
    });
  });
});

describe('failures', () => {
  it('a charon that never answers: ViciTimeoutError within the deadline, the connection is reset, the next request works', async () => {
    await withFake(charonLike, async (client, fake) => {
      const error = await rejection(client.request('silent', {}, { timeoutMs: 100 }));
      assert.ok(error instanceof ViciTimeoutError, String(error));
      assert.equal(error.code, 'ETIMEDOUT');
      assert.match(error.message, /command "silent": no answer from charon within 100 ms; connection reset/);
      await within(fake.peers[0]!.closed, 1000, 'the timed-out connection to be closed');
      assert.deepEqual(await client.request('version'), VERSION);
      assert.equal(fake.peers.length, 2);
    });
  });

  it('a request waiting behind a hung one times out in the queue without being sent', async () => {
    await withFake(charonLike, async (client, fake) => {
      const hung = client.request('silent', {}, { timeoutMs: 400 });
      const queued = await rejection(client.request('version', {}, { timeoutMs: 50 }));
      assert.ok(queued instanceof ViciTimeoutError);
      assert.match(queued.message, /command "version": not started within 50 ms \(queued behind earlier requests\)/);
      assert.ok(await rejection(hung) instanceof ViciTimeoutError);
      assert.deepEqual(fake.log(), ['cmd-request silent'], 'the queued request was never sent');
    });
  });

  // The job ahead is answered after the queued one's deadline (or within 2 ms of it) but before its
  // queue timer fired: the fake answers from a timer callback, then blocks the event loop past that
  // point, so the answer is read in the poll phase that follows, ahead of the next timers phase.
  for (const { label, slackMs } of [{ label: 'has expired', slackMs: 10 }, { label: 'has 2 ms left', slackMs: -2 }]) {
    it(`a queued request that ${label} when its turn comes is rejected unsent, and the connection is kept`, async () => {
      const QUEUED_TIMEOUT_MS = 200;
      let blockUntil = 0;
      const script: Script = (packet, peer) => {
        if (packet.type === 'cmd-request' && packet.name === 'slow') {
          setTimeout(() => {
            peer.send(SUCCESS);
            while (performance.now() < blockUntil) { /* the agent's event loop is busy elsewhere */ }
          }, 10);
          return;
        }
        charonLike(packet, peer);
      };
      await withFake(script, async (client, fake) => {
        let connects = 0;
        client.onConnect(() => { connects++; });
        await client.subscribe('ike-updown', () => {});
        const slow = client.request('slow');
        const queuedAt = performance.now();
        const queued = client.request('version', {}, { timeoutMs: QUEUED_TIMEOUT_MS });
        blockUntil = queuedAt + QUEUED_TIMEOUT_MS + slackMs;
        const error = await rejection(queued);
        assert.ok(error instanceof ViciTimeoutError, String(error));
        assert.equal(error.timeoutMs, QUEUED_TIMEOUT_MS);
        assert.match(error.message, /command "version": expired while queued behind another command \(timeout 200 ms\); not sent/);
        assert.deepEqual(await slow, { success: 'yes' }, 'the request ahead still gets its answer');
        assert.deepEqual(await client.request('unload-conn'), { success: 'yes' }, 'the connection still works');
        assert.deepEqual(fake.log(), ['event-register ike-updown', 'cmd-request slow', 'cmd-request unload-conn'],
          'the expired request never reached charon, and ike-updown was not registered again');
        assert.equal(fake.peers.length, 1, 'no reconnect');
        assert.equal(fake.peers[0]!.socket.destroyed, false);
        assert.equal(client.connected, true);
        assert.equal(connects, 1);
      });
    });
  }

  it('an exchange whose deadline passed before it was sent rejects without writing or resetting the connection', async () => {
    const events: string[] = [];
    const socket = new PassThrough();
    const written: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => written.push(chunk));
    const conn = new ViciConnection(socket, { onEvent: () => {}, onClose: (reason) => { events.push(reason.message); } });
    const error = await rejection(conn.exchange(VERSION_REQUEST, 'command "version"', ['cmd-response'], { expiresAt: performance.now() - 1, timeoutMs: 100 }));
    assert.ok(error instanceof ViciTimeoutError, String(error));
    assert.match(error.message, /command "version": the 100 ms deadline \(all but\) passed before it could be sent; not sent/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(written, []);
    assert.equal(conn.closed, false);
    assert.deepEqual(events, []);
    conn.destroy(new Error('test over'));
  });

  it('garbage from charon: ViciProtocolError, the connection is reset, the next request works', async () => {
    const script: Script = (packet, peer) => {
      if (packet.type === 'cmd-request' && packet.name === 'garbage') return peer.send(segment(bytes(9, 1, 2)));
      charonLike(packet, peer);
    };
    const { logger, lines } = captureLogger();
    await withFake(script, async (client, fake) => {
      const error = await rejection(client.request('garbage'));
      assert.ok(error instanceof ViciProtocolError, String(error));
      assert.match(error.message, /unknown packet type 9 at offset 4 of the stream/);
      await within(fake.peers[0]!.closed, 1000, 'the connection to be reset');
      assert.deepEqual(await client.request('version'), VERSION);
      assert.equal(fake.peers.length, 2);
    }, { logger });
    assert.ok(lines.some((l) => l.msg === 'vici: connection to charon lost' && /unknown packet type 9/.test(String(l.err))));
  });

  it('an answer of the wrong kind, or an oversized segment, is a protocol error', async () => {
    const script: Script = (packet, peer) => {
      if (packet.type === 'cmd-request' && packet.name === 'confirm') return peer.send(EVENT_CONFIRM);
      if (packet.type === 'cmd-request' && packet.name === 'huge') return peer.send(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
      charonLike(packet, peer);
    };
    await withFake(script, async (client) => {
      const wrong = await rejection(client.request('confirm'));
      assert.ok(wrong instanceof ViciProtocolError);
      assert.match(wrong.message, /unexpected event-confirm packet while waiting for the answer to command "confirm" at offset 0 of the stream/);
      const huge = await rejection(client.request('huge'));
      assert.ok(huge instanceof ViciProtocolError);
      assert.match(huge.message, /segment of 2147483647 bytes exceeds the limit of 524288/);
    });
  });

  it('an answer with nothing asked is a protocol error that resets the connection', async () => {
    await withFake(charonLike, async (client, fake) => {
      await client.request('version');
      fake.peers[0]!.send(SUCCESS);
      await within(fake.peers[0]!.closed, 1000, 'the connection to be reset');
      assert.deepEqual(await client.request('version'), VERSION);
    });
  });

  it('charon closing in the middle of a packet: ViciConnectionError saying so', async () => {
    const script: Script = (packet, peer) => {
      if (packet.type === 'cmd-request' && packet.name === 'half') return void peer.socket.end(VERSION_RESPONSE.subarray(0, 20));
      charonLike(packet, peer);
    };
    await withFake(script, async (client) => {
      const error = await rejection(client.request('half'));
      assert.ok(error instanceof ViciConnectionError, String(error));
      assert.match(error.message, /command "half": charon closed the connection in the middle of a packet \(20 bytes of it received\)/);
      assert.deepEqual(await client.request('version'), VERSION);
    });
  });

  it('no daemon listening: ViciConnectionError naming the cause', async () => {
    const client = new ViciClient({ connect: connectUnix(join(dir, 'nobody.vici')), timeoutMs: 1000 });
    try {
      const error = await rejection(client.request('version'));
      assert.ok(error instanceof ViciConnectionError, String(error));
      assert.match(error.message, /^vici command "version": connection to charon failed: connect ENOENT .*nobody\.vici$/);
    } finally {
      client.close();
    }
  });

  it('close() rejects the running and the queued requests, and every later one', async () => {
    await withFake(charonLike, async (client, fake) => {
      const running = client.request('silent');
      const queued = client.request('version');
      await waitFor('the first request to reach charon', () => fake.log().length === 1);
      client.close();
      for (const pending of [running, queued]) {
        const error = await rejection(pending);
        assert.ok(error instanceof ViciConnectionError, String(error));
        assert.match(error.message, /vici client closed/);
      }
      assert.match((await rejection(client.request('version'))).message, /vici client closed/);
      assert.match((await rejection(client.subscribe('ike-updown', () => {}))).message, /vici client closed/);
      await within(fake.peers[0]!.closed, 1000, 'the connection to be closed');
    });
  });

  it('refuses a timeout that is not a positive finite number', async () => {
    assert.throws(() => new ViciClient({ connect: connectUnix('/nonexistent'), timeoutMs: 0 }), RangeError);
    const client = new ViciClient({ connect: connectUnix('/nonexistent') });
    await assert.rejects(client.request('version', {}, { timeoutMs: Number.POSITIVE_INFINITY }), RangeError);
    client.close();
  });
});
