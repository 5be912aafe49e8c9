#!/usr/bin/env bash
# Local PostgreSQL for warrantdesk's tests, without systemd (Debian's postgresql-common tools).
#
#   scripts/postgres.sh start    install PostgreSQL if missing, create/start the cluster (127.0.0.1 only),
#                                create role + database "warrantdesk" (idempotent), print DATABASE_URL
#   scripts/postgres.sh url      print DATABASE_URL of the running cluster
#   scripts/postgres.sh status   show the cluster (pg_lsclusters)
#   scripts/postgres.sh stop     stop the cluster
#
# stdout carries only the URL, so `DATABASE_URL=$(scripts/postgres.sh start)` works; progress goes to stderr.
# Env: PG_CLUSTER (default main), PG_VERSION (default: newest installed major version).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DB_NAME=warrantdesk
DB_USER=warrantdesk
DB_PASSWORD=warrantdesk
CLUSTER=${PG_CLUSTER:-main}

log() { echo "postgres: $*" >&2; }
die() { echo "postgres: ERROR: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
    as_postgres() { (cd / && runuser -u postgres -- "$@"); }
else
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot manage PostgreSQL"
    as_root() { sudo "$@"; }
    as_postgres() { (cd / && sudo -u postgres "$@"); }
fi

ensure_installed() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        log "PostgreSQL not installed; installing Debian's postgresql package"
        "$here/system-deps.sh" postgres >&2
    fi
    command -v pg_ctlcluster >/dev/null 2>&1 || die "pg_ctlcluster still missing after install"
}

pick_version() {
    if [ -n "${PG_VERSION:-}" ]; then echo "$PG_VERSION"; return; fi
    # newest major version with this cluster, else newest installed server
    local v
    v=$(pg_lsclusters -h 2>/dev/null | awk -v c="$CLUSTER" '$2 == c {print $1}' | sort -n | tail -n 1)
    if [ -z "$v" ]; then
        v=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | awk -F/ '{print $5}' | sort -n | tail -n 1)
    fi
    [ -n "$v" ] || die "no PostgreSQL server found under /usr/lib/postgresql"
    echo "$v"
}

cluster_field() { # $1 = column number of pg_lsclusters -h (3 port, 4 status)
    pg_lsclusters -h 2>/dev/null | awk -v v="$VER" -v c="$CLUSTER" -v f="$1" '$1 == v && $2 == c {print $f}'
}

url() {
    echo "postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
}

cmd_start() {
    ensure_installed
    VER=$(pick_version)
    if [ -z "$(cluster_field 2)" ]; then
        log "creating cluster $VER/$CLUSTER"
        as_root pg_createcluster "$VER" "$CLUSTER" >/dev/null
    fi
    # Listen on loopback IPv4 only (drop-in read via Debian's include_dir = 'conf.d').
    local confdir dropin want
    confdir=${PG_CLUSTER_CONF_ROOT:-/etc/postgresql}/$VER/$CLUSTER
    dropin=$confdir/conf.d/warrantdesk.conf
    want="listen_addresses = '127.0.0.1'   # written by warrantdesk scripts/postgres.sh"
    if [ "$(cat "$dropin" 2>/dev/null || true)" != "$want" ]; then
        as_root install -d -o postgres -g postgres "$confdir/conf.d"
        printf '%s\n' "$want" | as_root tee "$dropin" >/dev/null
        if [ "$(cluster_field 4)" = online ]; then
            log "restarting $VER/$CLUSTER to apply listen_addresses"
            as_root pg_ctlcluster "$VER" "$CLUSTER" restart >&2
        fi
    fi
    # The socket directory lives on a tmpfs on some machines and vanishes on reboot.
    as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    if [ "$(cluster_field 4)" != online ]; then
        log "starting cluster $VER/$CLUSTER"
        # stdout of the tools goes to stderr ("Removed stale pid file." must not end up in the URL);
        # no extra descriptor is opened, since the server would inherit it and hold $(...) open.
        if ! as_root pg_ctlcluster "$VER" "$CLUSTER" start >&2; then
            logfile=$(pg_lsclusters -h | awk -v v="$VER" -v c="$CLUSTER" '$1 == v && $2 == c {print $7}')
            [ -n "$logfile" ] && [ -r "$logfile" ] && tail -n 30 "$logfile" >&2
            die "could not start cluster $VER/$CLUSTER"
        fi
    fi
    PORT=$(cluster_field 3)
    [ -n "$PORT" ] || die "cannot read the port of cluster $VER/$CLUSTER"
    local i
    for i in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$PORT" && break
        [ "$i" -eq 60 ] && die "server on 127.0.0.1:$PORT not ready after 30 s"
        sleep 0.5
    done

    as_postgres psql -X -q -p "$PORT" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
    ELSE
        ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
    END IF;
END
\$\$;
SQL
    if [ "$(as_postgres psql -X -tA -p "$PORT" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        log "creating database $DB_NAME"
        as_postgres createdb -p "$PORT" -O "$DB_USER" "$DB_NAME"
    fi
    # Prove the URL works over TCP with the password.
    PGPASSWORD=$DB_PASSWORD psql -X -q -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d "$DB_NAME" \
        -v ON_ERROR_STOP=1 -c 'SELECT 1' >/dev/null \
        || die "cannot log in as $DB_USER on 127.0.0.1:$PORT"
    log "ready: cluster $VER/$CLUSTER on 127.0.0.1:$PORT"
    url
}

cmd_url() {
    VER=$(pick_version)
    [ "$(cluster_field 4)" = online ] || die "cluster $VER/$CLUSTER is not running (scripts/postgres.sh start)"
    PORT=$(cluster_field 3)
    url
}

cmd_stop() {
    VER=$(pick_version)
    if [ "$(cluster_field 4)" = online ]; then
        as_root pg_ctlcluster "$VER" "$CLUSTER" stop
        log "stopped cluster $VER/$CLUSTER"
    else
        log "cluster $VER/$CLUSTER is not running"
    fi
}

case "${1:-}" in
    start) cmd_start ;;
    url) cmd_url ;;
    stop) cmd_stop ;;
    status) command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters || die "PostgreSQL not installed" ;;
    *) sed -n '2,11p' "$0" >&2; exit 2 ;;
esac
