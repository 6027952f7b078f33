#!/usr/bin/env bash
# Issue 6: latency of `rampart guard run` from a log line written to the
# address present in the kernel's ban set (table inet rampart-guard, set
# ban4), p50/p99 at rest and under a flood of 50,000 other sshd lines per
# second (goal: p99 <= 10 ms). The daemon runs in a throwaway network
# namespace with one jail (built-in sshd filter, maxretry = 1) over a log
# file; crates/daemon/examples/guard_latency.rs writes each failure line
# and polls the kernel with one GETSETELEM get until the address is in
# the set.
#
#   sudo bash bench/guard_latency.sh [SAMPLES] [FLOOD_RATE]   (default 300, 50000)
#
# No peer is run side by side: fail2ban's own path (polling or pyinotify
# backend, then an nftables action per ban through the nft binary) is not
# set up here yet.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${1:-300}
RATE=${2:-50000}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespace)" >&2; exit 2; }
cargo build --release -q -p rampart --bin rampart
cargo build --release -q -p rampart-daemon --example guard_latency
BIN=target/release/rampart
LAT=target/release/examples/guard_latency
NS=rampart-lat-$$
DIR=$(mktemp -d)
cleanup() {
  [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
: > "$DIR/auth.log"
cat > "$DIR/guard.toml" <<TOML
ignoreself = false
[prefix]
enabled = false
[jail.sshd]
filter = "sshd"
logpath = ["$DIR/auth.log"]
maxretry = 1
bantime = "1h"
TOML
ip netns exec "$NS" "$BIN" guard run --config "$DIR/guard.toml" --db "$DIR/guard.db" \
  --socket "$DIR/guard.sock" 2>"$DIR/daemon.log" &
DPID=$!
for _ in $(seq 200); do [ -S "$DIR/guard.sock" ] && break; sleep 0.05; done
[ -S "$DIR/guard.sock" ] || { cat "$DIR/daemon.log"; exit 2; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'at rest:        '; ip netns exec "$NS" "$LAT" "$DIR/auth.log" "$SAMPLES" 0 10
printf 'under a flood:  '; ip netns exec "$NS" "$LAT" "$DIR/auth.log" "$SAMPLES" "$RATE" 11
echo "daemon: $(grep -c ' ban ' "$DIR/daemon.log") bans logged, $(wc -l < "$DIR/auth.log") lines in the log"
