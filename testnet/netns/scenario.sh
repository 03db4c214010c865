#!/usr/bin/env bash
# The fault scenarios, against a 4-node testnet started by run.sh (same PREFIX/SUBNET), as root:
# cut node 3 off, heal; split 0 1 | 2 3, heal. Prints the heights the nodes report after each
# step. The e2e test test/e2e/netns.test.ts runs the same steps and checks them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$(cd "$here/../.." && pwd)/.testnet-netns}"
apis=$(node -e 'for (const x of require(process.argv[1]).nodes) console.log(x.api)' "$dir/testnet.json")

heights() {
  local line=""
  for a in $apis; do
    h=$(node -e 'fetch(process.argv[1] + "/status", { signal: AbortSignal.timeout(1000) }).then((r) => r.json()).then((s) => console.log(s.height), () => console.log("-"))' "$a")
    line="$line $h"
  done
  echo "  heights:$line"
}
step() { echo "$1"; sleep "${2:-5}"; heights; }

heights
"$here/netns.sh" cut 3;             step "cut node3 off (3 of 4 keep committing)"
"$here/netns.sh" heal;              step "heal (node3 catches up)" 8
"$here/netns.sh" split "0 1" "2 3"; step "split 0 1 | 2 3 (no side has a quorum: no commits)"
"$here/netns.sh" heal;              step "heal (commits resume)" 10
