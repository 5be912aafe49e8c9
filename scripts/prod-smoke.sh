#!/usr/bin/env bash
# `make prod-smoke`: warrantdesk as in production, on this machine, then one export through it.
#
# Starts the local PostgreSQL (scripts/postgres.sh) and creates a throw-away database in it; makes a
# throw-away data directory, key store and secrets; runs migrate, collectstatic and check --deploy with
# the production settings (WARRANTDESK_PRODUCTION=1, DEBUG off, JSON logs, behind a "proxy" that says
# https); starts gunicorn (deploy/gunicorn.conf.py) on 127.0.0.1 and a free port, two task workers
# (db_worker) and the periodic jobs (run_periodic); seeds the demo data; then scripts/prod_smoke.py
# starts an export as an intake officer, waits for a worker to build it, downloads it through gunicorn
# with a one-time link and verifies it against the operator key published by gunicorn. Everything it
# started is stopped on exit (also on Ctrl-C or a failure), the database dropped, the directory removed.
#
#   scripts/prod-smoke.sh [PORT]        (PROD_SMOKE_KEEP=1 keeps the directory and the database)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=${WARRANTDESK_PYTHON:-$root/.venv/bin/python}
[ -x "$PY" ] || { echo "prod-smoke: $PY not found: run 'make venv' first" >&2; exit 1; }
say() { echo "prod-smoke: $*"; }

port=${1:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
base_url=$(scripts/postgres.sh start | tail -n 1)
case "$base_url" in postgres://*) ;; *) echo "prod-smoke: no PostgreSQL URL from scripts/postgres.sh: $base_url" >&2; exit 1 ;; esac
dbname="warrantdesk_smoke_$$"
tmp=$(mktemp -d -t warrantdesk-prod-smoke.XXXXXX)
chmod 700 "$tmp"
pids=()

psql_admin() { "$PY" - "$base_url" "$1" <<'PYEOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as connection:
    connection.execute(sys.argv[2])
PYEOF
}

stop() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${#pids[@]}" -gt 0 ]; then
        say "stopping gunicorn, the workers and the periodic jobs (SIGTERM)"
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 1 100); do            # up to 20 s for a graceful stop
            kill -0 "${pids[@]}" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ]; then
        for log in "$tmp"/*.log; do
            [ -f "$log" ] || continue
            echo "----- $(basename "$log") (last 25 lines) -----" >&2
            tail -n 25 "$log" >&2
        done
    fi
    if [ "${PROD_SMOKE_KEEP:-0}" = 1 ]; then
        say "kept $tmp and the database $dbname"
    else
        psql_admin "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" || true
        rm -rf "$tmp"
    fi
    if [ "$rc" -eq 0 ]; then say "OK"; else say "FAILED (status $rc)"; fi
    exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql_admin "CREATE DATABASE $dbname"
say "database $dbname on ${base_url##*@}, data directory $tmp, port $port"

# The production environment (deploy/warrantdesk.env.example), with this machine's values.
export WARRANTDESK_PRODUCTION=1 DEBUG=0 LOG_FORMAT=json PYTHONUNBUFFERED=1
export DATABASE_URL="${base_url%/*}/$dbname"
export WARRANTDESK_VAR_DIR="$tmp/var" STATIC_ROOT="$tmp/staticfiles" WARRANTDESK_KEYRING_DIR="$tmp/keys/keyring"
export ALLOWED_HOSTS=127.0.0.1 CSRF_TRUSTED_ORIGINS="https://127.0.0.1:$port"
export SECURE_PROXY_SSL_HEADER=1   # gunicorn stands behind a TLS proxy; the driver sends X-Forwarded-Proto
export MAIL_BACKEND=console TASKS_BACKEND=django_tasks_db.DatabaseBackend
export GUNICORN_BIND="127.0.0.1:$port" GUNICORN_WORKERS=2
mkdir -p "$tmp/secrets" "$WARRANTDESK_VAR_DIR"
"$PY" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$tmp/secrets/secret_key"
chmod 600 "$tmp/secrets/secret_key"
export SECRET_KEY_FILE="$tmp/secrets/secret_key"
export WARRANTDESK_KEK_FILE="$tmp/secrets/kek" WARRANTDESK_SIGNING_KEY_FILE="$tmp/secrets/operator-signing-key.pem"
"$PY" manage.py init_local_keys >/dev/null   # creates the two files named above (0600)
say "secrets: SECRET_KEY_FILE, WARRANTDESK_KEK_FILE, WARRANTDESK_SIGNING_KEY_FILE in $tmp/secrets"

say "manage.py migrate"
"$PY" manage.py migrate --noinput -v 0 >"$tmp/migrate.log" 2>&1
say "manage.py collectstatic ($(
    "$PY" manage.py collectstatic --noinput 2>"$tmp/collectstatic.log" | tail -n 1))"
say "manage.py check --deploy: $("$PY" manage.py check --deploy --fail-level ERROR 2>&1 | grep -c '(security\.' || true) security warnings"
say "manage.py seed_demo (demo staff and warrants)"
"$PY" manage.py seed_demo >"$tmp/seed.log" 2>&1

"$root/.venv/bin/gunicorn" --config deploy/gunicorn.conf.py >"$tmp/gunicorn.log" 2>&1 &
pids+=($!)
for n in 1 2; do
    "$PY" manage.py db_worker --queue-name "*" --worker-id "smoke-worker-$n" >"$tmp/worker-$n.log" 2>&1 &
    pids+=($!)
done
"$PY" manage.py run_periodic >"$tmp/periodic.log" 2>&1 &
pids+=($!)
say "started gunicorn (pid ${pids[0]}, 2 workers) on 127.0.0.1:$port, db_worker x2 (pids ${pids[1]} ${pids[2]}), run_periodic (pid ${pids[3]})"

"$PY" scripts/prod_smoke.py "http://127.0.0.1:$port" "$tmp" "${pids[@]}"
