#!/usr/bin/env bash
# Rebuilds the dashboard from web/src into a temporary folder and fails when the result differs
# from the committed web/dist (the build the binary embeds), so what ships is what the sources say.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx vite build --outDir "$tmp/dist" --emptyOutDir --logLevel warn
if ! diff -r dist "$tmp/dist"; then
    echo "web/dist differs from a build of web/src: run 'npm run build' in web/ and commit web/dist" >&2
    exit 1
fi
echo "web/dist matches a fresh build of web/src"
