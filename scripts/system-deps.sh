#!/usr/bin/env bash
# Install the Debian packages warrantdesk needs, only when some are missing.
#
#   scripts/system-deps.sh [--check] [run|test|postgres]
#
#   run   gettext (compilemessages), Pango/HarfBuzz/fontconfig + Nanum font (WeasyPrint PDFs)
#   test  run + PostgreSQL, Chromium + ChromeDriver (browser tests), poppler-utils (PDF checks)
#   postgres  only PostgreSQL (used by scripts/postgres.sh)
#   --check  only report; exit 1 when something is missing, install nothing.
#
# Silent when everything is present; runs `apt-get update` only when something is missing.
set -euo pipefail

check_only=0
mode=run
for arg in "$@"; do
    case "$arg" in
        --check) check_only=1 ;;
        run|test|postgres) mode=$arg ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "system-deps: unknown argument '$arg' (use [--check] run|test|postgres)" >&2; exit 2 ;;
    esac
done

run_pkgs=(
    gettext
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-nanum
)
test_pkgs=(
    "${run_pkgs[@]}"
    postgresql
    chromium chromium-driver
    poppler-utils
)
case "$mode" in
    run) pkgs=("${run_pkgs[@]}") ;;
    test) pkgs=("${test_pkgs[@]}") ;;
    postgres) pkgs=(postgresql) ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system-deps: dpkg-query not found: this script expects Debian/Ubuntu." >&2
    echo "system-deps: install these packages (or their equivalents) by hand: ${pkgs[*]}" >&2
    exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$check_only" = 1 ]; then
    echo "system-deps ($mode): missing Debian packages: ${missing[*]}" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "system-deps: missing ${missing[*]}; not root and no sudo. Run as root:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

echo "system-deps ($mode): installing ${missing[*]} ..." >&2
log=$(mktemp -t warrantdesk-apt.XXXXXX)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q -y)
if ! "${apt[@]}" update >"$log" 2>&1 \
    || ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    echo "system-deps: FAILED to install: ${missing[*]}" >&2
    echo "----- apt-get output (last 40 lines) -----" >&2
    tail -n 40 "$log" >&2
    exit 1
fi

# Verify: apt may exit 0 and still leave a package unconfigured.
still=()
for p in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
    echo "system-deps: FAILED: still not installed after apt-get: ${still[*]}" >&2
    tail -n 40 "$log" >&2
    exit 1
fi
echo "system-deps ($mode): installed ${missing[*]}" >&2
