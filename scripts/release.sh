#!/usr/bin/env bash
# Writes the release files for every architecture into dist/release/:
#
#   preflight-VERSION-linux-amd64.tar.gz   preflight, LICENSE, README.md, preflight.1 in one folder
#   preflight-VERSION-linux-arm64.tar.gz
#   preflight_VERSION_amd64.deb            /usr/bin/preflight, the man page, /usr/share/doc/preflight
#   preflight_VERSION_arm64.deb
#   SHA256SUMS                             `sha256sum -c SHA256SUMS` checks them all
#
# VERSION is the project version in CMakeLists.txt. The binaries come from scripts/build-static.sh
# (run for each architecture; its cache makes that quick after the first time), or, with
# --no-build, from dist/linux-ARCH/preflight as they are. The files are reproducible: every
# timestamp inside them is the last commit's time (or SOURCE_DATE_EPOCH), owners are root, names
# are sorted, so two runs on the same sources give the same SHA256SUMS.
#
# Usage: scripts/release.sh [--no-build] [--arch amd64|arm64]...   (default: both)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/dist/release

log() { printf 'release: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

BUILD=1
ARCHES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --arch) [ $# -ge 2 ] || die "--arch needs a value"; ARCHES+=("$2"); shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done
[ ${#ARCHES[@]} -gt 0 ] || ARCHES=(amd64 arm64)
for a in "${ARCHES[@]}"; do
    case "$a" in amd64|arm64) ;; *) die "unknown architecture $a (amd64 or arm64)" ;; esac
done
for cmd in dpkg-deb gzip tar sha256sum file; do
    command -v "$cmd" >/dev/null || die "$cmd is missing (Debian: apt-get install dpkg-dev file)"
done

VERSION=$(sed -n 's/^project(preflight VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$VERSION" ] || die "no project version in CMakeLists.txt"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

# The man page, wherever the repository keeps it (build folders excluded).
MANPAGE=$(find "$ROOT" \( -path "$ROOT/build*" -o -path "$ROOT/dist" -o -path "$ROOT/.git" \) -prune \
    -o -name preflight.1 -type f -print | sort | head -n 1)
if [ -z "$MANPAGE" ]; then
    log "warning: the repository has no preflight.1 man page; the release ships without one"
fi

# Sets every timestamp under $1 to SOURCE_DATE_EPOCH.
clamp_times() {
    find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# Writes a gzip'd tarball $2 of folder $1 (relative to its parent), reproducibly.
make_tarball() {
    local dir=$1 out=$2
    clamp_times "$dir"
    tar -C "$(dirname "$dir")" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
        -cf - "$(basename "$dir")" | gzip -9n >"$out"
}

# Builds the .deb for architecture $1 from binary $2 into $3.
make_deb() {
    local arch=$1 bin=$2 out=$3 stage size
    stage=$(mktemp -d)
    install -D -m 0755 "$bin" "$stage/usr/bin/preflight"
    install -d "$stage/usr/share/doc/preflight" "$stage/DEBIAN"
    gzip -9n <"$ROOT/README.md" >"$stage/usr/share/doc/preflight/README.md.gz"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: preflight"
        echo
        echo "Files: *"
        echo "Copyright: The preflight authors"
        echo "License: MIT"
        sed -e 's/^$/./' -e 's/^/ /' "$ROOT/LICENSE"
        echo
        echo "Comment: /usr/bin/preflight is statically linked with musl (MIT), OpenSSL (Apache-2.0),"
        echo " libpq (PostgreSQL licence), libyaml (MIT) and libuv (MIT); the exact source"
        echo " versions are listed in scripts/static-sources.lock of the source tree."
    } >"$stage/usr/share/doc/preflight/copyright"
    if [ -n "$MANPAGE" ]; then
        install -d "$stage/usr/share/man/man1"
        gzip -9n <"$MANPAGE" >"$stage/usr/share/man/man1/preflight.1.gz"
    fi
    size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    cat >"$stage/DEBIAN/control" <<EOF
Package: preflight
Version: $VERSION
Architecture: $arch
Maintainer: The preflight authors <preflight@localhost>
Installed-Size: $size
Section: database
Priority: optional
Description: gate a container's application start on a PostgreSQL schema
 preflight waits for PostgreSQL to accept a real session, verifies that every
 table, column, function and other object the application needs exists, runs
 the application's migrations or fallback SQL once across replicas under an
 advisory lock, and then execs the application. It is one static executable
 with no run-time dependencies.
EOF
    find "$stage" -type d -exec chmod 0755 {} +
    chmod 0644 "$stage/DEBIAN/control" "$stage/usr/share/doc/preflight/"*
    clamp_times "$stage"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
    rm -rf "$stage"
}

rm -rf "$OUT"
mkdir -p "$OUT"
for arch in "${ARCHES[@]}"; do
    bin=$ROOT/dist/linux-$arch/preflight
    if [ "$BUILD" = 1 ]; then
        log "building the $arch binary (scripts/build-static.sh --arch $arch)"
        "$ROOT/scripts/build-static.sh" --arch "$arch"
    fi
    [ -x "$bin" ] || die "$bin is missing (run scripts/build-static.sh --arch $arch)"
    case "$arch" in amd64) want="x86-64" ;; arm64) want="ARM aarch64" ;; esac
    desc=$(file -b "$bin")
    [[ $desc == *"$want"* && $desc == *"statically linked"* ]] || die "$bin is not a static $arch executable: $desc"

    name=preflight-$VERSION-linux-$arch
    stage=$(mktemp -d)
    mkdir "$stage/$name"
    install -m 0755 "$bin" "$stage/$name/preflight"
    install -m 0644 "$ROOT/LICENSE" "$ROOT/README.md" "$stage/$name/"
    [ -z "$MANPAGE" ] || install -m 0644 "$MANPAGE" "$stage/$name/preflight.1"
    make_tarball "$stage/$name" "$OUT/$name.tar.gz"
    rm -rf "$stage"
    make_deb "$arch" "$bin" "$OUT/preflight_${VERSION}_$arch.deb"
    log "wrote $name.tar.gz and preflight_${VERSION}_$arch.deb"
done
(cd "$OUT" && sha256sum -- *.tar.gz *.deb >SHA256SUMS)
log "wrote $OUT/SHA256SUMS:"
sed 's/^/  /' "$OUT/SHA256SUMS" >&2
