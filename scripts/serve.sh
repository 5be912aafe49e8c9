#!/usr/bin/env bash
# Run warrantdesk locally: migrate, seed the demo data, print the demo logins, then run the task worker
# and the periodic jobs (background) and the development server (until Ctrl-C / SIGTERM; stopping one
# stops all three).
# Used by `make run` and scripts/smoke-run.sh.
#
# Env:
#   PORT                  server port (default 8000)
#   HOST                  bind address (default 127.0.0.1)
#   WARRANTDESK_VAR_DIR   data directory (SQLite db, generated secrets); settings default to ./var
#   WARRANTDESK_PYTHON    interpreter with the requirements (default .venv/bin/python)
#   DEBUG                 default 1 here (the dev server serves /static/ only with DEBUG on)
#   WARRANTDESK_DEMO      default 1 here: sample signed warrant / follow-up request to download
#   SERVE_SKIP_SEED=1     skip seed_demo (data stays as it is)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
PY=${WARRANTDESK_PYTHON:-$root/.venv/bin/python}
export DEBUG=${DEBUG:-1}
export WARRANTDESK_DEMO=${WARRANTDESK_DEMO:-1}   # signed sample documents to download (never in production)
export PYTHONUNBUFFERED=1

say() { echo "serve: $*" >&2; }
die() { echo "serve: ERROR: $*" >&2; exit 1; }

[ -x "$PY" ] || die "$PY not found: run 'make venv' first (or set WARRANTDESK_PYTHON)"
[ -f manage.py ] || die "manage.py not found in $root"
case "$PORT" in ''|*[!0-9]*) die "PORT must be a number, got '$PORT'" ;; esac

# Fail early and clearly when the port is taken.
if ! "$PY" - "$HOST" "$PORT" <<'PYEOF'
import socket, sys
s = socket.socket()
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError as e:
    sys.exit(f"serve: ERROR: cannot listen on {sys.argv[1]}:{sys.argv[2]}: {e.strerror} (try PORT=...)")
finally:
    s.close()
PYEOF
then
    exit 1
fi

if [ -n "${WARRANTDESK_VAR_DIR:-}" ]; then
    mkdir -p "$WARRANTDESK_VAR_DIR"
    say "data directory: $WARRANTDESK_VAR_DIR"
fi

# Local keys (key-encryption key, operator signing key), created once in the data directory with
# mode 0600, unless the environment already provides them as production does.
if [ -z "${WARRANTDESK_KEK:-}${WARRANTDESK_KEK_FILE:-}" ] || [ -z "${WARRANTDESK_SIGNING_KEY:-}${WARRANTDESK_SIGNING_KEY_FILE:-}" ]; then
    while IFS= read -r line; do
        name=${line%%=*}
        if [ -z "$(printenv "${name%_FILE}")" ] && [ -z "$(printenv "$name")" ]; then export "$line"; fi
    done < <("$PY" manage.py init_local_keys)
fi

say "applying migrations"
"$PY" manage.py migrate --noinput -v 0
if [ "${SERVE_SKIP_SEED:-0}" != 1 ]; then
    say "seeding demo data"
    "$PY" manage.py seed_demo
fi

url="http://$HOST:$PORT/"
{
    echo
    echo "=================================================================="
    echo "  warrantdesk is starting at  $url"
    echo "  Stop with Ctrl-C."
} >&2
"$PY" manage.py seed_demo --print-logins >&2 || say "WARNING: 'seed_demo --print-logins' failed; no login table"
echo "==================================================================" >&2
echo >&2

worker_pid=
server_pid=
periodic_pid=
cleanup() {
    trap - EXIT INT TERM
    local pids=()
    [ -n "$server_pid" ] && pids+=("$server_pid")
    [ -n "$worker_pid" ] && pids+=("$worker_pid")
    [ -n "$periodic_pid" ] && pids+=("$periodic_pid")
    [ "${#pids[@]}" -eq 0 ] && return
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do            # up to 10 s for a graceful stop
        kill -0 "${pids[@]}" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'say "stopping"; exit 130' INT
trap 'say "stopping"; exit 143' TERM

"$PY" manage.py db_worker --no-reload --queue-name "*" &
worker_pid=$!
# The periodic jobs (due user notices, retention purge, package expiry, key destruction...), each when
# it is due (production: `run_periodic --once` from a systemd timer or cron; see README "Periodic jobs").
"$PY" manage.py run_periodic &
periodic_pid=$!
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
server_pid=$!

# Whichever exits first ends the session; report which one.
set +e
wait -n "$server_pid" "$worker_pid" "$periodic_pid"
rc=$?
set -e
if ! kill -0 "$server_pid" 2>/dev/null; then
    say "server exited (status $rc); stopping the worker and the periodic jobs"
    server_pid=
elif ! kill -0 "$worker_pid" 2>/dev/null; then
    say "task worker exited (status $rc); stopping the server and the periodic jobs"
    worker_pid=
else
    say "periodic jobs runner exited (status $rc); stopping the server and the worker"
    periodic_pid=
fi
exit "$rc"
