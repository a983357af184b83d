/** Which release an upgrade starts from (pure): the newest v<semver> tag that is not this version. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { previousReleaseTag, sameDependencies } from './release-build.ts';

describe('previousReleaseTag', () => {
  it('takes the newest semantic version, not the newest by name', () => {
    assert.equal(previousReleaseTag(['v0.1.0', 'v0.10.0', 'v0.9.3', 'v0.2.0'], '0.11.0'), 'v0.10.0');
  });
  it('never the current version itself', () => {
    assert.equal(previousReleaseTag(['v0.1.0', 'v0.2.0'], '0.2.0'), 'v0.1.0');
  });
  it('ignores tags that are not releases, and gives nothing without one', () => {
    assert.equal(previousReleaseTag(['v1.0.0-rc1', 'latest', 'v1', 'vx.y.z', 'v0.3.1'], '1.0.0'), 'v0.3.1');
    assert.equal(previousReleaseTag(['v0.2.0'], '0.2.0'), undefined);
    assert.equal(previousReleaseTag([], '0.2.0'), undefined);
  });
});

describe('sameDependencies', () => {
  const lock = (own: string, dependency: string) => JSON.stringify({ name: 'seaway', version: own, lockfileVersion: 3, packages: { '': { name: 'seaway', version: own }, 'node_modules/pino': { version: dependency } } });
  it('a release of the same dependencies under another version of the project is the same', () => {
    assert.equal(sameDependencies(lock('0.1.0', '10.4.0'), lock('0.2.0', '10.4.0')), true);
  });
  it('a dependency moved from devDependencies to dependencies installs the same files', () => {
    const dev = JSON.stringify({ packages: { '': { devDependencies: { 'js-yaml': '^5' } }, 'node_modules/js-yaml': { version: '5.5.0', dev: true } } });
    const runtime = JSON.stringify({ packages: { '': { dependencies: { 'js-yaml': '^5' } }, 'node_modules/js-yaml': { version: '5.5.0' } } });
    assert.equal(sameDependencies(dev, runtime), true);
  });
  it('another version of a dependency is not', () => {
    assert.equal(sameDependencies(lock('0.1.0', '10.4.0'), lock('0.1.0', '10.5.0')), false);
  });
  it('a lock that is not JSON is an error, not a guess', () => {
    assert.throws(() => sameDependencies('{', lock('0.1.0', '1')), SyntaxError);
  });
});
