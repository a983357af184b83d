#!/usr/bin/env bash
# The whole test suite: type check, unit, kernel (root, throwaway namespaces), lab and e2e.
# Runs on the Node 24 from node_modules (npm puts node_modules/.bin first on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 24 ]; then echo "test: Node 24 is required (found $(node --version)); run through npm test" >&2; exit 1; fi
if [ "$(id -u)" != 0 ]; then echo "test: kernel, lab and e2e tests need root (network namespaces)" >&2; exit 1; fi
echo "== type check"
tsc --noEmit -p .
echo "== tests"
shopt -s globstar nullglob
files=(test/unit/**/*.test.ts test/manifests/**/*.test.ts test/kernel/**/*.test.ts test/lab/**/*.test.ts test/e2e/**/*.test.ts)
exec node --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "${files[@]}"
