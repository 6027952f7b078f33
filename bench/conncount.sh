#!/usr/bin/env bash
# Issue 6: connections counted per source over N conntrack entries
# (default 1,000,000): rampart's parser and counter
# (crates/guard/examples/conncount.rs) against the shell pipeline DDoS
# Deflate-style scripts use on the same file,
#
#   awk '{ first src= field }' FILE | LC_ALL=C sort | uniq -c
#
# The outputs must agree (same count per address). The file is generated
# `conntrack -L` text (bench/conncount_gen.py, fixed seed): the time to
# dump 1M entries from the kernel is not in this comparison (both sides
# would pay it). As a check of the parser on real output, the script also
# creates REAL entries (default 2,000) with `conntrack -I` in a throwaway
# network namespace and compares rampart's per-source counts of
# `conntrack -L` and /proc/net/nf_conntrack with the pipeline's.
#
# Then the same comparison on a REAL table of N entries read from the
# kernel: entries are created over ctnetlink (IPCTNL_MSG_CT_NEW batches,
# crates/daemon/examples/ctcount.rs) in throwaway namespaces, and per
# namespace the two sides run on the same table in the same run:
#
#   rampart:  ctcount count  (netlink dump of both families + count per source)
#   peer:     conntrack -L | awk '{ first src= }' | sort | uniq -c
#
# nf_conntrack_max is global (262144 here) and read-only inside a
# namespace; the host's sysctls are never changed, so the N entries are
# spread over ceil(N / PER_NS) namespaces (PER_NS default 250,000, below
# the limit) and the times summed. `ctcount table` also times the
# daemon's own path (dump into its live table, then ConnCounts).
#
#   bash bench/conncount.sh [N]      (root for the namespace parts)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
REAL=${REAL:-2000}
# Entries made with conntrack -I live an hour: on a loaded machine the
# insertion loop can outlast a short timeout, and expiring entries would
# make the two reads of the table differ.
need=()
command -v conntrack >/dev/null || need+=(conntrack)
command -v bc >/dev/null || need+=(bc)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
OUT=bench/out/conncount; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart-guard --example conncount
BIN=./target/release/examples/conncount
FILE="$OUT/conntrack-$N.txt"
[ -s "$FILE" ] || python3 bench/conncount_gen.py "$N" "$FILE"

pipeline() {
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^src=/) { print substr($i, 5); break } }' "$1" \
        | LC_ALL=C sort | uniq -c
}
normal() { awk '{ print $2, $1 }' "$1" | LC_ALL=C sort; }
now() { date +%s.%N; }

# Wall-clock and CPU (user + system, children included) seconds: on a
# shared machine the CPU time is the steadier figure.
export -f pipeline
/usr/bin/time -f "%e %U %S" -o "$OUT/rampart.time" "$BIN" "$FILE" > "$OUT/rampart.txt" 2> "$OUT/rampart.err"
/usr/bin/time -f "%e %U %S" -o "$OUT/pipeline.time" bash -c 'pipeline "$1"' _ "$FILE" > "$OUT/pipeline.txt"
read -r t_r u_r s_r < "$OUT/rampart.time"; c_r=$(echo "$u_r + $s_r" | bc -l)
read -r t_p u_p s_p < "$OUT/pipeline.time"; c_p=$(echo "$u_p + $s_p" | bc -l)
# The pipeline also counts garbage lines' first src= (none have one) and
# sorts IPv6 text the same way; compare as (address, count) sets.
if cmp -s <(normal "$OUT/rampart.txt") <(normal "$OUT/pipeline.txt"); then res=identical; else res=DIFFERENT; fi
echo "lines $(wc -l < "$FILE"): $(cat "$OUT/rampart.err")"
"$BIN" "$FILE" --all 2>&1 >/dev/null | sed 's/^/  (--all) /' 
printf "%-34s %8s %8s\n" "" "wall s" "cpu s"
printf "%-34s %8.2f %8.2f\n" "rampart conncount (whole process)" "$t_r" "$c_r"
printf "%-34s %8.2f %8.2f\n" "awk | sort | uniq -c" "$t_p" "$c_p"
printf "ratio (pipeline / rampart): wall %.1fx, cpu %.1fx; counts %s\n" \
    "$(echo "$t_p / $t_r" | bc -l)" "$(echo "$c_p / $c_r" | bc -l)" "$res"
[ "$res" = identical ] || exit 1

if [ "$(id -u)" -ne 0 ]; then echo "real conntrack entries: skipped (needs root)"; exit 0; fi
ns="rampart-bench-ct-$$"
ip netns add "$ns"
NSS=("$ns")
trap 'for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done' EXIT
s=$(now)
for i in $(seq 0 $((REAL - 1))); do
    src="198.51.$((i % 7)).$((i % 200 + 1))"
    case $((i % 3)) in
        0) ip netns exec "$ns" conntrack -I -p tcp -s "$src" -d 10.0.0.1 --sport $((10000 + i)) --dport 443 \
               --state SYN_RECV -t 3600 -u SEEN_REPLY >/dev/null 2>&1 ;;
        1) ip netns exec "$ns" conntrack -I -p tcp -s "$src" -d 10.0.0.1 --sport $((10000 + i)) --dport 22 \
               --state ESTABLISHED -t 3600 >/dev/null 2>&1 ;;
        2) ip netns exec "$ns" conntrack -I -p udp -s "$src" -d 10.0.0.1 --sport $((10000 + i)) --dport 53 \
               -t 3600 >/dev/null 2>&1 ;;
    esac
