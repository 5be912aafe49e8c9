#!/usr/bin/env bash
# A local S3-compatible endpoint for warrantdesk's storage (WARRANTDESK_STORAGE=s3): moto's server mode on
# 127.0.0.1, in memory (what it holds is gone when it stops). For tests, demos and `make prod-smoke`; never
# for real data.
#
#   scripts/s3.sh start    start moto_server on 127.0.0.1:$S3_PORT (default 9123) if it is not running,
#                          create the bucket $S3_BUCKET (default warrantdesk), print the endpoint URL
#   scripts/s3.sh url      print the endpoint URL of the running server
#   scripts/s3.sh env      print the settings' variables for it as `export` lines: eval "$(scripts/s3.sh env)"
#   scripts/s3.sh stop     stop it
#
# stdout carries only the URL, so `AWS_S3_ENDPOINT_URL=$(scripts/s3.sh start)` works; progress goes to stderr.
# The server's pid, port and log live in $S3_DIR (default var/s3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
PORT=${S3_PORT:-9123}
BUCKET=${S3_BUCKET:-warrantdesk}
DIR=${S3_DIR:-$root/var/s3}
MOTO=${MOTO_SERVER:-$root/.venv/bin/moto_server}

log() { echo "s3: $*" >&2; }
die() { echo "s3: ERROR: $*" >&2; exit 1; }

running_pid() {
    local pid
    pid=$(cat "$DIR/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

url() { echo "http://127.0.0.1:$(cat "$DIR/port")"; }

ready() { curl -fsS -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null; }

cmd_start() {
    [ -x "$MOTO" ] || die "$MOTO missing: make venv (moto[server] is a test dependency in requirements.txt)"
    mkdir -p "$DIR"
    if [ -z "$(running_pid)" ]; then
        if ready "$PORT"; then die "127.0.0.1:$PORT is taken by another program (S3_PORT=... to pick another)"; fi
        log "starting moto_server on 127.0.0.1:$PORT (log: $DIR/moto.log)"
        # setsid: its own session, so that the caller's shell ending does not take it down.
        setsid "$MOTO" -H 127.0.0.1 -p "$PORT" >"$DIR/moto.log" 2>&1 </dev/null &
        echo $! >"$DIR/pid"
        echo "$PORT" >"$DIR/port"
        local i
        for i in $(seq 1 100); do
            ready "$PORT" && break
            kill -0 "$(cat "$DIR/pid")" 2>/dev/null || { tail -n 20 "$DIR/moto.log" >&2; die "moto_server exited"; }
            [ "$i" -eq 100 ] && die "moto_server on 127.0.0.1:$PORT not ready after 20 s"
            sleep 0.2
        done
    fi
    # Creating a bucket that exists is harmless (moto answers 200 or 409 BucketAlreadyOwnedByYou).
    curl -sS -o /dev/null -X PUT "$(url)/$BUCKET" || die "cannot create bucket $BUCKET"
    log "ready: bucket $BUCKET at $(url)"
    url
}

cmd_stop() {
    local pid
    pid=$(running_pid)
    if [ -n "$pid" ]; then
        kill "$pid"
        log "stopped moto_server (pid $pid)"
    else
        log "not running"
    fi
    rm -f "$DIR/pid"
}

case "${1:-}" in
    start) cmd_start ;;
    url) [ -n "$(running_pid)" ] || die "not running (scripts/s3.sh start)"; url ;;
    env)
        [ -n "$(running_pid)" ] || die "not running (scripts/s3.sh start)"
        # "export": `eval "$(scripts/s3.sh env)"` must hand them to the commands the shell runs next.
        printf 'export %s\n' "WARRANTDESK_STORAGE=s3" "AWS_STORAGE_BUCKET_NAME=$BUCKET" "AWS_S3_ENDPOINT_URL=$(url)" \
            "AWS_S3_REGION_NAME=us-east-1" "AWS_S3_ADDRESSING_STYLE=path" \
            "AWS_ACCESS_KEY_ID=testing" "AWS_SECRET_ACCESS_KEY=testing"
        ;;
    stop) cmd_stop ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
