#!/usr/bin/env bash
# The JavaScript tests (broker jest, demo IdP/API, lab extension unit and type tests) on the other Node
# versions the broker supports, besides the machine's own: Node 22 and 24 LTS. Their binaries come from the npm
# registry's node-linux-<arch> packages (no install script, no download from nodejs.org), kept in .cache/node/.
# `--fetch` only fetches them (make bench measures the broker's memory on each).
set -euo pipefail
fetch_only=false
[[ "${1:-}" == "--fetch" ]] && fetch_only=true
cd "$(dirname "$0")/.."

# Pinned, so that a run is repeatable; raise them on purpose.
VERSIONS=(22.23.3 24.21.0)

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-versions: no node-linux package for $(uname -m); skipped" >&2; exit 0 ;;
esac

for version in "${VERSIONS[@]}"; do
  dir=".cache/node/$version"
  if [[ ! -x "$dir/package/bin/node" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "node-linux-$arch@$version")
    tar -xzf "$dir/$tarball" -C "$dir"
    rm "$dir/$tarball"
  fi
  bin="$PWD/$dir/package/bin"
  $fetch_only && continue
  echo "=== Node $("$bin/node" --version)"
  PATH="$bin:$PATH" npm test -w @jupyter-token-broker/broker
  PATH="$bin:$PATH" npm test -w @jupyter-token-broker/demo
  PATH="$bin:$PATH" npm test -w jupyter-token-broker
done
