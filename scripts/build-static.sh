#!/usr/bin/env bash
# Build a fully static preflight for x86-64 or arm64: musl, libpq (TLS by OpenSSL; no GSSAPI, LDAP
# or zlib), libyaml and libuv, all built from the exact Debian source packages pinned, with their
# SHA-256, in scripts/static-sources.lock. Nothing else is used: a pinned version the mirror does
# not serve, or a file whose checksum differs, is an error, never a fallback to another version.
#
# musl itself is built from its pinned source with the target's gcc (gcc, or Debian's
# gcc-aarch64-linux-gnu), so both architectures use the same C library from the same source and
# no foreign-architecture (multiarch) packages are needed.
#
# The toolchain and the dependencies are built once per architecture into a prefix under the cache
# directory, keyed by the lock file, the compiler and SCRIPT_VERSION; later runs only rebuild
# preflight.
#
# Usage: scripts/build-static.sh [--arch amd64|arm64] [--deps-only]
#        scripts/build-static.sh --lock-lines PACKAGE=VERSION
#   --arch        target architecture (x86_64/amd64, aarch64/arm64); default: this machine's.
#                 Writes dist/linux-ARCH/preflight (ARCH as Docker's TARGETARCH names it), and
#                 also dist/preflight when ARCH is this machine's.
#   --deps-only   build (or find in the cache) the toolchain and dependencies and stop
#   --lock-lines  download source package PACKAGE at VERSION and print its lines for the lock file
#
# Environment:
#   PF_STATIC_CACHE  cache directory (default: $HOME/.cache/preflight-static)
#   PF_JOBS          parallel make jobs (default: 2)
#   PF_BUILD_DIR     CMake build directory for preflight (default: build-static-ARCH in the repo)
#
# Needs Debian bookworm (or a derivative) and root the first time, to install the toolchain with
# apt-get and to add deb-src entries; after that it runs as any user that can write the cache.
set -euo pipefail

# Bump this whenever a change below alters how the toolchain or the dependencies are built.
SCRIPT_VERSION=3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK=$ROOT/scripts/static-sources.lock
CACHE=${PF_STATIC_CACHE:-${HOME:-/root}/.cache/preflight-static}
JOBS=${PF_JOBS:-2}
PACKAGES=(musl openssl libyaml libuv1 postgresql-15)

# Flags for every C file, ours and the dependencies': small code, one section per function and per
# object so that --gc-sections can drop whatever preflight never calls.
SIZE_CFLAGS="-Os -ffunction-sections -fdata-sections"

log() { printf 'build-static: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs apt-get with the given arguments, quietly; fails with a message unless we are root.
apt_as_root() {
    [ "$(id -u)" = 0 ] || die "need root to run: apt-get $*"
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}

# Sets the per-architecture variables from $1 (any of x86_64 amd64 aarch64 arm64):
# ARCH (kernel name), DEB_ARCH (Debian's and Docker's name), TRIPLET, TOOL_PREFIX (empty when
# building natively), OPENSSL_TARGET, KERNEL_INCLUDE (where linux/ and asm/ are), ARCH_DEBS,
# OWN_CFLAGS (for preflight's own code only, not the dependencies').
set_arch() {
    case "$1" in
        # x86-64: at -Os GCC copies and clears memory with `rep movsb` / `rep stos` inline, tens
        # of cycles to start each time, and preflight's copies are short and many (every scalar
        # of a manifest): for its own code, small fixed sizes become moves and the rest calls
        # src/memcpy.c. A lint of 32,000 items took 21.1 ms with them, 17.8 without, the glibc
        # build 17.8. arm64's -Os code calls memcpy already.
        x86_64|amd64) ARCH=x86_64 DEB_ARCH=amd64 OPENSSL_TARGET=linux-x86_64 OWN_CFLAGS="-mstringop-strategy=libcall" ;;
        aarch64|arm64) ARCH=aarch64 DEB_ARCH=arm64 OPENSSL_TARGET=linux-aarch64 OWN_CFLAGS="" ;;
        *) die "unknown architecture: $1 (expected amd64/x86_64 or arm64/aarch64)" ;;
    esac
    TRIPLET=$ARCH-linux-gnu
    if [ "$ARCH" = "$(uname -m)" ]; then
        TOOL_PREFIX=""
        KERNEL_INCLUDE=/usr/include
        ARCH_DEBS=(gcc binutils linux-libc-dev)
    else
        TOOL_PREFIX=$TRIPLET-
        KERNEL_INCLUDE=/usr/$TRIPLET/include
        ARCH_DEBS=("gcc-$TRIPLET" "binutils-$TRIPLET" "linux-libc-dev-$DEB_ARCH-cross")
    fi
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

