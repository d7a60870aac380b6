#!/usr/bin/env bash
# Installs a locked test copy, scripts/<name>/ (package.json + package-lock.json), into a cache folder
# with the given Node: Homebridge 2.x for the 2.x leg (it wants Node 22, so as a devDependency it made
# every install on Node 20 warn) and Config UI X for the settings-UI tests (5.10.0 on this Node, 5.28.0
# on Node 22). Does nothing when the folder already holds this lock. Prints the folder.
#   scripts/test-copy.sh homebridge2 [folder] [node]   (default folder: ~/.cache/hbsc-<name>;
#   scripts/test-copy.sh config-ui-x [folder] [node]    default node: the node on PATH)
#   scripts/test-copy.sh config-ui-x-22 [folder] <node 22>
set -euo pipefail
name="${1:?usage: scripts/test-copy.sh <name> [folder] [node]}"
manifest="$(cd "$(dirname "$0")/$name" && pwd)"
dir="${2:-${HOME}/.cache/hbsc-$name}"
node="${3:-$(command -v node)}"
stamp="$dir/.hbsc-lock.sha256"
want="$(sha256sum "$manifest/package-lock.json" | cut -d' ' -f1)"

installed() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dir/node_modules" ]; }

if installed; then
  echo "$dir"
  exit 0
fi
if [ ! -x "$node" ]; then
  echo "test-copy.sh: no Node at $node to install $name with" >&2
  exit 1
fi

# One install at a time, whoever asks (.ci/run, or test files started side by side).
mkdir -p "$dir"
exec 9>"$dir/.install.lock"
flock 9
if ! installed; then
  echo "::: installing $name ($manifest) with Node $("$node" --version) into $dir" >&2
  rm -f "$stamp"
  cp "$manifest/package.json" "$manifest/package-lock.json" "$dir/"
  # npm checks engines against the Node it runs on, so it must be the one the copy runs with.
  PATH="$(dirname "$node"):$PATH" npm ci --prefix "$dir" --no-audit --no-fund --loglevel=warn >&2
  echo "$want" >"$stamp"
fi
echo "$dir"
