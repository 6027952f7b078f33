#!/usr/bin/env bash
# Native set files (issue 5): `rampart check` and `rampart compile` of a
# policy whose set is a file of N lines minus a file of N/10 lines
# (`union` + `except`), against FireHOL's `iprange A --except B` on the same
# files, in the same run. The set rampart compiles must hold exactly the
# addresses iprange computes (compared as prefixes, through iprange).
#
#   bash bench/sets.sh [N...]          (default: 1000000)
#
# Files: bench/cidr_gen.py (fixed seed). Times are wall-clock seconds of the
# whole command; memory is the maximum resident set size (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v iprange >/dev/null || need+=(iprange)
command -v bc >/dev/null || need+=(bc)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000)
OUT=bench/out; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart
BIN=$PWD/target/release/rampart

# "SECONDS KB" of a command; its stdout goes to $1.
measure() {
    local dst=$1; shift
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >"$dst" 2>"$dst.stderr"
    cat "$OUT/time.txt"
}

printf "%-9s %-16s %9s %10s %11s %8s  %s\n" lines what elements seconds "max RSS" "time/iprange" result
status=0
for N in "${SIZES[@]}"; do
    A="$OUT/cidr-$N-a.txt"; B="$OUT/cidr-$N-b.txt"
    [ -s "$A" ] && [ -s "$B" ] || python3 bench/cidr_gen.py "$N" "$A" "$B"
    P="$OUT/sets-$N.toml"
    cat >"$P" <<TOML
[sets.a]
file = "cidr-$N-a.txt"

[sets.b]
file = "cidr-$N-b.txt"

[sets.r]
union = ["a"]
except = ["b"]

[[deny]]
from = "@r"
TOML
    read -r t_i m_i < <(measure "$OUT/sets-$N.iprange" iprange --optimize "$A" --except "$B")
    read -r t_c m_c < <(measure "$OUT/sets-$N.check" "$BIN" check "$P")
    read -r t_n m_n < <(measure "$OUT/sets-$N.nft" "$BIN" compile "$P")
    # The elements of set r, as iprange input (one per line).
    awk '/^\tset r \{/{on=1} on&&/elements = \{/{sub(/.*elements = \{/,"")} on{print} on&&/\}/{exit}' \
        "$OUT/sets-$N.nft" | tr ',' '\n' | sed 's/[{} \t]//g; /^$/d; /^flags/d; /^type/d; /^auto-merge/d; /^setr/d' \
        >"$OUT/sets-$N.elements"
    n=$(wc -l <"$OUT/sets-$N.elements")
    if cmp -s <(iprange --optimize "$OUT/sets-$N.elements") "$OUT/sets-$N.iprange"; then
        res="same addresses as iprange"
    else
        res="DIFFERENT (compare $OUT/sets-$N.elements with $OUT/sets-$N.iprange)"; status=1
    fi
    printf "%-9s %-16s %9s %10.2f %8d KB %7.1fx  %s\n" "$N" "rampart check" "$n" "$t_c" "$m_c" "$(echo "$t_c / $t_i" | bc -l)" "$res"
    printf "%-9s %-16s %9s %10.2f %8d KB %7.1fx\n" "$N" "rampart compile" "$n" "$t_n" "$m_n" "$(echo "$t_n / $t_i" | bc -l)"
    printf "%-9s %-16s %9s %10.2f %8d KB %7s\n" "$N" "iprange" "$(wc -l <"$OUT/sets-$N.iprange")" "$t_i" "$m_i" "1.0x"
done
exit $status