# Installs the toolchain if any of its commands or headers is missing.
ensure_tools() {
    local cmd missing=0
    for cmd in "${TOOL_PREFIX}gcc" "${TOOL_PREFIX}gcc-ar" "${TOOL_PREFIX}strip" make cmake \
            pkg-config perl dpkg-source patch file readelf sha256sum; do
        command -v "$cmd" >/dev/null || missing=1
    done
    # Debian's multiarch layout puts the native asm/ headers under /usr/include/TRIPLET.
    KERNEL_INCLUDE_ASM=$KERNEL_INCLUDE/asm
    if [ -z "$TOOL_PREFIX" ]; then
        KERNEL_INCLUDE_ASM=/usr/include/$TRIPLET/asm
    fi
    [ -e "$KERNEL_INCLUDE/linux/version.h" ] && [ -e "$KERNEL_INCLUDE_ASM/unistd.h" ] || missing=1
    if [ "$missing" = 1 ]; then
        local debs=("${ARCH_DEBS[@]}" make cmake pkg-config perl dpkg-dev patch file binutils)
        log "installing ${debs[*]}"
        apt_as_root update
        apt_as_root install -y --no-install-recommends "${debs[@]}"
    fi
    [ -e "$KERNEL_INCLUDE_ASM/unistd.h" ] || die "no kernel headers for $ARCH in $KERNEL_INCLUDE"
}

# Prints the lock file's lines for package $1 as "version file sha256", one file a line.
lock_entries() {
    awk -v p="$1" '!/^#/ && NF == 4 && $1 == p { print $2, $3, $4 }' "$LOCK"
}

# Succeeds if every file pinned for package $1 is in $CACHE/src with its pinned checksum.
cached_ok() {
    local ver file sum
    while read -r ver file sum; do
        [ -f "$CACHE/src/$file" ] || return 1
        [ "$(sha256sum "$CACHE/src/$file" | cut -d' ' -f1)" = "$sum" ] || return 1
    done < <(lock_entries "$1")
}

# Makes sure the pinned files of package $1 are in $CACHE/src and match their SHA-256, downloading
# them with `apt-get source` when needed; sets SRC_VER[$1] and SRC_DSC[$1]. Any other outcome is
# fatal: a version the mirror does not serve, or a checksum that differs, is never worked around.
fetch_source() {
    local pkg=$1 ver="" file sum got dl
    local -a entries
    mapfile -t entries < <(lock_entries "$pkg")
    [ "${#entries[@]}" -gt 0 ] || die "$pkg is not pinned in $LOCK"
    ver=${entries[0]%% *}
    for file in "${entries[@]}"; do
        [ "${file%% *}" = "$ver" ] || die "$LOCK pins two versions of $pkg"
    done
    mkdir -p "$CACHE/src"
    if ! cached_ok "$pkg"; then
        log "downloading source package $pkg $ver"
        dl=$(mktemp -d "$CACHE/src/dl.XXXXXX")
        if ! (cd "$dl" && apt-get source -q --download-only "$pkg=$ver") >"$dl/apt.log" 2>&1; then
            local known
            known=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u | tr '\n' ' ')
            cat "$dl/apt.log" >&2
            rm -rf "$dl"
            die "source package $pkg $ver, pinned in $LOCK, cannot be downloaded (apt knows: ${known:-none}); pin a version the mirror serves (see --lock-lines)"
        fi
        while read -r ver file sum; do
            [ -f "$dl/$file" ] || { rm -rf "$dl"; die "apt-get source $pkg=$ver did not give $file, which $LOCK pins"; }
            got=$(sha256sum "$dl/$file" | cut -d' ' -f1)
            if [ "$got" != "$sum" ]; then
                rm -rf "$dl"
                die "SHA-256 mismatch for $file: $LOCK pins $sum, the download is $got"
            fi
            mv "$dl/$file" "$CACHE/src/$file"
        done < <(lock_entries "$pkg")
        rm -rf "$dl"
    fi
    SRC_VER[$pkg]=$ver
    SRC_DSC[$pkg]=$CACHE/src/$(lock_entries "$pkg" | awk '$2 ~ /\.dsc$/ { print $2 }')
    [ -f "${SRC_DSC[$pkg]}" ] || die "$LOCK pins no .dsc file for $pkg"
}

