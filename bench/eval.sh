#!/usr/bin/env bash
# Evaluator benchmark (issue 4): packets per second of the compiled
# classifier against the reference interpreter, same policy, same packets,
# same run, with the ratio. The policy (crates/eval/examples/bench.rs, fixed
# seed) has RULES rules in filter INPUT (per-address service allows,
# per-network drops, per-destination services, per-interface UDP services)
# and a blocklist hash:net set of SET entries (90% /32, 10% /24) matched
# before them; packets are random TCP/UDP from public addresses. Both
# engines are first checked to give the same verdicts and deciding rules
# on a sample. The reference scans every rule and every set element, so it
# runs for SECS seconds on as many packets as it gets through. The
# classifier is measured packet by packet (`decide`) and in batches
# (`decide_batch`, which overlaps the large set's cache misses), each for
# SECS seconds in rounds of 1,000 packets cycling through 100,000 (so the
# set lookups miss the CPU's L2 cache as real traffic would): packets per
# wall second, per CPU-second of the thread, and the least disturbed round
# (the best wall time of a round: the figure least distorted by other
# work on a shared machine). It also prints which share of the packets
# took the compiled fast path. BENCH_CLASSIFIER_ONLY=1 skips the
# reference.
#
#   bash bench/eval.sh [RULES] [SET] [SECS]     (default: 10000 1000000 3)
#   bash bench/eval.sh --instructions [RULES] [SET]
#
# --instructions counts instructions per packet instead (valgrind's
# callgrind, Debian package `valgrind`; about a minute): a figure that does
# not depend on the machine's load, for comparing versions of the
# classifier on a shared machine (it does not count cache misses: the
# large set's miss per packet shows only in packets per second). It
# prints the instructions per packet of `Reference::decide`,
# `Classifier::decide` and `Classifier::decide_batch` (each inclusive of
# everything it calls, divided by the packets the bench gave it) and the
# reference/classifier ratio.
#
# Goal of issue 4: >= 10,000,000 packets/s per core for classification.
# The machine may be shared: say so when quoting a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTR=0
if [ "${1:-}" = --instructions ]; then INSTR=1; shift; fi
RULES=${1:-10000}; SET=${2:-1000000}; SECS=${3:-3}
cargo build --release --locked -q -p rampart-eval --example bench
if [ "$INSTR" = 1 ]; then
  command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  BENCH_CLASSIFIER_ONLY=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    ./target/release/examples/bench "$RULES" "$SET" 1 >"$tmp/out.txt" 2>"$tmp/valgrind.txt"
  callgrind_annotate --inclusive=yes "$tmp/cg.out" >"$tmp/inc.txt" 2>/dev/null
  calls=$(grep '^calls:' "$tmp/out.txt")
  echo "# $(date -u +%FT%TZ) instructions per packet (callgrind), $RULES rules, set of $SET"
  ir() { grep -m1 "$1 \[" "$tmp/inc.txt" | awk '{gsub(",","",$1); print $1}'; }
  n() { sed -E "s/.*$1 ([0-9]+) packets.*/\1/" <<<"$calls"; }
  r=$(( $(ir 'Reference::decide') / $(n 'Reference::decide') ))
  d=$(( $(ir 'Classifier::decide') / $(n 'Classifier::decide') ))
  b=$(( $(ir 'Classifier::decide_batch') / $(n 'Classifier::decide_batch') ))
  echo "reference interpreter: $r instructions/packet"
  echo "compiled classifier:   $d instructions/packet one by one, $b in batches (decide_batch)"
  echo "ratio reference/classifier (instructions): $(( r / d ))x one by one, $(( r / b ))x batched"
  exit 0
fi
echo "# $(date -u +%FT%TZ) $(nproc) CPU(s), load: $(cut -d' ' -f1-3 /proc/loadavg)"
./target/release/examples/bench "$RULES" "$SET" "$SECS"
