#!/usr/bin/env bash
# Installs the Node migration tool the end-to-end tests run for real (knex with pg, pinned by
# tests/data/knex/package-lock.json) into a cache folder, once: a second run that finds the same
# lock file installed costs nothing and needs no network.
#
#   scripts/install-node-tools.sh        prints the folder whose node_modules/.bin holds knex
#
#   PF_NODE_TOOLS  cache folder (default: $HOME/.cache/preflight-node-tools)
#
# Needs node and npm; as root on a Debian machine without them it installs Debian's nodejs and npm.
# Exits 3 when npm is genuinely unavailable (the tests then skip, saying so), 1 when the install
# failed. Takes about 10 s cold (36 packages from the npm registry), nothing warm.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD/tests/data/knex
DEST=${PF_NODE_TOOLS:-${HOME:-/root}/.cache/preflight-node-tools}

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-node-tools: installing Debian's nodejs and npm" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nodejs npm >/dev/null || true
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-node-tools: npm is not available" >&2
    exit 3
  fi
fi

mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9    # one install at a time per cache (parallel test runs)
if cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" && [ -x "$DEST/node_modules/.bin/knex" ]; then
  echo "$DEST"
  exit 0
fi
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
rm -rf "$DEST/node_modules"
if ! (cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error >&2); then
  rm -f "$DEST/package-lock.json"
  echo "install-node-tools: npm ci failed" >&2
  exit 1
fi
echo "$DEST"