# --lock-lines PACKAGE=VERSION: downloads that source package and prints its lock-file lines.
print_lock_lines() {
    local spec=$1 pkg=${1%%=*} ver=${1#*=} dl f
    [ "$pkg" != "$spec" ] && [ -n "$ver" ] || die "--lock-lines wants PACKAGE=VERSION"
    ensure_deb_src
    dl=$(mktemp -d)
    (cd "$dl" && apt-get source -q --download-only "$pkg=$ver") >"$dl/apt.log" 2>&1 \
        || { cat "$dl/apt.log" >&2; rm -rf "$dl"; die "cannot download $pkg=$ver"; }
    for f in "$dl"/*; do
        case "$f" in *.log) continue ;; esac
        printf '%-16s %-19s %-49s %s\n' "$pkg" "$ver" "${f##*/}" "$(sha256sum "$f" | cut -d' ' -f1)"
    done
    rm -rf "$dl"
}

# The folder of symlinks that makes the kernel's UAPI headers (linux/, asm/, asm-generic/) of the
# target visible to musl-gcc, whose specs leave out /usr/include. OpenSSL and libuv include them.
kernel_headers() {
    local dir=$CACHE/kernel-headers-$ARCH
    if [ ! -e "$dir/asm" ]; then
        mkdir -p "$dir"
        ln -sfn "$KERNEL_INCLUDE/linux" "$dir/linux"
        ln -sfn "$KERNEL_INCLUDE/asm-generic" "$dir/asm-generic"
        ln -sfn "$KERNEL_INCLUDE_ASM" "$dir/asm"
    fi
    echo "$dir"
}

# Runs "$@" (a build step) with its output in log file $1 (relative to $WORK); on failure shows
# the end of the log and stops.
step() {
    local name=$1
    shift
    # A subshell: the steps cd into their source folders, which are removed afterwards.
    ("$@") >"$WORK/$name.log" 2>&1 || { tail -40 "$WORK/$name.log" >&2; die "$name failed; full log: $WORK/$name.log"; }
}

# The CMake arguments that make CMake cross-compile (it must not try to run target programs).
cmake_cross_args() {
    if [ -n "$TOOL_PREFIX" ]; then
        printf '%s\n' -DCMAKE_SYSTEM_NAME=Linux "-DCMAKE_SYSTEM_PROCESSOR=$ARCH"
    fi
}

build_musl() {
    local prefix=$1
    (
        cd "$WORK/musl"
        CROSS_COMPILE=$TOOL_PREFIX CC=${TOOL_PREFIX}gcc ./configure --target="$TRIPLET" \
            --prefix="$prefix" --disable-shared --enable-wrapper=gcc
        make -j"$JOBS"
        make install
    )
    # The musl-gcc wrapper musl installs calls plain `gcc`; this one calls the target's, with the
    # specs file musl installed (its headers and crt files instead of glibc's).
    [ -f "$prefix/lib/musl-gcc.specs" ] || die "musl installed no musl-gcc.specs"
    printf '#!/bin/sh\nexec %s "$@" -specs "%s/lib/musl-gcc.specs"\n' \
        "${TOOL_PREFIX}gcc" "$prefix" >"$prefix/bin/musl-gcc"
    chmod 755 "$prefix/bin/musl-gcc"
}

