#!/usr/bin/env bash
# Build dist/preflight: one fully static x86-64 executable linked against musl, with libpq (TLS by
# OpenSSL; no GSSAPI, LDAP or zlib), libyaml and libuv, all built from Debian's source packages.
#
# The dependencies are built once into a prefix under the cache directory, keyed by the exact
# source package versions, the toolchain and SCRIPT_VERSION; later runs only rebuild preflight.
#
# Usage: scripts/build-static.sh [--deps-only]
#   --deps-only  build (or find in the cache) the dependencies and stop: a Dockerfile layer of its own
#
# Environment:
#   PF_STATIC_CACHE  cache directory (default: $HOME/.cache/preflight-static)
#   PF_JOBS          parallel make jobs (default: 2)
#   PF_BUILD_DIR     CMake build directory for preflight (default: build-static in the repo)
#
# Needs Debian bookworm (or a derivative) and root the first time, to install the toolchain with
# apt-get and to add deb-src entries; after that it runs as any user that can write the cache.
set -euo pipefail

# Bump this whenever a change below alters how the dependencies are built.
SCRIPT_VERSION=1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PF_STATIC_CACHE:-${HOME:-/root}/.cache/preflight-static}
JOBS=${PF_JOBS:-2}
BUILD_DIR=${PF_BUILD_DIR:-$ROOT/build-static}
PACKAGES=(openssl libyaml libuv1 postgresql-15)
TOOLS_DEBS=(musl-tools linux-libc-dev gcc make cmake pkg-config perl dpkg-dev file binutils)

# Flags for every C file, ours and the dependencies': small code, one section per function and per
# object so that --gc-sections can drop whatever preflight never calls.
SIZE_CFLAGS="-Os -ffunction-sections -fdata-sections"

