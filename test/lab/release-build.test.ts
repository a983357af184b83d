/** Which release an upgrade starts from (pure): the newest v<semver> tag that is not this version. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { previousReleaseTag } from './release-build.ts';

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
