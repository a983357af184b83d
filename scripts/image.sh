#!/usr/bin/env bash
# Builds seaway's container image without a container runtime (`npm run image`; CI runs it before
# npm test, whose lab runs pods from the exported root filesystem), as root, after npm run bootstrap:
#  1. the bundle, build/app (scripts/bundle.ts);
#  2. the base root filesystem (scripts/image-base.sh: debootstrap + image/base-packages.txt + the
#     pinned Node binary), cached in build/cache/base-<hash>.tar keyed by what it is made of;
#  3. buildah, with its storage inside build/containers (vfs: no kernel overlay, nothing in
#     /var/lib/containers): the base imported as localhost/seaway-base:<hash>, then the RUN-free
#     Dockerfile built on it with chroot isolation as localhost/seaway:<version>;
#  4. the image pushed to build/image/seaway.oci.tar (oci-archive), its root filesystem exported to
#     build/image/rootfs/ and its run configuration (Entrypoint, Cmd, Env, WorkingDir) read back from
#     the archive into build/image/config.json; buildah's storage is removed (large; the cache stays);
#  5. the smoke test (scripts/image-smoke.ts) on the exported root filesystem: a failure fails the build.
# Each step's seconds and the sizes are printed. With --if-changed (npm test's and the demo's bootstrap)
# it builds only when what the image is made of (the files git sees under src, native, scripts, image,
# the Dockerfile, package.json, package-lock.json, and the Node binary) differs from the last build's.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

fail() { echo "image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, buildah's storage, chroot, namespaces)"
declare -A tool_package=([buildah]=buildah [debootstrap]=debootstrap [unshare]=util-linux [tar]=tar [sha256sum]=coreutils [ip]=iproute2)
for tool in "${!tool_package[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing: run npm run bootstrap (or apt-get install --no-install-recommends ${tool_package[$tool]})"
done
[ -x node_modules/node/bin/node ] || fail "node_modules/node/bin/node is missing: run npm run bootstrap"

# What the image is made of, as one hash: the working tree's files (committed or not), not git's objects.
inputs_key() {
  git ls-files -z --cached --others --exclude-standard -- src native scripts image Dockerfile package.json package-lock.json \
    | sort -zu | while IFS= read -r -d '' file; do if [ -f "$file" ]; then sha256sum "$file"; fi; done \
    | { cat; sha256sum < node_modules/node/bin/node; } | sha256sum | cut -c1-16
}
inputs=$(inputs_key)
if [ "${1:-}" = --if-changed ] && [ -f build/image/inputs ] && [ "$(cat build/image/inputs)" = "$inputs" ] && [ -f build/image/config.json ]; then
  echo "image: build/image is up to date (inputs $inputs)"
  exit 0
fi

version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
image=localhost/seaway:$version
containers=build/containers
out=build/image
# buildah as configured for this build: its own storage, never the machine's. Its blob-info cache
# has no flag and goes to /var/lib/containers/cache for root, so each call runs in a private mount
# namespace whose /var/lib is an empty tmpfs: that cache dies with the call, and no image storage of
# the machine's (podman's, another buildah's) is visible to it.
buildah_() {
  TMPDIR="$PWD/$containers/tmp" unshare --mount --propagation private sh -c \
    'mount -t tmpfs -o size=64m,mode=0755 seaway-buildah-var-lib /var/lib && exec "$@"' sh \
    buildah --root "$PWD/$containers/storage" --runroot "$PWD/$containers/run" --storage-driver vfs "$@"
}

# Removes buildah's storage, refusing when anything is mounted below it (never cross into a mount).
remove_containers() {
  [ -e "$containers" ] || return 0
  if findmnt -rn -o TARGET | grep -q "^$PWD/$containers"; then
    echo "image: something is mounted below $containers; left in place" >&2
    return 1
  fi
  rm -rf --one-file-system "$containers"
}
trap 'remove_containers || true' EXIT

step_started=
step() { step_started=$(date +%s.%N); echo "== image: $1"; }
step_done() { echo "image: $1 took $(awk -v a="$step_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"; }

step "bundle"
node scripts/bundle.ts
step_done "bundle"

step "base root filesystem"
packages=$(node scripts/image-tool.ts packages image/base-packages.txt)
suite=$(node scripts/image-tool.ts suite image/base.Dockerfile)
node_bin=node_modules/node/bin/node
# What the base is made of: a change to any of these makes a new one.
key=$({
  echo "suite $suite"
  echo "packages $packages"
  echo "node $(sha256sum < "$node_bin" | cut -d' ' -f1)"
  echo "recipe $(sha256sum < scripts/image-base.sh | cut -d' ' -f1)"
} | sha256sum | cut -c1-16)
base_tar=build/cache/base-$key.tar
if [ -f "$base_tar" ]; then
  echo "image: base $base_tar is cached (suite $suite, Node $(node --version))"
else
  df -h . | sed 's/^/image: disk: /'
  mirror=$(node scripts/image-tool.ts mirror "$suite")
  bash scripts/image-base.sh "$base_tar" "$suite" "$mirror" "$packages" "$node_bin"
  # One base is kept: older ones are only disk.
  find build/cache -maxdepth 1 -name 'base-*.tar' ! -name "base-$key.tar" -delete
fi
step_done "base root filesystem"

step "buildah: import the base, build the Dockerfile"
remove_containers
mkdir -p "$containers/tmp"
base=localhost/seaway-base:$key
ctr=$(buildah_ from --pull=never scratch)
buildah_ add --quiet "$ctr" "$base_tar" / >/dev/null
# As debian:bookworm-slim sets it, so both bases give the Dockerfile the same PATH.
buildah_ config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
buildah_ commit --quiet --rm "$ctr" "$base" >/dev/null
buildah_ build --quiet --isolation chroot --pull=never --build-arg "BASE=$base" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" -t "$image" -f Dockerfile . >/dev/null
step_done "buildah"

step "export: oci-archive, root filesystem, config"
rm -rf --one-file-system "$out"
mkdir -p "$out"
buildah_ push --quiet "$image" "oci-archive:$PWD/$out/seaway.oci.tar:$image"
ctr=$(buildah_ from --pull=never "$image")
mnt=$(buildah_ mount "$ctr")
mkdir "$out/rootfs"
cp -a "$mnt/." "$out/rootfs/"
buildah_ umount "$ctr" >/dev/null
buildah_ rm "$ctr" >/dev/null
node scripts/image-tool.ts config "$out/seaway.oci.tar" "$image" "$out/config.json"
remove_containers
step_done "export"

step "smoke test"
node scripts/image-smoke.ts "$out/rootfs" "$out/config.json"
step_done "smoke test"
echo "$inputs" > "$out/inputs"

echo "image: $image: $out/seaway.oci.tar $(stat -c %s "$out/seaway.oci.tar") bytes," \
  "rootfs $(du -sm "$out/rootfs" | cut -f1) MiB, bundle $(stat -c %s build/app/seaway.mjs) bytes" \
  "(build/app $(du -sk build/app | cut -f1) KiB), base cache $(stat -c %s "$base_tar") bytes"