done
e=$(now)
ip netns exec "$ns" conntrack -L > "$OUT/real-L.txt" 2>/dev/null
have_proc=0
if ip netns exec "$ns" test -r /proc/net/nf_conntrack; then
    ip netns exec "$ns" cat /proc/net/nf_conntrack > "$OUT/real-proc.txt"; have_proc=1
fi
printf "real entries: %s inserted with conntrack -I in %.1f s\n" "$(wc -l < "$OUT/real-L.txt")" "$(echo "$e - $s" | bc -l)"
"$BIN" "$OUT/real-L.txt" > "$OUT/real-rampart.txt" 2>/dev/null
pipeline "$OUT/real-L.txt" > "$OUT/real-pipeline.txt"
if cmp -s <(normal "$OUT/real-rampart.txt") <(normal "$OUT/real-pipeline.txt"); then echo "conntrack -L: counts identical"; else echo "conntrack -L: DIFFERENT"; exit 1; fi
if [ $have_proc -eq 1 ]; then
    "$BIN" "$OUT/real-proc.txt" > "$OUT/real-proc-rampart.txt" 2>/dev/null
    if cmp -s <(normal "$OUT/real-proc-rampart.txt") <(normal "$OUT/real-pipeline.txt"); then
        echo "/proc/net/nf_conntrack: counts identical"
    else
        echo "/proc/net/nf_conntrack: DIFFERENT"; exit 1
    fi
fi

# ---- A real table of N entries, read over netlink vs conntrack -L ----
PER_NS=${PER_NS:-250000}
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
[ "$PER_NS" -lt "$max" ] || PER_NS=$((max - 1000))
cargo build --release --locked -q -p rampart-daemon --example ctcount
CT=./target/release/examples/ctcount
k=$(( (N + PER_NS - 1) / PER_NS ))
echo "real table: $N entries over netlink in $k namespace(s) of <= $PER_NS (nf_conntrack_max $max, global, not changed)"
: > "$OUT/nl-all.txt"; : > "$OUT/ctl-all.txt"
t_nl=0; c_nl=0; k_nl=0; t_ct=0; c_ct=0; k_ct=0; made=0
for j in $(seq 0 $((k - 1))); do
    n="rampart-bench-ctn-$$-$j"; ip netns add "$n"; NSS+=("$n")
    start=$((j * PER_NS)); cnt=$(( N - start < PER_NS ? N - start : PER_NS ))
    ip netns exec "$n" "$CT" fill "$start" "$cnt" 2>&1 | sed 's/^/  /'
    made=$((made + $(ip netns exec "$n" cat /proc/sys/net/netfilter/nf_conntrack_count)))
    /usr/bin/time -f "%e %U %S" -o "$OUT/nl.time" ip netns exec "$n" "$CT" count > "$OUT/nl-$j.txt" 2> "$OUT/nl-$j.err"
    /usr/bin/time -f "%e %U %S" -o "$OUT/ctl.time" ip netns exec "$n" bash -c \
        "conntrack -L 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if (\$i ~ /^src=/) { print substr(\$i, 5); break } }' | LC_ALL=C sort | uniq -c" \
        > "$OUT/ctl-$j.txt"
    read -r a u s < "$OUT/nl.time"; t_nl=$(echo "$t_nl + $a" | bc -l); c_nl=$(echo "$c_nl + $u + $s" | bc -l); k_nl=$(echo "$k_nl + $s" | bc -l)
    read -r a u s < "$OUT/ctl.time"; t_ct=$(echo "$t_ct + $a" | bc -l); c_ct=$(echo "$c_ct + $u + $s" | bc -l); k_ct=$(echo "$k_ct + $s" | bc -l)
    sed 's/^/  /' "$OUT/nl-$j.err"
    [ "$j" -eq 0 ] && ip netns exec "$n" "$CT" table 2>&1 >/dev/null | sed 's/^/  /'
    cat "$OUT/nl-$j.txt" >> "$OUT/nl-all.txt"; cat "$OUT/ctl-$j.txt" >> "$OUT/ctl-all.txt"
done
sumup() { awk '{ c[$2] += $1 } END { for (a in c) print a, c[a] }' "$1" | LC_ALL=C sort; }
if cmp -s <(sumup "$OUT/nl-all.txt") <(sumup "$OUT/ctl-all.txt"); then res=identical; else res=DIFFERENT; fi
echo "entries in the kernel: $made"
# cpu = user + system; the system part is mostly the kernel writing the
# dump (ctnetlink), which both sides pay.
printf "%-44s %8s %8s %8s\n" "" "wall s" "cpu s" "sys s"
printf "%-44s %8.2f %8.2f %8.2f\n" "rampart netlink dump + count (ctcount count)" "$t_nl" "$c_nl" "$k_nl"
printf "%-44s %8.2f %8.2f %8.2f\n" "conntrack -L | awk | sort | uniq -c" "$t_ct" "$c_ct" "$k_ct"
printf "ratio (conntrack pipeline / rampart): wall %.1fx, cpu %.1fx; counts %s\n" \
    "$(echo "$t_ct / $t_nl" | bc -l)" "$(echo "$c_ct / $c_nl" | bc -l)" "$res"
[ "$res" = identical ] || exit 1
