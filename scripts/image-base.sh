#!/usr/bin/env bash
# Makes the root filesystem of seaway's base image as a tarball, without a container runtime:
# Debian's minbase from debootstrap plus the packages of image/base-packages.txt, docs, man pages,
# locales and apt's lists removed, and the Node binary at /usr/local/bin/node. What
# image/base.Dockerfile makes elsewhere with apt-get. Called by scripts/image.sh, which caches the
# result keyed by a hash of the package list, the suite, the Node binary and this script.
#   image-base.sh OUT.tar SUITE MIRROR PACKAGES(comma separated) NODE_BINARY
#
# Safety: the first stage (download and unpack) runs on the host; the second stage, which runs the
# packages' maintainer scripts, runs chrooted in a private mount namespace (debootstrap mounts /proc
# there, never on the host's mount table) and an empty network namespace of its own, so no
# maintainer script can touch the host's network or start a daemon on it. A policy-rc.d refuses
# service starts as well.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 5 ] || { echo "usage: $0 OUT.tar SUITE MIRROR PACKAGES NODE_BINARY" >&2; exit 2; }
out=$1 suite=$2 mirror=$3 packages=$4 node=$5
[ -x "$node" ] || { echo "image-base: $node is not an executable Node binary" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
target=$(mktemp -d "$(dirname "$out")/rootfs.XXXXXX")
cleanup() {
  # Nothing is mounted there (the mounts lived in the namespace that ended), but never cross into a
  # mount if one were left: --one-file-system.
  rm -rf --one-file-system "$target" "$target.log" "$out.partial"
}
trap cleanup EXIT

echo "image-base: debootstrap --variant=minbase $suite from $mirror, with: $packages"
log=$target.log
# The keyring named, so a missing one is an error rather than an unchecked download.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "image-base: $keyring is missing: apt-get install debian-archive-keyring (npm run bootstrap)" >&2; exit 1; }
if ! debootstrap --foreign --variant=minbase --keyring="$keyring" --include="$packages" "$suite" "$target" "$mirror" >"$log" 2>&1; then
  tail -30 "$log" >&2; rm -f "$log"
  echo "image-base: debootstrap (first stage) failed" >&2; exit 1
fi
if ! grep -q '^I: Valid Release signature' "$log"; then
  tail -30 "$log" >&2
  echo "image-base: debootstrap did not check the Release signature against $keyring" >&2; exit 1
fi
mkdir -p "$target/usr/sbin"
printf '#!/bin/sh\n# No service starts while the image is built.\nexit 101\n' > "$target/usr/sbin/policy-rc.d"
chmod 0755 "$target/usr/sbin/policy-rc.d"
if ! unshare --mount --net --propagation private chroot "$target" /debootstrap/debootstrap --second-stage >"$log" 2>&1; then
  tail -30 "$log" >&2; rm -f "$log"
  echo "image-base: debootstrap (second stage, chrooted) failed" >&2; exit 1
fi
rm -f "$log"

# What a container never reads: apt's downloads and lists, docs, man and info pages, locales,
# logs of the bootstrap. /dev, /proc and /sys stay as empty directories: the runtime fills them.
rm -f "$target/usr/sbin/policy-rc.d"
# debootstrap copied this machine's resolv.conf, hosts and hostname: an image carries none of them
# (a container runtime provides its own), only localhost.
rm -f "$target/etc/resolv.conf" "$target/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$target/etc/hosts"
rm -rf "$target"/var/cache/apt/archives/*.deb "$target"/var/cache/apt/*.bin "$target"/var/lib/apt/lists/* \
  "$target"/usr/share/doc/* "$target"/usr/share/man/* "$target"/usr/share/info/* "$target"/usr/share/locale/* \
  "$target"/var/log/*.log "$target"/var/cache/debconf/*-old "$target"/dev/* "$target"/run/* "$target"/tmp/*
install -m 0755 "$node" "$target/usr/local/bin/node"

tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$target" -cf "$out.partial" .
mv "$out.partial" "$out"
echo "image-base: $out $(stat -c %s "$out") bytes"
