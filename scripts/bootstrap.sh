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
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages: $pkgs; run as root or: apt-get install --no-install-recommends $pkgs" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

stamp=node_modules/.seaway-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  echo "bootstrap: installing npm packages (npm ci)"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  touch "$stamp"
fi
# The netlink binding, patched and rebuilt (an overrun aborted the process; SO_RCVBUFFORCE).
bash scripts/patch-netlink.sh
