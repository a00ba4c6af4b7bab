#!/usr/bin/env bash
# Builds preflight and runs every test: unit tests and the end-to-end suite against a throwaway
# PostgreSQL, once in a normal build (build/) and once with ASan+UBSan (build-asan/); then both
# libFuzzer targets for a few seconds each (build-fuzz/, clang).
#
#   scripts/test.sh           install what is missing (Debian 12, as root), build, test both builds
#   scripts/test.sh --quick   skip the sanitizer build
#
# Exits non-zero on any failure. JOBS (default 2) sets the build parallelism; BUILD_DIR and
# ASAN_BUILD_DIR (default build, build-asan) the build folders, relative to the repository;
# PG_MATRIX (default "13 14 16 17 18", "" for none) the other PostgreSQL majors the plain build
# also runs the catalog tests against (e2e.pgNN, servers cached by scripts/lib/pgversions.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 64 ;;
  esac
done
JOBS=${JOBS:-2}

say() { printf '\n==> %s\n' "$*"; }

# Debian packages the build and the tests need. dpkg-query first, so a second run costs nothing and
# needs no network; apt-get update only when something is missing.
PACKAGES=(
  build-essential cmake pkg-config
  libpq-dev libyaml-dev libuv1-dev
  postgresql-15 postgresql-client-15 pgbouncer
  python3 python3-pytest python3-yaml python3-jsonschema
  alembic python3-alembic python3-psycopg2
  valgrind tini hyperfine procps util-linux
  clang libclang-rt-14-dev
)

install_missing() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  say "installing: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: missing packages (${missing[*]}) and not root: install them first" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A PostgreSQL server that cannot start makes every end-to-end test fail the same way; say so once,
# clearly, before building anything.
check_postgres() {
  say "checking that a throwaway PostgreSQL starts"
  # shellcheck source=lib/pgtmp.sh
  . "$ROOT/scripts/lib/pgtmp.sh"
  PGTMP_NO_TRAP=1
  trap pgtmp_stop EXIT
  pgtmp_start
  pgtmp_psql -d postgres -Atc 'SELECT version()'
  pgtmp_stop
  trap - EXIT
}

# Configures, builds and tests one build directory. The ctest summary line is printed as ctest
# prints it ("100% tests passed, 0 tests failed out of N").
build_and_test() {
  local dir="$1"
  shift
  say "configure $dir $*"
  # `set -e` does not apply inside a function called from `||`: every step checks itself.
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || return 1
  say "build $dir"
  cmake --build "$ROOT/$dir" -j "$JOBS" || return 1
  say "test $dir"
  (cd "$ROOT/$dir" && ctest --output-on-failure --timeout 1800) || return 1
}

# The other PostgreSQL majors (issue 11): server binaries from scripts/lib/pgversions.sh's cache
# (one download per major, then offline), as MAJOR=BINDIR for tests/CMakeLists.txt's e2e.pgNN
# entries. The default server (Debian's 15) runs the whole suite; PG_MATRIX (default "13 14 16 17
# 18"; empty for none) lists the majors that run the catalog tests in the plain build.
pg_matrix() {
  local majors=${PG_MATRIX-13 14 16 17 18} line entries=()
  [ -n "$majors" ] || return 0
  say "PostgreSQL servers for the version matrix: $majors"
  # shellcheck disable=SC2086
  while read -r line; do
    entries+=("${line% *}=${line#* }")
  done < <("$ROOT/scripts/lib/pgversions.sh" install $majors)
  local IFS=';'
  PG_MATRIX_ENTRIES="${entries[*]}"
}

install_missing
check_postgres
PG_MATRIX_ENTRIES=""
pg_matrix

status=0
build_and_test "${BUILD_DIR:-build}" -DPF_SANITIZE=OFF "-DPF_PG_MATRIX=$PG_MATRIX_ENTRIES" || status=1
if [ "$QUICK" = 0 ]; then
  # detect_leaks stays on: preflight's own paths that return (lint, check) must not leak.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  build_and_test "${ASAN_BUILD_DIR:-build-asan}" -DPF_SANITIZE=ON || status=1
fi

# The fuzz targets (tests/fuzz): only they are built with clang, and ctest runs each for
# PF_FUZZ_SECONDS (5) from its seeds; about a minute in all, most of it compiling.
fuzz_smoke() {
  local dir="${FUZZ_BUILD_DIR:-build-fuzz}"
  say "fuzz targets, ${PF_FUZZ_SECONDS:-5} s each"
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DPF_FUZZ=ON \
    "-DPF_FUZZ_SECONDS=${PF_FUZZ_SECONDS:-5}" >/dev/null || return 1
  cmake --build "$ROOT/$dir" -j "$JOBS" --target fuzz_manifest fuzz_health || return 1
  (cd "$ROOT/$dir" && ctest --output-on-failure -R '^fuzz\.') || return 1
}
if [ "$QUICK" = 0 ]; then
  fuzz_smoke || status=1
fi

if [ "$status" = 0 ]; then
  say "all tests passed"
else
  say "FAILED"
fi
exit "$status"
