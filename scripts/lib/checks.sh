# shellcheck shell=bash
# The counting shared by the shell test scripts (tests/static, tests/arm64, tests/release): one
# line per check, "ok" or "FAILED" with the evidence indented below it, and last the plain
# closing line "N passed, M failed" that CI reads; finish exits 0 only when nothing failed.
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'ok      %s\n' "$1"; }
fail() {
    FAILED=$((FAILED + 1))
    printf 'FAILED  %s\n' "$1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/        /'
}
finish() {
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    [ "$FAILED" = 0 ] && exit 0
    exit 1
}
