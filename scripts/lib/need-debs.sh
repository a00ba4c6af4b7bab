# shellcheck shell=bash
# need_debs PACKAGE...: installs the Debian packages that are not installed yet (as root, with
# apt-get; `apt-get update` only when something is missing), or fails naming them. Source it.
need_debs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        echo "need_debs: missing packages (${missing[*]}) and not root: install them first" >&2
        return 1
    fi
    echo "need_debs: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null \
        && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
