#!/usr/bin/env bash
# Parse benchmark: rampart vs iptables-restore --test on the same input, in
# the same run. Inputs: a generated 100k-rule iptables-save file and the
# equivalent 100k-line iptables script (bench/gen.py).
#
#   bash bench/parse.sh [RULES]        (default 100000)
#
# iptables-restore runs inside a throwaway network namespace (it talks to
# the kernel even with --test); the host's ruleset is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc iptables iproute2 >/dev/null; }
N=${1:-100000}
OUT=bench/out; mkdir -p "$OUT"
python3 bench/gen.py "$N" "$OUT/rules.save" "$OUT/rules.sh"
cargo build --release --locked -q -p rampart
BIN=./target/release/rampart

# best of 3 wall-clock seconds
best() { local b=""; for _ in 1 2 3; do local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); local t; t=$(echo "$e - $s" | bc -l); if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi; done; echo "$b"; }

lines_save=$(wc -l < "$OUT/rules.save"); lines_sh=$(wc -l < "$OUT/rules.sh")
# Sanity: rampart must read both cleanly.
$BIN check "$OUT/rules.save" >/dev/null
$BIN check "$OUT/rules.sh" >/dev/null

t_rs=$(best $BIN check --from iptables-save "$OUT/rules.save")
t_rsh=$(best $BIN check --from iptables-script "$OUT/rules.sh")

NS=rampart-bench-$$
ip netns add "$NS"
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
t_ipt=$(best ip netns exec "$NS" iptables-restore --test "$OUT/rules.save")
ip netns exec "$NS" iptables-restore --test "$OUT/rules.save" >/dev/null  # must accept it too

# The peer of a script is running it: one iptables process per line. Run
# the first 2,000 lines of the same script for real, in the namespace.
head -2003 "$OUT/rules.sh" > "$OUT/rules-2000.sh"
ip netns exec "$NS" iptables -F; ip netns exec "$NS" iptables -X
s=$(date +%s.%N); ip netns exec "$NS" sh "$OUT/rules-2000.sh" >/dev/null 2>&1 || true; e=$(date +%s.%N)
t_sh=$(echo "$e - $s" | bc -l)

rate() { echo "scale=0; $1 / $2" | bc -l; }
printf "%-44s %10s %12s\n" "what" "seconds" "lines/s"
printf "%-44s %10.3f %12s\n" "rampart check (iptables-save, $lines_save lines)" "$t_rs" "$(rate "$lines_save" "$t_rs")"
printf "%-44s %10.3f %12s\n" "rampart check (script, $lines_sh lines)" "$t_rsh" "$(rate "$lines_sh" "$t_rsh")"
printf "%-44s %10.3f %12s\n" "iptables-restore --test (same save file)" "$t_ipt" "$(rate "$lines_save" "$t_ipt")"
printf "%-44s %10.3f %12s\n" "sh script with iptables (first 2003 lines)" "$t_sh" "$(rate 2003 "$t_sh")"
printf "ratio iptables-restore/rampart (save file): %.1fx\n" "$(echo "$t_ipt / $t_rs" | bc -l)"
printf "ratio iptables-restore/rampart (script):    %.1fx\n" "$(echo "$t_ipt / $t_rsh" | bc -l)"
printf "ratio lines/s rampart script / running it:  %.0fx\n" "$(echo "($lines_sh / $t_rsh) / (2003 / $t_sh)" | bc -l)"
