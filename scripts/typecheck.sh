#!/usr/bin/env bash
# mypy (django-stubs, DRF stubs) against the committed baseline mypy-baseline.txt.
#   scripts/typecheck.sh         fail on any type error that is not in the baseline
#   scripts/typecheck.sh sync    rewrite the baseline (after fixing errors: it should only shrink)
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
out=$(mktemp -t warrantdesk-mypy.XXXXXX)
trap 'rm -f "$out"' EXIT
"$VENV/bin/mypy" --no-incremental --hide-error-context --no-error-summary --show-error-codes --no-pretty >"$out" 2>&1
status=$?
if [ "$status" -gt 1 ]; then  # 0 clean, 1 type errors; anything else is mypy itself failing
    echo "typecheck: mypy failed (exit $status):" >&2
    tail -n 40 "$out" >&2
    exit "$status"
fi
if [ "${1:-}" = sync ]; then
    "$VENV/bin/mypy-baseline" sync --baseline-path mypy-baseline.txt --sort-baseline <"$out"
    echo "typecheck: mypy-baseline.txt now holds $(wc -l <mypy-baseline.txt) known errors"
else
    "$VENV/bin/mypy-baseline" filter --baseline-path mypy-baseline.txt --allow-unsynced --sort-baseline \
        --no-colors --hide-stats <"$out"
fi