build_openssl() {
    local prefix=$1 cflags=$2
    cd "$WORK/openssl"
    # Only what a TLS 1.2/1.3 client with the usual certificates (RSA, ECDSA, EdDSA) needs is
    # compiled: OpenSSL's default provider lists every algorithm it was built with, so
    # --gc-sections cannot drop the ones preflight never uses. ($cflags is several words.)
    # shellcheck disable=SC2086
    ./Configure "$OPENSSL_TARGET" --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl \
        no-shared no-module no-tests no-engine no-dso no-comp no-legacy no-afalgeng no-async \
        no-ui-console no-srp no-psk no-ssl3 no-dtls no-gost no-idea no-mdc2 no-md4 no-rc2 \
        no-rc4 no-rc5 no-whirlpool no-seed no-camellia no-aria no-bf no-cast no-sm2 no-sm3 \
        no-sm4 no-siphash no-cms no-ts no-srtp no-sctp no-nextprotoneg no-ocsp no-ct \
        no-rfc3779 $cflags
    make -j"$JOBS" build_libs
    make install_dev
}

build_libyaml() {
    local prefix=$1 cflags=$2
    local -a cross
    # The manifest parser is the one dependency on preflight's hot path that is plain C: built for
    # speed (CMake's Release, -O3) instead of size, reading a 1.5 MB manifest takes ~8% less time
    # for 16 KB more code. (The build type's flags come after CMAKE_C_FLAGS, so they win over -Os.)
    mapfile -t cross < <(cmake_cross_args)
    cmake -S "$WORK/libyaml" -B "$WORK/libyaml/build" "${cross[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "${TOOL_PREFIX}ar")" \
        -DCMAKE_C_FLAGS="$cflags" -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF
    cmake --build "$WORK/libyaml/build" -j"$JOBS"
    cmake --install "$WORK/libyaml/build"
}

build_libuv() {
    local prefix=$1 cflags=$2
    local -a cross
    mapfile -t cross < <(cmake_cross_args)
    cmake -S "$WORK/libuv1" -B "$WORK/libuv1/build" "${cross[@]}" -DCMAKE_BUILD_TYPE=MinSizeRel \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_AR="$(command -v "${TOOL_PREFIX}ar")" \
        -DCMAKE_C_FLAGS="$cflags" -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_INSTALL_LIBDIR=lib -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
    cmake --build "$WORK/libuv1/build" -j"$JOBS" --target uv_a
    mkdir -p "$prefix/lib" "$prefix/include"
    cp "$WORK/libuv1/build/libuv_a.a" "$prefix/lib/"
    cp -R "$WORK/libuv1/include/." "$prefix/include/"
}

build_libpq() {
    local prefix=$1 cflags=$2
    cd "$WORK/postgresql-15"
    # Our patches on top of Debian's, each of which says why (scripts/patches/libpq-15-*.patch).
    local p
    for p in "$ROOT"/scripts/patches/libpq-15-*.patch; do
        patch -p1 --forward --silent <"$p" || die "cannot apply ${p#"$ROOT"/} to postgresql-15 ${SRC_VER[postgresql-15]}"
    done
    # A --host that differs from --build makes configure cross-compile, so it runs no program it
    # builds: with the same triplet on both sides (a native build), it ran its test program, which
    # musl-gcc links against /lib/ld-musl-*.so.1, and that exists only where Debian's musl
    # package happens to be installed ("cannot run C compiled programs" on a fresh machine).
    ./configure --host="$ARCH-linux-musl" --build="$(uname -m)-linux-gnu" --prefix="$prefix" \
        --sysconfdir=/etc/postgresql-common \
        --with-ssl=openssl --without-readline --without-icu --without-gssapi --without-ldap \
        --without-zlib --without-llvm --disable-nls \
        CC="$CC" AR="${TOOL_PREFIX}ar" RANLIB="${TOOL_PREFIX}ranlib" STRIP="${TOOL_PREFIX}strip" \
        CFLAGS="$cflags" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib"
    make -C src/include -j"$JOBS"
    make -C src/common -j"$JOBS" libpgcommon_shlib.a
    make -C src/port -j"$JOBS" libpgport_shlib.a
    make -C src/interfaces/libpq -j"$JOBS" all-static-lib
    mkdir -p "$prefix/lib" "$prefix/include"
    cp src/interfaces/libpq/libpq.a src/common/libpgcommon_shlib.a src/port/libpgport_shlib.a \
        "$prefix/lib/"
    cp src/interfaces/libpq/libpq-fe.h src/interfaces/libpq/libpq-events.h \
        src/include/postgres_ext.h src/include/pg_config_ext.h "$prefix/include/"
}

