#!/usr/bin/env bash
# Builds the ICMP probe addon, native/build/Release/seaway_icmp.node, from native/icmp_probe.c (and
# native/malloc_trim.c and native/posix_spawn.c, the other native calls seaway makes) with
# the machine's C compiler, npm's own node-gyp, and the Node-API headers of the Node the project
# pins (the `node` dev dependency's node-<platform>-<arch> package, passed as --nodedir): nothing
# is downloaded and nothing prebuilt is used. The image builds it the same way.
# Idempotent: does nothing when the addon is newer than its sources and this script; otherwise
# rebuilds from clean, so a failed build leaves no addon behind and src/kernel/icmp-socket.ts says
# so instead of loading a stale one. Exits non-zero with the reason on any failure.
# Called by scripts/bootstrap.sh after the npm packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=native
built=$dir/build/Release/seaway_icmp.node
sources=("$dir/binding.gyp" "$dir/icmp_probe.c" "$dir/malloc_trim.c" "$dir/posix_spawn.c" scripts/build-native.sh)
bin=$PWD/node_modules/.bin
node=$bin/node

fail() { echo "build-native: $*" >&2; exit 1; }

for f in "${sources[@]}"; do [ -f "$f" ] || fail "$f is missing"; done
if [ -f "$built" ] && [ -z "$(find "${sources[@]}" -newer "$built")" ]; then exit 0; fi

# Out of date: the old addon goes first, so any failure below leaves none to load by mistake.
rm -rf "$dir/build"
[ -x "$node" ] || fail "$node not found: install the npm packages first (npm ci)"

# The tools node-gyp drives. Debian: gcc with libc6-dev (g++ brings both), make, python3 (gyp).
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  fail "no C toolchain to build the ICMP probe addon (missing: ${missing[*]}); install with: apt-get install --no-install-recommends ${missing[*]}"
fi
# gcc without libc6-dev (a --no-install-recommends install) compiles nothing useful: say so plainly.
if ! printf '#include <sys/socket.h>\n#include <linux/icmp.h>\n' | cc -E -x c - >/dev/null 2>&1; then
  fail "the C compiler cannot find the C library and kernel headers (sys/socket.h, linux/icmp.h); install with: apt-get install --no-install-recommends libc6-dev"
fi

node_version=$("$node" -p 'require("./node_modules/node/package.json").version' 2>/dev/null) \
  || fail "node_modules/node is missing: install the npm packages (npm ci)"
headers_pkg=$("$node" -p '`node-${process.platform}-${process.arch}`')
nodedir=$PWD/node_modules/node/node_modules/$headers_pkg
have_headers() { [ -f "$nodedir/include/node/node_api.h" ] && [ -f "$nodedir/include/node/uv.h" ] && [ -f "$nodedir/include/node/common.gypi" ]; }
# The `node` package's own preinstall puts them there (npm ci); a later `npm install` prunes that
# package as extraneous, so put it back the same way (as scripts/patch-netlink.sh does, which
# bootstrap skips once the netlink binding is built).
if ! have_headers; then
  echo "build-native: installing the Node $node_version headers ($headers_pkg, as the node package's preinstall does)"
  (cd node_modules/node && npm install --no-save --no-audit --no-fund --loglevel=error "$headers_pkg@$node_version" >/dev/null) || true
  have_headers || fail "no Node $node_version headers in $nodedir (the node package installs them): run npm ci"
fi

# node-gyp: the one npm runs scripts with (npm sets npm_config_node_gyp), else the one bundled
# with the npm on PATH (as scripts/patch-netlink.sh finds it).
node_gyp=${npm_config_node_gyp:-}
if [ -z "$node_gyp" ] || [ ! -f "$node_gyp" ]; then
  npm_path=$(command -v npm) || fail "npm not found on PATH (its bundled node-gyp builds the addon)"
  node_gyp=$(dirname "$(realpath "$npm_path")")/../node_modules/node-gyp/bin/node-gyp.js
fi
[ -f "$node_gyp" ] || fail "node-gyp not found (looked for npm's bundled one at $node_gyp)"

echo "build-native: building $built (node-gyp, Node $node_version headers from $nodedir)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
# rebuild = clean + configure + build: a failure leaves no addon, never an old one.
if ! (cd "$dir" && PATH="$bin:$PATH" "$node" "$node_gyp" rebuild --nodedir="$nodedir" --loglevel=warn) >"$log" 2>&1; then
  cat "$log" >&2
  fail "building the ICMP probe addon failed (node-gyp and compiler output above)"
fi
[ -f "$built" ] || { cat "$log" >&2; fail "node-gyp succeeded but $built was not built"; }
# Compiler warnings are shown: a clean build prints none.
if grep -q 'warning:' "$log"; then grep -A3 'warning:' "$log" >&2; fi
end=$(date +%s.%N)
echo "build-native: built $built ($(stat -c %s "$built") bytes in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s)"