log() { printf 'build-static: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs apt-get with the given arguments, quietly; fails with a message unless we are root.
apt_as_root() {
    [ "$(id -u)" = 0 ] || die "need root to run: apt-get $*"
    DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >/dev/null
}

# Succeeds if apt knows a version of the openssl source package. (The output is captured first:
# under pipefail, `grep -q` closing the pipe early would fail the pipeline.)
has_sources() {
    local out
    out=$(apt-cache showsrc openssl 2>/dev/null) || true
    grep -q '^Version:' <<<"$out"
}

# Makes sure `apt-get source` knows the source packages, adding deb-src entries for the suites of
# the existing deb entries (bookworm, bookworm-updates, bookworm-security) in a file of its own.
ensure_deb_src() {
    if has_sources; then
        return
    fi
    local list=/etc/apt/sources.list.d/preflight-deb-src.sources
    if [ ! -e "$list" ]; then
        [ "$(id -u)" = 0 ] || die "no deb-src entries; as root, add them to $list"
        log "adding deb-src entries in $list"
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$list"
        else
            cat >"$list" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        fi
    fi
    log "apt-get update"
    apt_as_root update
    has_sources || die "apt knows no source package openssl after adding deb-src entries"
}

# Installs the toolchain if any of its commands is missing.
ensure_tools() {
    local cmd missing=0
    for cmd in musl-gcc gcc make cmake pkg-config perl dpkg-source file strip readelf; do
        command -v "$cmd" >/dev/null || missing=1
    done
    [ -e /usr/include/linux/version.h ] || missing=1
    if [ "$missing" = 1 ]; then
        log "installing ${TOOLS_DEBS[*]}"
        apt_as_root install -y --no-install-recommends "${TOOLS_DEBS[@]}"
    fi
}

# Prints the versions apt knows for source package $1, newest first.
source_versions() {
    apt-cache showsrc "$1" | sed -n 's/^Version: //p' | sort -u | sort -r -V
}

# Prints "version dsc-path" for source package $1, downloading it into $CACHE/src if needed.
# The newest version wins; a version whose files the mirror does not serve (an index can be ahead
# of its pool) is skipped; with no network, the newest version already downloaded is used.
fetch_source() {
    local pkg=$1 ver dsc
    local -a versions
    mapfile -t versions < <(source_versions "$pkg")
    [ "${#versions[@]}" -gt 0 ] || die "apt knows no source package $pkg"
    mkdir -p "$CACHE/src"
    for ver in "${versions[@]}"; do
        dsc="$CACHE/src/${pkg}_${ver#*:}.dsc"
        if [ -f "$dsc" ]; then
            echo "$ver $dsc"; return
        fi
        if (cd "$CACHE/src" && apt-get source -q --download-only "$pkg=$ver" >/dev/null 2>&1) \
            && [ -f "$dsc" ]; then
            echo "$ver $dsc"; return
        fi
        log "$pkg $ver: the mirror does not serve it; trying the previous version"
    done
    die "could not download any version of source package $pkg"
}

# The folder of symlinks that makes the kernel's UAPI headers (linux/, asm/, asm-generic/) visible
# to musl-gcc, whose specs leave out /usr/include. OpenSSL and libuv include them.
kernel_headers() {
    local dir=$CACHE/kernel-headers
    if [ ! -e "$dir/asm" ]; then
        mkdir -p "$dir"
        ln -sfn /usr/include/linux "$dir/linux"
        ln -sfn /usr/include/asm-generic "$dir/asm-generic"
        ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" "$dir/asm"
    fi
    echo "$dir"
}

# Builds OpenSSL, libyaml, libuv and libpq from the source packages into $1.
build_deps() {
    local prefix=$1 work kh cflags
    work=$(mktemp -d "$CACHE/work.XXXXXX")
    kh=$(kernel_headers)
    cflags="$SIZE_CFLAGS -idirafter $kh"
    export CC=musl-gcc

    local pkg
    for pkg in "${PACKAGES[@]}"; do
        log "unpacking ${SRC_DSC[$pkg]##*/}"
        # apt-get source checked the files against the signed Sources index; --no-check only
        # skips the .dsc's own signature, for which no keyring is installed.
        dpkg-source --no-check -x "${SRC_DSC[$pkg]}" "$work/$pkg" >"$work/$pkg.log" 2>&1 \
            || { cat "$work/$pkg.log" >&2; die "dpkg-source failed for $pkg"; }
    done

    log "building openssl ${SRC_VER[openssl]}"
    (
        cd "$work/openssl"
        # Only what a TLS 1.2/1.3 client with the usual certificates (RSA, ECDSA, EdDSA) needs is
        # compiled: OpenSSL's default provider lists every algorithm it was built with, so
        # --gc-sections cannot drop the ones preflight never uses. ($cflags is several words.)
        # shellcheck disable=SC2086
        ./Configure linux-x86_64 --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl \
            no-shared no-module no-tests no-engine no-dso no-comp no-legacy no-afalgeng no-async \
            no-ui-console no-srp no-psk no-ssl3 no-dtls no-gost no-idea no-mdc2 no-md4 no-rc2 \
            no-rc4 no-rc5 no-whirlpool no-seed no-camellia no-aria no-bf no-cast no-sm2 no-sm3 \
            no-sm4 no-siphash no-cms no-ts no-srtp no-sctp no-nextprotoneg no-ocsp no-ct \
            no-rfc3779 $cflags
        make -j"$JOBS" build_libs
        make install_dev
    ) >"$work/openssl.build.log" 2>&1 || { tail -40 "$work/openssl.build.log" >&2; die "openssl build failed; full log: $work/openssl.build.log"; }

    log "building libyaml ${SRC_VER[libyaml]}"
    (
        cmake -S "$work/libyaml" -B "$work/libyaml/build" -DCMAKE_BUILD_TYPE=MinSizeRel \
            -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_C_FLAGS="$cflags" -DCMAKE_INSTALL_PREFIX="$prefix" \
            -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF
        cmake --build "$work/libyaml/build" -j"$JOBS"
        cmake --install "$work/libyaml/build"
    ) >"$work/libyaml.build.log" 2>&1 || { tail -40 "$work/libyaml.build.log" >&2; die "libyaml build failed; full log: $work/libyaml.build.log"; }
    write_pc "$prefix" yaml-0.1 "LibYAML" "${SRC_VER[libyaml]%%-*}" "-lyaml" ""

    log "building libuv ${SRC_VER[libuv1]}"
    (
        cmake -S "$work/libuv1" -B "$work/libuv1/build" -DCMAKE_BUILD_TYPE=MinSizeRel \
            -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_C_FLAGS="$cflags" -DCMAKE_INSTALL_PREFIX="$prefix" \
            -DCMAKE_INSTALL_LIBDIR=lib -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
        cmake --build "$work/libuv1/build" -j"$JOBS" --target uv_a
        mkdir -p "$prefix/lib" "$prefix/include"
        cp "$work/libuv1/build/libuv_a.a" "$prefix/lib/"
        cp -R "$work/libuv1/include/." "$prefix/include/"
    ) >"$work/libuv1.build.log" 2>&1 || { tail -40 "$work/libuv1.build.log" >&2; die "libuv build failed; full log: $work/libuv1.build.log"; }
    # Debian's libuv names its static archive libuv_a.a; musl's libc holds pthread, dl and rt.
    write_pc "$prefix" libuv "libuv" "${SRC_VER[libuv1]%%-*}" "-luv_a" "-lpthread -ldl"

    log "building libpq ${SRC_VER[postgresql-15]}"
    (
        cd "$work/postgresql-15"
        ./configure --prefix="$prefix" --sysconfdir=/etc/postgresql-common \
            --with-ssl=openssl --without-readline --without-icu --without-gssapi --without-ldap \
            --without-zlib --without-llvm --disable-nls \
            CC=musl-gcc CFLAGS="$cflags" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib"
        make -C src/include -j"$JOBS"
        make -C src/common -j"$JOBS" libpgcommon_shlib.a
        make -C src/port -j"$JOBS" libpgport_shlib.a
        make -C src/interfaces/libpq -j"$JOBS" all-static-lib
        mkdir -p "$prefix/lib" "$prefix/include"
        cp src/interfaces/libpq/libpq.a src/common/libpgcommon_shlib.a src/port/libpgport_shlib.a \
            "$prefix/lib/"
        cp src/interfaces/libpq/libpq-fe.h src/interfaces/libpq/libpq-events.h \
            src/include/postgres_ext.h src/include/pg_config_ext.h "$prefix/include/"
    ) >"$work/libpq.build.log" 2>&1 || { tail -40 "$work/libpq.build.log" >&2; die "libpq build failed; full log: $work/libpq.build.log"; }
    # libpq.a holds only libpq's own objects; the shared library also links these two archives.
    write_pc "$prefix" libpq "libpq" "${SRC_VER[postgresql-15]%%-*}" "-lpq" \
        "-lpgcommon_shlib -lpgport_shlib" "libssl libcrypto"

    rm -rf "$work"
}

# Writes $1/lib/pkgconfig/$2.pc: name $3, version $4, Libs $5, Libs.private $6, Requires.private $7.
write_pc() {
    local prefix=$1 name=$2 desc=$3 version=$4 libs=$5 private=$6 requires=${7:-}
    mkdir -p "$prefix/lib/pkgconfig"
    cat >"$prefix/lib/pkgconfig/$name.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: $desc (static, musl; built by preflight's scripts/build-static.sh)
Version: $version
Requires.private: $requires
Libs: -L\${libdir} $libs
Libs.private: $private
Cflags: -I\${includedir}
EOF
}

# Configures and builds preflight against the prefix, then strips it into dist/preflight.
build_preflight() {
    local prefix=$1 kh
    kh=$(kernel_headers)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
    # CMake caches what pkg-config said (the -L paths into the prefix) and asks again only when the
    # module list changes, so a build directory configured against another prefix starts afresh.
    if [ "$(cat "$BUILD_DIR/.deps-prefix" 2>/dev/null)" != "$prefix" ]; then
        rm -rf "$BUILD_DIR"
        mkdir -p "$BUILD_DIR"
        printf '%s\n' "$prefix" >"$BUILD_DIR/.deps-prefix"
    fi
    cmake -S "$ROOT" -B "$BUILD_DIR" -DPF_STATIC=ON -DPF_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_C_COMPILER=musl-gcc \
        -DCMAKE_C_COMPILER_AR="$(command -v gcc-ar)" -DCMAKE_C_COMPILER_RANLIB="$(command -v gcc-ranlib)" \
        -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
        -DCMAKE_C_FLAGS="$SIZE_CFLAGS -idirafter $kh" \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections -Wl,-O1 -Wl,--build-id=none" >/dev/null
    cmake --build "$BUILD_DIR" -j"$JOBS" --target preflight
    mkdir -p "$ROOT/dist"
    strip --strip-all -o "$ROOT/dist/preflight.tmp" "$BUILD_DIR/preflight"
    mv "$ROOT/dist/preflight.tmp" "$ROOT/dist/preflight"
}

# Fails unless dist/preflight is a static executable without a dynamic section that runs.
verify() {
    local bin=$ROOT/dist/preflight size desc dyn
    desc=$(file -b "$bin")
    [[ $desc == *"statically linked"* ]] || die "dist/preflight is not static: $desc"
    dyn=$(readelf -d "$bin")
    [[ $dyn != *"Dynamic section"* ]] || die "dist/preflight has a dynamic section"
    "$bin" --version >/dev/null || die "$bin --version failed"
    size=$(stat -c %s "$bin")
    log "dist/preflight: $size bytes ($((size / 1024)) KiB), static, no dynamic section"
}

main() {
    local deps_only=0
    case "${1:-}" in
        "") ;;
        --deps-only) deps_only=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac

    ensure_deb_src
    ensure_tools

    # One build at a time per cache: a second one waits here instead of racing on the prefix.
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9

    declare -gA SRC_VER SRC_DSC
    local pkg found key_text key prefix
    for pkg in "${PACKAGES[@]}"; do
        found=$(fetch_source "$pkg")
        SRC_VER[$pkg]=${found%% *}
        SRC_DSC[$pkg]=${found#* }
    done

    key_text="script=$SCRIPT_VERSION
musl=$(dpkg-query -W -f '${Version}' musl-dev)
gcc=$(gcc -dumpfullversion)
flags=$SIZE_CFLAGS"
    for pkg in "${PACKAGES[@]}"; do
        key_text+=$'\n'"$pkg=${SRC_VER[$pkg]}"
    done
    key=$(printf '%s\n' "$key_text" | sha256sum | cut -c1-16)
    prefix=$CACHE/deps-$key

    if [ -f "$prefix/.complete" ]; then
        log "dependencies: $prefix (cached)"
    else
        log "dependencies: building into $prefix"
        rm -rf "$prefix"
        local t0=$SECONDS
        build_deps "$prefix"
        printf '%s\n' "$key_text" >"$prefix/VERSIONS"
        touch "$prefix/.complete"
        log "dependencies built in $((SECONDS - t0))s"
        # Prefixes built for other versions are dead weight now (about 15 MB each).
        find "$CACHE" -maxdepth 1 -name 'deps-*' ! -path "$prefix" -exec rm -rf {} +
    fi
    [ "$deps_only" = 0 ] || return 0

    build_preflight "$prefix"
    verify
}

main "$@"