# Builds musl into $1/musl, then OpenSSL, libyaml, libuv and libpq with it into $1.
build_deps() {
    local prefix=$1 kh cflags pkg
    WORK=$(mktemp -d "$CACHE/work.XXXXXX")
    for pkg in "${PACKAGES[@]}"; do
        log "unpacking ${SRC_DSC[$pkg]##*/}"
        # The files' SHA-256 were checked against the lock file; dpkg-source checks them again
        # against the .dsc. --no-check only skips the .dsc's own signature (no keyring installed).
        dpkg-source --no-check -x "${SRC_DSC[$pkg]}" "$WORK/$pkg" >"$WORK/$pkg.unpack.log" 2>&1 \
            || { cat "$WORK/$pkg.unpack.log" >&2; die "dpkg-source failed for $pkg"; }
    done

    log "building musl ${SRC_VER[musl]} for $ARCH"
    step musl build_musl "$prefix/musl"
    export CC=$prefix/musl/bin/musl-gcc
    kh=$(kernel_headers)
    cflags="$SIZE_CFLAGS -idirafter $kh"

    log "building openssl ${SRC_VER[openssl]} ($OPENSSL_TARGET)"
    step openssl build_openssl "$prefix" "$cflags"
    log "building libyaml ${SRC_VER[libyaml]}"
    step libyaml build_libyaml "$prefix" "$cflags"
    write_pc "$prefix" yaml-0.1 "LibYAML" "${SRC_VER[libyaml]%%-*}" "-lyaml" ""
    log "building libuv ${SRC_VER[libuv1]}"
    step libuv1 build_libuv "$prefix" "$cflags"
    # Debian's libuv names its static archive libuv_a.a; musl's libc holds pthread, dl and rt.
    write_pc "$prefix" libuv "libuv" "${SRC_VER[libuv1]%%-*}" "-luv_a" "-lpthread -ldl"
    log "building libpq ${SRC_VER[postgresql-15]}"
    step libpq build_libpq "$prefix" "$cflags"
    # libpq.a holds only libpq's own objects; the shared library also links these two archives.
    write_pc "$prefix" libpq "libpq" "${SRC_VER[postgresql-15]%%-*}" "-lpq" \
        "-lpgcommon_shlib -lpgport_shlib" "libssl libcrypto"

    rm -rf "$WORK"
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

# Configures and builds preflight against the prefix, then strips it into dist/linux-ARCH/preflight
# (and dist/preflight for this machine's architecture).
build_preflight() {
    local prefix=$1 kh out
    local build_dir=${PF_BUILD_DIR:-$ROOT/build-static-$DEB_ARCH}
    local -a cross
    mapfile -t cross < <(cmake_cross_args)
    kh=$(kernel_headers)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
    # CMake caches what pkg-config said (the -L paths into the prefix) and asks again only when the
    # module list changes, so a build directory configured against another prefix starts afresh.
    if [ "$(cat "$build_dir/.deps-prefix" 2>/dev/null)" != "$prefix" ]; then
        rm -rf "$build_dir"
        mkdir -p "$build_dir"
        printf '%s\n' "$prefix" >"$build_dir/.deps-prefix"
    fi
    cmake -S "$ROOT" -B "$build_dir" "${cross[@]}" -DPF_STATIC=ON -DPF_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_C_COMPILER="$prefix/musl/bin/musl-gcc" \
        -DCMAKE_C_COMPILER_AR="$(command -v "${TOOL_PREFIX}gcc-ar")" \
        -DCMAKE_C_COMPILER_RANLIB="$(command -v "${TOOL_PREFIX}gcc-ranlib")" \
        -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON \
        -DCMAKE_C_FLAGS="$SIZE_CFLAGS $OWN_CFLAGS -idirafter $kh" \
        -DCMAKE_EXE_LINKER_FLAGS="-Wl,--gc-sections -Wl,-O1 -Wl,--build-id=none" >/dev/null
    cmake --build "$build_dir" -j"$JOBS" --target preflight
    out=$ROOT/dist/linux-$DEB_ARCH
    mkdir -p "$out"
    "${TOOL_PREFIX}strip" --strip-all -o "$out/preflight.tmp" "$build_dir/preflight"
    mv "$out/preflight.tmp" "$out/preflight"
    if [ -z "$TOOL_PREFIX" ]; then
        cp "$out/preflight" "$ROOT/dist/preflight.tmp"
        mv "$ROOT/dist/preflight.tmp" "$ROOT/dist/preflight"
    fi
}

# Fails unless dist/linux-ARCH/preflight is a static executable for ARCH without a dynamic section;
# runs it when this machine can (natively, or through a registered qemu-user binfmt handler).
verify() {
    local bin=$ROOT/dist/linux-$DEB_ARCH/preflight size desc dyn machine
    desc=$(file -b "$bin")
    [[ $desc == *"statically linked"* ]] || die "$bin is not static: $desc"
    case "$ARCH" in x86_64) machine="x86-64" ;; aarch64) machine="ARM aarch64" ;; esac
    [[ $desc == *"$machine"* ]] || die "$bin is not an $ARCH executable: $desc"
    dyn=$(readelf -d "$bin")
    [[ $dyn != *"Dynamic section"* ]] || die "$bin has a dynamic section"
    if [ -z "$TOOL_PREFIX" ]; then
        "$bin" --version >/dev/null || die "$bin --version failed"
    elif command -v "qemu-$ARCH-static" >/dev/null; then
        "qemu-$ARCH-static" "$bin" --version >/dev/null || die "qemu-$ARCH-static $bin --version failed"
    fi
    size=$(stat -c %s "$bin")
    log "dist/linux-$DEB_ARCH/preflight: $size bytes ($((size / 1024)) KiB), static $ARCH, no dynamic section"
}

