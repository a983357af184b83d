/** The lab container runtime's path resolution inside an image root: symlinks followed inside it, never out of it. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveInRoot } from './container-init.ts';

describe('resolveInRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'seaway-rootfs-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'run'));
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('/run', join(root, 'var-run'));
  mkdirSync(join(root, 'var'));
  symlinkSync('/run', join(root, 'var/run'));
  symlinkSync('usr/lib', join(root, 'lib'));
  symlinkSync('../../../../etc', join(root, 'usr/escape'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));

  it('follows an absolute symlink inside the root (Debian\'s /var/run -> /run), not on the machine', () => {
    assert.equal(resolveInRoot(root, '/var/run/secrets/kubernetes.io/serviceaccount'), join(root, 'run/secrets/kubernetes.io/serviceaccount'));
  });

  it('follows relative symlinks and keeps paths without symlinks as they are', () => {
    assert.equal(resolveInRoot(root, '/lib/modules'), join(root, 'usr/lib/modules'));
    assert.equal(resolveInRoot(root, '/etc/seaway/psk'), join(root, 'etc/seaway/psk'));
    assert.equal(resolveInRoot(root, '/'), root);
  });

  it('never leaves the root through .. or a symlink climbing above it', () => {
    assert.equal(resolveInRoot(root, '/../../etc/passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/usr/escape/shadow'), join(root, 'etc/shadow'));
  });

  it('refuses a symlink loop', () => {
    assert.throws(() => resolveInRoot(root, '/loop-a/x'), /too many symbolic links resolving \/loop-a\/x/);
  });
});
