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
#
# Goal of issue 4: >= 10,000,000 packets/s per core for classification.
# The machine may be shared: say so when quoting a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
RULES=${1:-10000}; SET=${2:-1000000}; SECS=${3:-3}
cargo build --release --locked -q -p rampart-eval --example bench
echo "# $(date -u +%FT%TZ) $(nproc) CPU(s), load: $(cut -d' ' -f1-3 /proc/loadavg)"
./target/release/examples/bench "$RULES" "$SET" "$SECS"
