#!/usr/bin/env bash
# Archives what builds a release, from its git tag, into releases/<tag>.tar.gz: the sources of its
# image (src, native, scripts, image, Dockerfile, the package files, and test/helpers, which its
# smoke test uses) and its manifests/. The upgrade test builds the previous release from this
# archive, so it needs neither the tag nor the history in the clone (CI clones main alone). The
# archive carries the tag's commit id, for whoever checks it (git get-tar-commit-id < the tar).
# Usage: scripts/archive-release.sh v0.1.0   (after tagging a release; commit the archive)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:?usage: scripts/archive-release.sh v<major>.<minor>.<patch>}
[[ $tag =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "archive-release: $tag is not v<major>.<minor>.<patch>" >&2; exit 2; }
git rev-parse --verify --quiet "refs/tags/$tag^{commit}" >/dev/null || { echo "archive-release: no tag $tag here (git fetch --tags)" >&2; exit 1; }
mkdir -p releases
git archive --format=tar.gz -9 -o "releases/$tag.tar.gz" "$tag" -- \
  Dockerfile image manifests native package-lock.json package.json scripts src test/helpers tsconfig.json
echo "releases/$tag.tar.gz: $(git rev-parse "$tag^{commit}")"
