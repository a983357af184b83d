import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IN_IMAGE_SCRIPT, imageEnvironment, inImageArgv } from '../../scripts/in-image.ts';

const where = { rootfs: '/work/build/image/rootfs', scratch: '/tmp/s', workingDir: '/app' };

test('a program runs through a private mount namespace and sh, with the paths as arguments, never in the script text', () => {
  const argv = inImageArgv(where, ['/usr/local/bin/node', '/app/seaway.mjs', 'run']);
  assert.deepEqual(argv.slice(0, 6), ['unshare', '--mount', '--propagation', 'private', 'sh', '-c']);
  assert.equal(argv[6], IN_IMAGE_SCRIPT);
  assert.deepEqual(argv.slice(7), ['/work/build/image/rootfs', '/tmp/s', '/app', '/usr/local/bin/node', '/app/seaway.mjs', 'run']);
  assert.ok(!IN_IMAGE_SCRIPT.includes('/work/build'), 'no caller path in the script');
});

test("the script binds the root filesystem read-only before anything else is mounted, and execs the program", () => {
  const lines = IN_IMAGE_SCRIPT.split('\n');
  const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
  assert.equal(lines[0], 'set -e', 'a failed mount stops it before the program runs');
  assert.ok(at('mount -o remount,bind,ro "$root"') > at('mount --bind "$root" "$root"'));
  for (const mount of ['mount --rbind /proc', 'mount --rbind /sys', 'mount --rbind /dev', 'mount -t tmpfs', 'mount --bind "$scratch"']) {
    assert.ok(at(mount) > at('mount -o remount,bind,ro'), mount);
  }
  assert.equal(lines.at(-1), 'exec unshare --root "$root" --wd "$wd" "$@"');
});

test('relative or climbing paths, the machine root and an empty argv are refused', () => {
  assert.throws(() => inImageArgv({ ...where, rootfs: 'build/image/rootfs' }, ['/bin/true']), /rootfs must be an absolute path/);
  assert.throws(() => inImageArgv({ ...where, rootfs: '/work/../' }, ['/bin/true']), /without ".."/);
  assert.throws(() => inImageArgv({ ...where, rootfs: '/' }, ['/bin/true']), /must not be the machine's own root/);
  assert.throws(() => inImageArgv({ ...where, rootfs: '//' }, ['/bin/true']), /must not be the machine's own root/);
  assert.throws(() => inImageArgv({ ...where, scratch: 'tmp' }, ['/bin/true']), /scratch must be an absolute path/);
  assert.throws(() => inImageArgv({ ...where, workingDir: 'app' }, ['/bin/true']), /workingDir must be an absolute path/);
  assert.throws(() => inImageArgv(where, []), /no program/);
  assert.throws(() => inImageArgv(where, ['']), /no program/);
});

test("the environment is the image's Env, a later entry winning, then the caller's additions", () => {
  assert.deepEqual(imageEnvironment(['PATH=/usr/bin', 'A=1', 'A=2', 'B=x=y', 'E='], { A: '3', C: 'c' }), { PATH: '/usr/bin', A: '3', B: 'x=y', E: '', C: 'c' });
  assert.deepEqual(imageEnvironment([]), {});
  assert.throws(() => imageEnvironment(['PATH']), /"PATH" is not NAME=value/);
  assert.throws(() => imageEnvironment(['=x']), /is not NAME=value/);
});
