#!/usr/bin/env bash
# Print the path of a Python interpreter >= 3.12 (Django 6.1 needs it).
#
# Search order (first that works and is >= 3.12 wins):
#   1. $PYTHON
#   2. python3.13, python3.12 on PATH (pyenv shims that fail are skipped)
#   3. pyenv versions 3.13.x, 3.12.x ($(pyenv root)/versions or ~/.pyenv/versions)
#   4. /usr/local/bin/python3.1[2-9], /usr/bin/python3.1[2-9]
#   5. python3 on PATH
# Prints the interpreter's real sys.executable; exits 1 with advice if none.
set -uo pipefail

check() {
    # $1: command or path. Prints the real executable if it is >= 3.12.
    local cand="$1" exe
    [ -n "$cand" ] || return 1
    if [[ "$cand" == */* ]]; then
        [ -x "$cand" ] || return 1
    else
        command -v "$cand" >/dev/null 2>&1 || return 1
    fi
    exe=$("$cand" -c 'import sys
if sys.version_info >= (3, 12):
    print(sys.executable)
else:
    sys.exit(3)' 2>/dev/null) || return 1
    [ -n "$exe" ] && [ -x "$exe" ] || return 1
    printf '%s\n' "$exe"
}

candidates=()
if [ -n "${PYTHON:-}" ]; then
    candidates+=("$PYTHON")
fi
candidates+=(python3.13 python3.12)

pyenv_roots=()
if command -v pyenv >/dev/null 2>&1; then
    r=$(pyenv root 2>/dev/null || true)
    [ -n "$r" ] && pyenv_roots+=("$r")
fi
[ -n "${PYENV_ROOT:-}" ] && pyenv_roots+=("$PYENV_ROOT")
pyenv_roots+=("$HOME/.pyenv")
for root in "${pyenv_roots[@]}"; do
    for minor in 13 12; do
        # newest patch release first
        while IFS= read -r d; do
            [ -n "$d" ] && candidates+=("$d/bin/python3.$minor" "$d/bin/python")
        done < <(ls -d "$root/versions/3.$minor".* 2>/dev/null | grep -E "/3\.$minor\.[0-9]+$" | sort -t. -k3,3nr)
    done
done
for minor in 19 18 17 16 15 14 13 12; do
    candidates+=("/usr/local/bin/python3.$minor" "/usr/bin/python3.$minor")
done
candidates+=(python3)

if [ -n "${PYTHON:-}" ] && ! check "$PYTHON" >/dev/null; then
    echo "find-python: PYTHON=$PYTHON is not a working Python >= 3.12; searching elsewhere" >&2
fi

for c in "${candidates[@]}"; do
    if check "$c"; then
        exit 0
    fi
done

cat >&2 <<'MSG'
find-python: no Python >= 3.12 found (Django 6.1 needs Python 3.12 or newer).
Tried: $PYTHON, python3.13/python3.12 on PATH, pyenv versions 3.13.x/3.12.x,
/usr/local/bin/python3.1x, /usr/bin/python3.1x and python3.
Get one, then re-run (or point PYTHON=/path/to/python3.12 at it), e.g.:
  - pyenv:  curl https://pyenv.run | bash && pyenv install 3.12
  - uv:     pip install uv && uv python install 3.12   (then PYTHON=$(uv python find 3.12))
  - Debian 13 (trixie) or newer: apt-get install python3 python3-venv  (ships 3.13)
MSG
exit 1