main() {
    local deps_only=0 arch
    arch=$(uname -m)
    while [ $# -gt 0 ]; do
        case "$1" in
            --arch) [ $# -ge 2 ] || die "--arch needs a value"; arch=$2; shift ;;
            --arch=*) arch=${1#--arch=} ;;
            --deps-only) deps_only=1 ;;
            --lock-lines) [ $# -ge 2 ] || die "--lock-lines needs PACKAGE=VERSION"; print_lock_lines "$2"; return ;;
            -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    set_arch "$arch"
    [ -f "$LOCK" ] || die "missing $LOCK"

    ensure_tools

    # One build at a time per cache and architecture: a second one waits here instead of racing
    # on the prefix. (Downloads go through a temporary folder, so two architectures can share src/.)
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock-$ARCH"
    flock 9

    declare -gA SRC_VER SRC_DSC
    local pkg key_text key prefix
    # The network is needed only for what the cache lacks.
    for pkg in "${PACKAGES[@]}"; do
        cached_ok "$pkg" || { ensure_deb_src; break; }
    done
    for pkg in "${PACKAGES[@]}"; do
        fetch_source "$pkg"
    done

    key_text="script=$SCRIPT_VERSION
arch=$ARCH
gcc=${TOOL_PREFIX}gcc $("${TOOL_PREFIX}gcc" -dumpfullversion)
flags=$SIZE_CFLAGS
patches=$(cat "$ROOT"/scripts/patches/*.patch | sha256sum | cut -c1-16)
$(grep -v '^#' "$LOCK" | awk 'NF == 4 { print $1, $2, $3, $4 }')"
    key=$(printf '%s\n' "$key_text" | sha256sum | cut -c1-16)
    prefix=$CACHE/deps-$ARCH-$key

    if [ -f "$prefix/.complete" ]; then
        log "toolchain and dependencies for $ARCH: $prefix (cached)"
    else
        log "toolchain and dependencies for $ARCH: building into $prefix"
        rm -rf "$prefix"
        local t0=$SECONDS
        build_deps "$prefix"
        printf '%s\n' "$key_text" >"$prefix/VERSIONS"
        touch "$prefix/.complete"
        log "toolchain and dependencies for $ARCH built in $((SECONDS - t0))s"
        # Prefixes built for other versions are dead weight now (about 20 MB each); so are those
        # of SCRIPT_VERSION 1, which had no architecture in their name.
        find "$CACHE" -maxdepth 1 \( -name "deps-$ARCH-*" -o -regex '.*/deps-[0-9a-f]*' \) \
            ! -path "$prefix" -exec rm -rf {} +
    fi
    [ "$deps_only" = 0 ] || return 0

    build_preflight "$prefix"
    verify
}

main "$@"
