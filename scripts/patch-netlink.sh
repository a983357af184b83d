#!/usr/bin/env bash
# Patches the `netlink` 0.3.0 binding (node_modules/netlink/src/binding.cc) and rebuilds it into
# build/Release, which node-gyp-build loads before the package's prebuilds. Three fixes:
#  - a poll error (an overrun, ENOBUFS, reported as EPOLLERR) built its error with a NULL syscall
#    name, which threw a C++ exception nobody caught and aborted the whole process; now "poll";
#  - the receive buffer is set with SO_RCVBUFFORCE first (ignores net.core.rmem_max under
#    CAP_NET_ADMIN, which the agent holds), SO_RCVBUF only when that is refused;
#  - the send buffer likewise (SO_SNDBUFFORCE, past net.core.wmem_max): an nftables transaction is
#    one datagram, and one that fills 10,000 set elements is about 400 KB.
# Idempotent: does nothing when the source carries every fix and the build exists. Fails loudly
# when an expected original line is missing (another netlink version: check the fixes again).
# Builds with npm's node-gyp against the headers of the Node the project pins (the `node` dev
# dependency's node-<platform>-<arch> package) and node-addon-api; downloads no headers.
# Called by scripts/bootstrap.sh after the npm packages are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=node_modules/netlink
src=$pkg/src/binding.cc
built=$pkg/build/Release/netlink_binding.node
bin=$PWD/node_modules/.bin
node=$bin/node
[ -f "$src" ] || { echo "patch-netlink: $src not found; install the npm packages first" >&2; exit 1; }
[ -x "$node" ] || { echo "patch-netlink: $node not found; install the npm packages first" >&2; exit 1; }

# fixes MODE: MODE check exits 0 when every fix is in; MODE apply applies the missing ones.
# Exact whole-line matches only: a line that is neither the original nor the fix is an error.
fixes() {
  "$node" - "$1" "$src" <<'EOF'
const { readFileSync, writeFileSync } = require('node:fs');
const [mode, file] = process.argv.slice(2);
const fixes = [
  ['            auto error = ErrnoException(obj->Env(), -status, NULL, "error when polling socket");',
   '            auto error = ErrnoException(obj->Env(), -status, "poll", "error when polling socket");'],
  ['        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))',
   '        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))'],
  ['        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)))',
   '        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)))'],
];
const lines = readFileSync(file, 'utf8').split('\n');
const count = (line) => lines.filter((l) => l === line).length;
const missing = fixes.filter(([, fixed]) => count(fixed) !== 1);
if (mode === 'check') process.exit(missing.length === 0 ? 0 : 1);
for (const [original, fixed] of missing) {
  if (count(original) !== 1) {
    console.error(`patch-netlink: expected exactly one line in ${file}:\n  ${original.trim()}\n`
      + `found ${count(original)} (and not the fixed line either): another netlink version? check the fixes against it`);
    process.exit(1);
  }
  lines[lines.indexOf(original)] = fixed;
}
if (missing.length) writeFileSync(file, lines.join('\n'));
EOF
}

if fixes check && [ -f "$built" ]; then exit 0; fi
fixes apply

# Headers: the `node` package's own preinstall puts them there (npm ci); a later `npm install`
# prunes that package as extraneous, so put it back the same way when it is gone.
node_version=$("$node" -p 'require("./node_modules/node/package.json").version')
headers_pkg=$("$node" -p '`node-${process.platform}-${process.arch}`')
nodedir=$PWD/node_modules/node/node_modules/$headers_pkg
if [ ! -f "$nodedir/include/node/common.gypi" ]; then
  echo "bootstrap: installing the Node $node_version headers ($headers_pkg, as the node package's preinstall does)"
  (cd node_modules/node && npm install --no-save --no-audit --no-fund --loglevel=error "$headers_pkg@$node_version" >/dev/null)
  [ -f "$nodedir/include/node/common.gypi" ] || { echo "patch-netlink: no Node headers in $nodedir" >&2; exit 1; }
fi

# node-gyp: the one npm runs scripts with (npm sets npm_config_node_gyp), else the one bundled
# with the npm on PATH.
node_gyp=${npm_config_node_gyp:-}
if [ -z "$node_gyp" ] || [ ! -f "$node_gyp" ]; then
  node_gyp=$(dirname "$(realpath "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
fi
[ -f "$node_gyp" ] || { echo "patch-netlink: node-gyp not found (looked for npm's bundled one at $node_gyp)" >&2; exit 1; }

echo "bootstrap: rebuilding the netlink binding with its poll-error, SO_RCVBUFFORCE and SO_SNDBUFFORCE fixes (node-gyp, Node $node_version headers)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# binding.gyp runs `node -p "require('node-addon-api').include_dir"`: the project's Node first on PATH.
if ! (cd "$pkg" && PATH="$bin:$PATH" "$node" "$node_gyp" rebuild --nodedir="$nodedir" --loglevel=warn) >"$log" 2>&1; then
  cat "$log" >&2
  echo "patch-netlink: building the netlink binding failed (needs g++, make, python3)" >&2
  exit 1
fi
[ -f "$built" ] || { cat "$log" >&2; echo "patch-netlink: $built was not built" >&2; exit 1; }
