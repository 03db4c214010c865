#!/usr/bin/env bash
# Runs an N-validator testnet with every node in its own network namespace (netns.sh), as root.
#
#   testnet/netns/run.sh [N] [DIR]     default N=4, DIR=.testnet-netns (reused when it exists)
#
# Prints each node's API address (reachable from this host through the bridge). Ctrl-C stops the
# nodes and removes the namespaces. Apply faults from another shell: netns.sh cut|split|heal,
# or run scenario.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
n="${1:-4}"
dir="${2:-$root/.testnet-netns}"
cli="$root/packages/cli/dist/src/bin.js"
[ -f "$cli" ] || { echo "build first: npm run build" >&2; exit 1; }

"$here/netns.sh" check
"$here/netns.sh" up "$n"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$here/netns.sh" down
}
trap cleanup EXIT INT TERM

if [ ! -f "$dir/testnet.json" ]; then
  node "$cli" testnet init --validators "$n" --dir "$dir" --hosts "$("$here/netns.sh" hosts "$n")" >/dev/null
fi
for i in $(seq 0 $((n - 1))); do
  "$here/netns.sh" exec "$i" env MALLOC_ARENA_MAX=2 node "$cli" start --home "$dir/node$i" > "$dir/node$i.out" 2>&1 &
  pids+=("$!")
done
node -e '
  const m = require(process.argv[1]);
  for (const x of m.nodes) console.log(`${x.name}  API ${x.api}  (namespace '"${MEDLEDGER_NETNS_PREFIX:-ml}"'-n${x.name.slice(4)})`);
' "$dir/testnet.json"
echo "Ctrl-C stops the nodes and removes the namespaces"
wait
