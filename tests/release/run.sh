#!/usr/bin/env bash
# scripts/release.sh, checked from the outside: run it (--no-build, on the binaries that
# scripts/build-static.sh left in dist/linux-amd64 and dist/linux-arm64), then check that
# dist/release/ has a tarball and a .deb per architecture, that `sha256sum -c SHA256SUMS` passes,
# that each tarball holds exactly the binary for its architecture, LICENSE, README.md and the man
# page (when the repository has one), that each .deb installs /usr/bin/preflight with the right
# control fields, and that a second run gives byte-identical files.
#
#   tests/release/run.sh
#
# Prints one line per check and, last, "N passed, M failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/dist/release
VERSION=$(sed -n 's/^project(preflight VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
# shellcheck source=scripts/lib/checks.sh
. "$ROOT/scripts/lib/checks.sh"

# shellcheck source=scripts/lib/need-debs.sh
. "$ROOT/scripts/lib/need-debs.sh"
need_debs dpkg-dev file tar gzip || { fail "dpkg-dev and file are installed"; finish; }
for arch in amd64 arm64; do
    if [ ! -x "$ROOT/dist/linux-$arch/preflight" ]; then
        "$ROOT/scripts/build-static.sh" --arch "$arch" || { fail "scripts/build-static.sh --arch $arch"; finish; }
    fi
done
HAS_MAN=0
[ -z "$(find "$ROOT" \( -path "$ROOT/build*" -o -path "$ROOT/dist" -o -path "$ROOT/.git" \) -prune -o -name preflight.1 -type f -print)" ] || HAS_MAN=1

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if "$ROOT/scripts/release.sh" --no-build >"$WORK/release.log" 2>&1; then
    pass "scripts/release.sh --no-build"
else
    fail "scripts/release.sh --no-build" "$(tail -20 "$WORK/release.log")"
    finish
fi

want="SHA256SUMS preflight-$VERSION-linux-amd64.tar.gz preflight-$VERSION-linux-arm64.tar.gz preflight_${VERSION}_amd64.deb preflight_${VERSION}_arm64.deb"
have=$(cd "$OUT" && ls | sort | tr '\n' ' ')
[ "$have" = "$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ')" ] && pass "dist/release: $want" || fail "dist/release has the five files" "$have"

if (cd "$OUT" && sha256sum -c --strict SHA256SUMS) >"$WORK/sums.log" 2>&1 && [ "$(wc -l <"$OUT/SHA256SUMS")" = 4 ]; then
    pass "sha256sum -c SHA256SUMS: 4 files OK"
else
    fail "sha256sum -c SHA256SUMS" "$(cat "$WORK/sums.log")"
fi

for arch in amd64 arm64; do
    case "$arch" in amd64) machine="x86-64" ;; arm64) machine="ARM aarch64" ;; esac
    name=preflight-$VERSION-linux-$arch
    list=$(tar -tzf "$OUT/$name.tar.gz" | sort | tr '\n' ' ')
    expect="$name/ $name/LICENSE $name/README.md $name/preflight "
    [ "$HAS_MAN" = 0 ] || expect="$name/ $name/LICENSE $name/README.md $name/preflight $name/preflight.1 "
    [ "$list" = "$expect" ] && pass "$name.tar.gz holds ${expect//$name\//}" || fail "$name.tar.gz contents" "$list"
    mkdir -p "$WORK/t-$arch"
    tar -xzf "$OUT/$name.tar.gz" -C "$WORK/t-$arch"
    desc=$(file -b "$WORK/t-$arch/$name/preflight")
    if [[ $desc == *"$machine"* && $desc == *"statically linked"* ]] && cmp -s "$WORK/t-$arch/$name/preflight" "$ROOT/dist/linux-$arch/preflight"; then
        pass "$name.tar.gz: the static $machine binary of dist/linux-$arch"
    else
        fail "$name.tar.gz: the static $machine binary" "$desc"
    fi
    owners=$(tar -tvzf "$OUT/$name.tar.gz" | awk '{print $2}' | sort -u | tr '\n' ' ')
    [ "$owners" = "0/0 " ] && pass "$name.tar.gz: files owned by 0/0" || fail "$name.tar.gz owners" "$owners"

    deb=$OUT/preflight_${VERSION}_$arch.deb
    fields=$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')
    [ "$fields" = "Package: preflight Version: $VERSION Architecture: $arch " ] \
        && pass "$(basename "$deb"): $fields" || fail "$(basename "$deb") control fields" "$fields"
    dpkg-deb -x "$deb" "$WORK/d-$arch"
    if cmp -s "$WORK/d-$arch/usr/bin/preflight" "$ROOT/dist/linux-$arch/preflight" \
            && [ -f "$WORK/d-$arch/usr/share/doc/preflight/copyright" ] \
            && { [ "$HAS_MAN" = 0 ] || [ -f "$WORK/d-$arch/usr/share/man/man1/preflight.1.gz" ]; }; then
        pass "$(basename "$deb"): /usr/bin/preflight, copyright$([ "$HAS_MAN" = 1 ] && echo ", man page")"
    else
        fail "$(basename "$deb") contents" "$(dpkg-deb -c "$deb")"
    fi
done
[ "$HAS_MAN" = 1 ] || printf 'note    the repository has no preflight.1 yet: the release ships without a man page\n'

cp "$OUT/SHA256SUMS" "$WORK/SHA256SUMS.first"
sleep 1
"$ROOT/scripts/release.sh" --no-build >/dev/null 2>&1
if cmp -s "$WORK/SHA256SUMS.first" "$OUT/SHA256SUMS"; then
    pass "a second run gives byte-identical files (reproducible)"
else
    fail "a second run gives byte-identical files" "$(diff "$WORK/SHA256SUMS.first" "$OUT/SHA256SUMS")"
fi
finish
