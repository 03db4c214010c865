#!/usr/bin/env bash
# Each node of a testnet in its own Linux network namespace, joined by veth pairs to one bridge,
# and the faults the e2e tests and developers apply to them. Needs root and `ip` (iproute2).
#
#   netns.sh check                 exit 0 if namespaces can be made here (root, ip, netns support)
#   netns.sh up N                  bridge ${PREFIX}-br (SUBNET.1/24) and namespaces ${PREFIX}-n0..N-1 (SUBNET.10+i)
#   netns.sh down                  remove every namespace, veth and the bridge made by `up`
#   netns.sh addr I                print node I's address
#   netns.sh hosts N               print the N node addresses, comma-separated (for `testnet init --hosts`)
#   netns.sh exec I CMD...         run CMD inside node I's namespace
#   netns.sh cut I                 cut node I off: its link goes down (nobody, not even this host, reaches it)
#   netns.sh split "0 1" "2 3"     partition: every node of one side gets unreachable routes to the other side
#   netns.sh heal                  undo cut and split: links up, partition routes removed
#
# PREFIX (default ml) and SUBNET (default 10.77.0) come from MEDLEDGER_NETNS_PREFIX and
# MEDLEDGER_NETNS_SUBNET, so two runs on one machine can use different names and addresses.
set -euo pipefail

PREFIX="${MEDLEDGER_NETNS_PREFIX:-ml}"
SUBNET="${MEDLEDGER_NETNS_SUBNET:-10.77.0}"
BRIDGE="${PREFIX}-br"

ns() { echo "${PREFIX}-n$1"; }
hostveth() { echo "${PREFIX}-v$1"; }
addr() { echo "${SUBNET}.$((10 + $1))"; }
nodes() { ip netns list | awk '{print $1}' | sed -n "s/^${PREFIX}-n\([0-9]\+\)$/\1/p" | sort -n; }
die() { echo "netns.sh: $*" >&2; exit 1; }

need() {
  [ "$(id -u)" = 0 ] || die "needs root"
  command -v ip >/dev/null || die "needs ip (apt-get install iproute2)"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  check)
    need
    probe="${PREFIX}-probe$$"
    ip netns add "$probe" 2>/dev/null || die "cannot create network namespaces here"
    ip netns delete "$probe"
    ;;
  up)
    need
    n="${1:?usage: netns.sh up N}"
    [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "N must be 1..200"
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
      ip link add "$BRIDGE" type bridge
      ip addr add "${SUBNET}.1/24" dev "$BRIDGE"
      ip link set "$BRIDGE" up
    fi
    for i in $(seq 0 $((n - 1))); do
      ip netns list | grep -qx "$(ns "$i")\( .*\)\?" && continue
      ip netns add "$(ns "$i")"
      ip link add "$(hostveth "$i")" type veth peer name eth0 netns "$(ns "$i")"
      ip link set "$(hostveth "$i")" master "$BRIDGE" up
      ip -n "$(ns "$i")" addr add "$(addr "$i")/24" dev eth0
      ip -n "$(ns "$i")" link set eth0 up
      ip -n "$(ns "$i")" link set lo up
    done
    ;;
  down)
    need
    for i in $(nodes); do
      ip link delete "$(hostveth "$i")" 2>/dev/null || true
      ip netns delete "$(ns "$i")" 2>/dev/null || true
    done
    ip link delete "$BRIDGE" 2>/dev/null || true
    ;;
  addr)
    addr "${1:?usage: netns.sh addr I}"
    ;;
  hosts)
    n="${1:?usage: netns.sh hosts N}"
    out=""
    for i in $(seq 0 $((n - 1))); do out="${out:+$out,}$(addr "$i")"; done
    echo "$out"
    ;;
  exec)
    need
    i="${1:?usage: netns.sh exec I CMD...}"
    shift
    exec ip netns exec "$(ns "$i")" "$@"
    ;;
  cut)
    need
    i="${1:?usage: netns.sh cut I}"
    ip link set "$(hostveth "$i")" down
    ;;
  split)
    need
    [ $# -eq 2 ] || die 'usage: netns.sh split "A B" "C D"'
    for a in $1; do
      for b in $2; do
        # `unreachable` (not blackhole): local senders get EHOSTUNREACH at once, so open
        # connections across the cut fail fast instead of retransmitting into the void.
        ip -n "$(ns "$a")" route replace unreachable "$(addr "$b")/32"
        ip -n "$(ns "$b")" route replace unreachable "$(addr "$a")/32"
      done
    done
    ;;
  heal)
    need
    for i in $(nodes); do
      ip link set "$(hostveth "$i")" up
      for r in $(ip -n "$(ns "$i")" route show type unreachable | awk '{print $2}'); do
        ip -n "$(ns "$i")" route delete unreachable "$r"
      done
    done
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || exit 2
    ;;
esac
