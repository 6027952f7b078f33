#!/usr/bin/env bash
# CIDR benchmark: `rampart cidr aggregate|subtract` vs FireHOL's `iprange`
# (Debian package) on the same generated files, in the same run; the
# outputs must be identical.
#
#   bash bench/cidr.sh [N...]          (default: 1000000 10000000)
#   RUNS=3 bash bench/cidr.sh 1000000  (best of RUNS; default 1)
#
# A has N lines (hosts, networks, ranges; bench/cidr_gen.py, fixed seed),
# B has N/10 lines. Times are wall-clock seconds of the whole command,
# reading the file and writing the result to a file.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v iprange >/dev/null || need+=(iprange)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 10000000)
RUNS=${RUNS:-1}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart
BIN=./target/release/rampart

# best of RUNS wall-clock seconds; stdout of the last run goes to $1
best() {
    local dst=$1; shift
    local b=""
    for _ in $(seq "$RUNS"); do
        local s e t
        s=$(date +%s.%N); "$@" >"$dst"; e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi
    done
    echo "$b"
}

# Same result? Byte for byte, else after normalising (/32 suffix, order).
same() {
    if cmp -s "$1" "$2"; then echo "identical"; return; fi
    if cmp -s <(sed 's|/32$||' "$1" | sort) <(sed 's|/32$||' "$2" | sort); then
        echo "identical after normalising"; return
    fi
    echo "DIFFERENT: diff $1 $2" >&2
    echo "DIFFERENT"
    return 1
}

printf "%-10s %-10s %8s %10s %10s %9s  %s\n" lines op prefixes rampart iprange ratio result
status=0
for N in "${SIZES[@]}"; do
    A="$OUT/cidr-$N-a.txt"; B="$OUT/cidr-$N-b.txt"
    [ -s "$A" ] && [ -s "$B" ] || python3 bench/cidr_gen.py "$N" "$A" "$B"

    t_r=$(best "$OUT/cidr-$N-agg.rampart" $BIN cidr aggregate "$A")
    t_i=$(best "$OUT/cidr-$N-agg.iprange" iprange --optimize "$A")
    res=$(same "$OUT/cidr-$N-agg.rampart" "$OUT/cidr-$N-agg.iprange") || status=1
    printf "%-10s %-10s %8s %10.3f %10.3f %8.1fx  %s\n" "$N" aggregate \
        "$(wc -l < "$OUT/cidr-$N-agg.rampart")" "$t_r" "$t_i" "$(echo "$t_i / $t_r" | bc -l)" "$res"

    t_r=$(best "$OUT/cidr-$N-sub.rampart" $BIN cidr subtract "$A" "$B")
    t_i=$(best "$OUT/cidr-$N-sub.iprange" iprange "$A" --except "$B")
    res=$(same "$OUT/cidr-$N-sub.rampart" "$OUT/cidr-$N-sub.iprange") || status=1
    printf "%-10s %-10s %8s %10.3f %10.3f %8.1fx  %s\n" "$N" subtract \
        "$(wc -l < "$OUT/cidr-$N-sub.rampart")" "$t_r" "$t_i" "$(echo "$t_i / $t_r" | bc -l)" "$res"
done
echo "ratio = iprange seconds / rampart seconds (above 1: rampart is faster)"
exit $status
