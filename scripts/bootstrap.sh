#!/usr/bin/env bash
# Installs what seaway's tests, benchmarks and lab need and the machine lacks, saying what it installs.
# Called by `npm test` and `npm run demo` (their pre-scripts), so a fresh Debian machine needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package providing it
declare -A wanted=(
  [ip]=iproute2 [bridge]=iproute2 [iptables]=iptables [iptables-legacy]=iptables [nft]=nftables
  [ipset]=ipset [ping]=iputils-ping [swanctl]=strongswan-swanctl
  [wireguard-go]=wireguard-go [wg]=wireguard-tools [promtool]=prometheus [tcpdump]=tcpdump
  [g++]=g++ [make]=make [python3]=python3 [openssl]=openssl [flock]=util-linux
  [iperf3]=iperf3 [sysctl]=procps [certutil]=libnss3-tools
  # The container image without a container runtime (npm run image: scripts/image.sh): debootstrap
  # makes the base's root filesystem, buildah builds the Dockerfile on it (chroot isolation, no RUN).
  [buildah]=buildah [debootstrap]=debootstrap [unshare]=util-linux [findmnt]=util-linux
  # Only where no kubectl is on PATH: Debian's conflicts with the one the machine image brings.
  [kubectl]=kubernetes-client
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
# Daemons and plugins that are files, not commands on PATH.
[ -x /usr/lib/ipsec/charon ] || missing+=(strongswan-charon)
# kernel-libipsec (userspace ESP) comes from libcharon-extra-plugins
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || missing+=(libcharon-extra-plugins)
# charon started directly in a namespace (no starter, no ipsec.conf), and its openssl plugin (AES-GCM, ECP)
[ -x /usr/sbin/charon-systemd ] || missing+=(charon-systemd)
[ -e /usr/lib/ipsec/plugins/libstrongswan-openssl.so ] || missing+=(libstrongswan-standard-plugins)
# The keyring debootstrap checks Debian's Release signatures with (scripts/image-base.sh names it).
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)

export DEBIAN_FRONTEND=noninteractive
apt_updated=
# Installs the named Debian packages (saying so), or fails naming them when not root.
install_debs() {
  local pkgs
  pkgs=$(printf '%s\n' "$@" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages: $pkgs; run as root or: apt-get install --no-install-recommends $pkgs" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: $pkgs"
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}
if [ ${#missing[@]} -gt 0 ]; then install_debs "${missing[@]}"; fi

stamp=node_modules/.seaway-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  echo "bootstrap: installing npm packages (npm ci)"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  touch "$stamp"
fi
# The netlink binding, patched and rebuilt (an overrun aborted the process; SO_RCVBUFFORCE, SO_SNDBUFFORCE).
bash scripts/patch-netlink.sh
# The ICMP probe addon (native/), built from source with this machine's compiler: no prebuilds.
bash scripts/build-native.sh

# libreswan's pluto and whack, for the interop test against Submariner's libreswan cable driver.
# The package conflicts with strongSwan's, so it is never installed: its .deb is unpacked into
# node_modules (re-done whenever npm ci wiped it), and only its runtime libraries are installed.
lsw=node_modules/.seaway-libreswan
lsw_bins=("$lsw/usr/libexec/ipsec/pluto" "$lsw/usr/libexec/ipsec/whack" "$lsw/usr/libexec/ipsec/addconn")
if [ ! -x "${lsw_bins[0]}" ] || [ ! -x "${lsw_bins[1]}" ] || [ ! -x "${lsw_bins[2]}" ] || [ ! -s "$lsw/.depends" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: libreswan is not unpacked in $lsw; run as root (it uses apt-get download)" >&2
    exit 1
  fi
  echo "bootstrap: unpacking Debian's libreswan into $lsw (apt-get download; not installed: it conflicts with strongSwan)"
  dl=$(mktemp -d)
  trap 'rm -rf "$dl" "$lsw.new"' EXIT
  # apt's download sandbox user must be able to write there
  if id _apt >/dev/null 2>&1; then chown _apt "$dl"; fi
  if ! (cd "$dl" && apt-get download -qq libreswan >/dev/null 2>&1); then
    apt-get update -qq; apt_updated=1
    (cd "$dl" && apt-get download -qq libreswan >/dev/null)
  fi
  deb=$(echo "$dl"/libreswan_*.deb)
  rm -rf "$lsw.new"
  dpkg-deb -x "$deb" "$lsw.new"
  # What the binaries link against, read from the package itself (names differ between Debian releases).
  dpkg-deb -f "$deb" Depends > "$lsw.new/.depends"
  dpkg-deb -f "$deb" Version > "$lsw.new/.version"
  rm -rf "$lsw"
  mv "$lsw.new" "$lsw"
fi
# Its library dependencies (first alternative of each lib* Depends), and certutil for its NSS database.
mapfile -t lsw_deps < <(tr ',' '\n' < "$lsw/.depends" | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep '^lib')
mapfile -t lsw_installed < <(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${lsw_deps[@]}" 2>/dev/null | sed -n 's/^installed //p')
lsw_missing=()
for dep in "${lsw_deps[@]}"; do
  case " ${lsw_installed[*]} " in *" $dep "*) ;; *) lsw_missing+=("$dep") ;; esac
done
if [ ${#lsw_missing[@]} -gt 0 ]; then install_debs "${lsw_missing[@]}"; fi
if unresolved=$(ldd "${lsw_bins[@]}" 2>&1 | grep 'not found'); then
  echo "bootstrap: libreswan in $lsw still lacks libraries:" >&2
  echo "$unresolved" >&2
  exit 1
fi

# The image the lab's kubelets run (npm run image), built again only when what it is made of changed,
# so the tests and the demo always run the code of this working tree as it ships.
bash scripts/image.sh --if-changed
