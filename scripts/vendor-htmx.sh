#!/usr/bin/env bash
# Vendor htmx from the npm registry (no CDN at run time): scripts/vendor-htmx.sh [VERSION_SPEC]
# Default spec: 2 (newest 2.x). Writes static/vendor/htmx.min.js, static/vendor/htmx.LICENSE and
# static/vendor/README.md. Needs npm.
set -euo pipefail
spec=${1:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v npm >/dev/null 2>&1 || { echo "vendor-htmx: npm not found (apt-get install npm)" >&2; exit 1; }
(cd "$tmp" && npm pack --silent "htmx.org@$spec" >/dev/null && tar xzf htmx.org-*.tgz)
read -r version license < <(cd "$tmp/package" && node -e 'const p=require("./package.json");console.log(p.version, p.license)')
mkdir -p "$dest"
cp "$tmp/package/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$tmp/package/LICENSE" "$dest/htmx.LICENSE"
sha=$(sha256sum "$dest/htmx.min.js" | cut -d' ' -f1)
cat > "$dest/README.md" <<MD
# Vendored front-end files

Served by Django's staticfiles from \`static/vendor/\`; nothing is loaded from a CDN.

| file | package | version | licence | sha256 |
| --- | --- | --- | --- | --- |
| \`htmx.min.js\` | [htmx.org](https://htmx.org/) (npm \`htmx.org\`, \`dist/htmx.min.js\`) | $version | $license (see \`htmx.LICENSE\`) | \`$sha\` |

To update: \`scripts/vendor-htmx.sh 2\` (takes the newest 2.x from the npm registry with \`npm pack\`),
check the diff, run \`make test\`, commit.
MD
echo "vendor-htmx: htmx.org $version ($license) -> static/vendor/htmx.min.js" >&2
