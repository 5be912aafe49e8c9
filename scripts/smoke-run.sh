#!/usr/bin/env bash
# Smoke test of `make run`: start the app exactly as scripts/serve.sh does, on PORT=$1, with a fresh
# temporary data directory (SQLite, never $DATABASE_URL), wait until /accounts/login/ answers 200
# (up to ${SMOKE_TIMEOUT:-60} s), print OK, wait until the periodic jobs have started (as long again),
# then stop the server, the worker and the periodic jobs.
#
#   scripts/smoke-run.sh PORT
#
# Exit 0 on success; 1 with the server log on stderr otherwise. SMOKE_KEEP=1 keeps the temp dir.
set -euo pipefail

port=${1:-}
case "$port" in ''|*[!0-9]*) echo "usage: $0 PORT" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
timeout_s=${SMOKE_TIMEOUT:-60}
PY=${WARRANTDESK_PYTHON:-$root/.venv/bin/python}
[ -x "$PY" ] || { echo "smoke-run: $PY not found: run 'make venv' first" >&2; exit 1; }

tmp=$(mktemp -d -t warrantdesk-smoke.XXXXXX)
log=$tmp/serve.log
pgid=

stop() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null; then
        kill -TERM -- "-$pgid" 2>/dev/null || true
        for _ in $(seq 1 75); do             # up to 15 s for a graceful stop
            kill -0 -- "-$pgid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then
        echo "smoke-run: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "smoke-run: FAILED: $*" >&2
    echo "----- server log (last 60 lines) -----" >&2
    tail -n 60 "$log" >&2 || true
    exit 1
}

# Own process group (setsid) so that everything serve.sh starts can be stopped together.
env -u DATABASE_URL WARRANTDESK_VAR_DIR="$tmp/var" PORT="$port" HOST=127.0.0.1 \
    WARRANTDESK_PYTHON="$PY" setsid "$root/scripts/serve.sh" </dev/null >"$log" 2>&1 &
pgid=$!

url="http://127.0.0.1:$port/accounts/login/"
if ! "$PY" - "$url" "$timeout_s" "$pgid" <<'PYEOF'
import os, sys, time, urllib.error, urllib.request

url, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + timeout
last = "no answer"
server_errors = 0  # a server that answers 5xx several times in a row will not get better by waiting
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"serve.sh exited before {url} answered ({last})")
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            if r.status == 200:
                sys.exit(0)
            last = f"HTTP {r.status}"
    except urllib.error.HTTPError as e:
        last = f"HTTP {e.code}"
        server_errors = server_errors + 1 if e.code >= 500 else 0
        if server_errors >= 5:
            sys.exit(f"{url} answered {last} {server_errors} times in a row")
    except (urllib.error.URLError, OSError) as e:
        last = str(getattr(e, "reason", e))
    time.sleep(0.5)
sys.exit(f"{url} did not answer 200 within {timeout:g} s (last: {last})")
PYEOF
then
    fail "see above"
fi
echo "OK: $url answered 200"
# make run starts the task worker and the periodic jobs beside the web server: wait (up to the same
# timeout) until the periodic runner has said what it runs, so that stopping right after the login
# page answered cannot cut its start short on a busy machine.
for _ in $(seq 1 $((timeout_s * 5))); do
    grep -q '^run_periodic: running ' "$log" && break
    sleep 0.2
done
grep -q '^run_periodic: running ' "$log" || fail "the periodic jobs did not start within ${timeout_s} s"
echo "OK: the periodic jobs started"
