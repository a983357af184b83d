import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadOrCreateKey, rotateKeyFile } from '../../src/cable/wireguard-key-file.ts';
import { clampPrivateKey, parseWireguardKey, wireguardPresharedKey, wireguardPublicKey } from '../../src/model/wireguard-keys.ts';

describe('WireGuard keys', () => {
  it('the public key is X25519 of the private key (RFC 7748 section 6.1, Alice)', () => {
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    assert.equal(wireguardPublicKey(alice).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it('clamping as Curve25519 asks, without changing the public key', () => {
    const clamped = clampPrivateKey(Buffer.alloc(32, 0xff));
    assert.equal(clamped[0], 0xf8);
    assert.equal(clamped[31], 0x7f);
    assert.equal(clampPrivateKey(Buffer.alloc(32, 0))[31], 0x40);
    assert.throws(() => clampPrivateKey(Buffer.alloc(16)), /32 bytes, got 16/);
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    assert.deepEqual(wireguardPublicKey(clampPrivateKey(alice)), wireguardPublicKey(alice));
  });

  it('the preshared key is SHA-256 of the PSK string, as Submariner\'s driver derives it', () => {
    assert.equal(wireguardPresharedKey(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('Endpoint keys: 32 bytes of base64 or a reason', () => {
    assert.deepEqual(parseWireguardKey(Buffer.alloc(32, 1).toString('base64')), { ok: true, key: Buffer.alloc(32, 1) });
    for (const bad of [undefined, 7, '', 'abc', Buffer.alloc(31).toString('base64'), `${Buffer.alloc(32).toString('base64')}\n`, Buffer.alloc(33).toString('base64')]) {
      assert.equal(parseWireguardKey(bad).ok, false, String(bad));
    }
  });
});

describe('the WireGuard key file', () => {
  const withDir = async (body: (dir: string) => Promise<void>) => {
    const dir = await mkdtemp(join(tmpdir(), 'seaway-wgkey-'));
    try { await body(dir); } finally { await rm(dir, { recursive: true, force: true }); }
  };

  it('is made 0600 on the first start and read back unchanged on the next', () => withDir(async (dir) => {
    const path = join(dir, 'state', 'wireguard.key');
    const first = await loadOrCreateKey(path);
    assert.equal(first.created, true);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const second = await loadOrCreateKey(path);
    assert.equal(second.created, false);
    assert.deepEqual(second.identity, first.identity);
    assert.equal((await readFile(path, 'utf8')).trim(), first.identity.privateKey.toString('base64'));
  }));

  it('a file someone loosened is tightened to 0600', () => withDir(async (dir) => {
    const path = join(dir, 'wireguard.key');
    await loadOrCreateKey(path);
    await chmod(path, 0o644);
    await loadOrCreateKey(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  }));

  it('a file holding no key is an error naming it and is left as it is', () => withDir(async (dir) => {
    const path = join(dir, 'wireguard.key');
    await writeFile(path, 'not a key\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateKey(path), (error: Error) => error.message.includes(path) && /not 32 bytes in base64/.test(error.message));
    assert.equal(await readFile(path, 'utf8'), 'not a key\n');
  }));

  it('rotation replaces the key with a new one the next load returns', () => withDir(async (dir) => {
    const path = join(dir, 'wireguard.key');
    const first = await loadOrCreateKey(path);
    const rotated = await rotateKeyFile(path);
    assert.notDeepEqual(rotated.publicKey, first.identity.publicKey);
    assert.deepEqual((await loadOrCreateKey(path)).identity, rotated);
  }));
});

describe('seaway rotate-wireguard-key', () => {
  it('is a command of its own that reads only --state-dir (the gateway\'s by default)', async () => {
    const { parseConfig } = await import('../../src/config.ts');
    assert.deepEqual(parseConfig(['rotate-wireguard-key'], {}), { command: 'rotate-wireguard-key', stateDir: '/var/lib/seaway/gateway' });
    assert.deepEqual(parseConfig(['rotate-wireguard-key', '--state-dir', '/x/gw'], {}), { command: 'rotate-wireguard-key', stateDir: '/x/gw' });
    assert.throws(() => parseConfig(['rotate-wireguard-key', '--state-dir', 'relative'], {}), /--state-dir.*absolute path/);
  });

  it('writes a new key where the gateway keeps it and prints only the public key', async () => {
    const { rotateWireguardKey, wireguardStateDir } = await import('../../src/cable/rotate-key-command.ts');
    const dir = await mkdtemp(join(tmpdir(), 'seaway-rotate-'));
    try {
      const path = join(wireguardStateDir(dir), 'wireguard.key');
      const before = (await loadOrCreateKey(path)).identity;
      const out: string[] = [];
      const sink = (into: string[]) => ({ write: (text: string) => { into.push(text); return true; } }) as unknown as NodeJS.WritableStream;
      const code = await rotateWireguardKey(dir, sink(out) as never, sink([]) as never);
      assert.equal(code, 0);
      const after = (await loadOrCreateKey(path)).identity;
      assert.notDeepEqual(after.privateKey, before.privateKey);
      assert.match(out.join(''), new RegExp(`public key ${after.publicKey.toString('base64').replace(/[+/]/g, '\\$&')}`));
      assert.ok(!out.join('').includes(after.privateKey.toString('base64')), 'the private key is not printed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
