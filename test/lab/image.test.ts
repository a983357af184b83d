/** The lab's images (pure parts): an OCI configuration read back, a reference's tag, which build serves it. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IMAGE_DIR, RELEASES_DIR, imageDirFor, imageTag, parseImageConfig } from './image.ts';

describe('lab images', () => {
  it('reads Entrypoint, Cmd, Env and WorkingDir from an OCI configuration or its config part', () => {
    const flat = parseImageConfig(JSON.stringify({ Entrypoint: ['/usr/local/bin/node', '/app/seaway.mjs'], Env: ['A=1'], WorkingDir: '/app' }), '/r');
    assert.deepEqual(flat, { rootfs: '/r', entrypoint: ['/usr/local/bin/node', '/app/seaway.mjs'], cmd: [], env: ['A=1'], workingDir: '/app' });
    const nested = parseImageConfig(JSON.stringify({ architecture: 'amd64', config: { Entrypoint: ['/x'], Cmd: ['run'], Env: null } }), '/r');
    assert.deepEqual(nested, { rootfs: '/r', entrypoint: ['/x'], cmd: ['run'], env: [], workingDir: '/' });
    assert.throws(() => parseImageConfig(JSON.stringify({ config: { Cmd: ['x'] } }), '/r'), /has no Entrypoint/);
    assert.throws(() => parseImageConfig('not json', '/r'), SyntaxError);
  });

  it('finds the tag of a reference, with a registry port and a digest', () => {
    assert.equal(imageTag('quay.io/seaway/seaway:0.1.0'), '0.1.0');
    assert.equal(imageTag('localhost:5000/seaway:v2'), 'v2');
    assert.equal(imageTag('localhost:5000/seaway'), undefined);
    assert.equal(imageTag('seaway:0.2.0@sha256:abc'), '0.2.0');
    assert.equal(imageTag(''), undefined);
  });

  it('serves the current version from this build and other versions from their release builds, or says what is missing', () => {
    assert.equal(imageDirFor('quay.io/seaway/seaway:0.2.0', '0.2.0'), IMAGE_DIR);
    const missing = imageDirFor('quay.io/seaway/seaway:0.0.1-never', '0.2.0');
    assert.ok(typeof missing !== 'string' && missing.error.includes(join(RELEASES_DIR, '0.0.1-never', 'image')));
    const untagged = imageDirFor('quay.io/seaway/seaway', '0.2.0');
    assert.ok(typeof untagged !== 'string' && /names no tag/.test(untagged.error));
  });
});
