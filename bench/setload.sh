#!/usr/bin/env bash
# Set benchmark (issue 5): large sets loaded and changed by rampart, nft and
# ipset, side by side in the same run, each in its own throwaway network
# namespace (the host's ruleset is never touched). Inputs from
# bench/setload_gen.py (fixed seed): 1M IPv4 addresses (hash set) and 1M
# disjoint IPv4 networks (interval set).
#
#   * full load:   rampart apply (policy with the list as a set file),
#                  rampart set load (into the empty set of an applied policy),
#                  nft -f (rampart compile of the same policy), ipset restore
#   * one element: rampart set add / set del (end to end: the set's index
#                  in the state store, the touched elements lowered and
#                  compared, netlink, a delta entry written; the kernel's
#                  part in the note) vs nft add element / nft delete element
#                  (once, with a timeout: nft reads the whole set back first)
#                  and ipset add / del
#   * 1% change:   rampart set load of the changed list (only the difference
#                  is sent) vs full reloads: nft -f (flush set + all
#                  elements) and rampart apply into a fresh namespace
#
# One run of each (the 1M cases take seconds to minutes); wall-clock
# seconds, `ip netns exec` included everywhere. The machine may be shared:
# compare ratios within one run, not seconds across runs.
#
#   bash bench/setload.sh [N]          (default N = 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in bc nft ipset ip; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 2; }; done
N=${1:-1000000}
OUT=$PWD/bench/out/setload; mkdir -p "$OUT"
NFT_TIMEOUT=${NFT_TIMEOUT:-900}
cargo build --release --locked -q -p rampart
BIN=$PWD/target/release/rampart
export SSH_CONNECTION=""

echo "generating inputs (N=$N) in $OUT ..." >&2
python3 bench/setload_gen.py "$N" "$OUT"
ONE_NET=$(cat "$OUT/one.txt")
ONE_ADDR=${ONE_NET%/*}

policy() { # NAME TYPE FILE > policy.toml
    printf '[defaults]\ninput = "drop"\n\n[[allow]]\nservice = ["ssh"]\n\n[[deny]]\nfrom = ["@%s"]\n\n[sets.%s]\nfile = "%s"\nfamily = "ipv4"\ntype = "%s"\n' "$1" "$1" "$3" "$2"
}
policy blocklist net nets.txt > "$OUT/nets.toml"
policy blocklist net nets-1pct.txt > "$OUT/nets-1pct.toml"
policy blocklist net empty.txt > "$OUT/nets-empty.toml"
policy addrs ip addrs.txt > "$OUT/addrs.toml"
policy addrs ip empty.txt > "$OUT/addrs-empty.toml"
(cd "$OUT" && "$BIN" compile nets.toml > nets.nft && "$BIN" compile addrs.toml > addrs.nft)
# nft's full reload of the changed list: flush the set, add every element.
{ echo "flush set inet rampart blocklist"; printf 'add element inet rampart blocklist { '; paste -sd, "$OUT/nets-1pct.txt"; echo ' }'; } > "$OUT/nets-1pct-reload.nft"

NSS=()
cleanup() { for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
seqn=0
newns() { seqn=$((seqn + 1)); local ns="rampart-bench-set-$$-$seqn"; ip netns add "$ns"; NSS+=("$ns"); echo "$ns"; }
LOG=$OUT/last.log
# t NS CMD...: wall-clock seconds of CMD inside NS ("timeout" when killed,
# "failed" on another error); output in $LOG.
t() {
    local ns=$1; shift
    local s e rc=0
    s=$(date +%s.%N)
    (cd "$OUT" && ip netns exec "$ns" "$@") >"$LOG" 2>&1 || rc=$?
    e=$(date +%s.%N)
    if [ $rc = 124 ]; then echo "timeout"; elif [ $rc != 0 ]; then echo "failed"; cat "$LOG" >&2; else echo "$e - $s" | bc -l; fi
}
# seconds the kernel step took, from rampart's "set update: ..., 0.123s" line
kernel_s() { grep -o '[0-9.]*s (only the changed' "$LOG" | head -1 | cut -d's' -f1; }
ratio() { if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]]; then printf "%.1fx" "$(echo "$1 / $2" | bc -l)"; else echo "-"; fi; }
row() { # CASE WHAT SECONDS BASE [NOTE]
    local s=$3
    [[ $s =~ ^[0-9.]+$ ]] && s=$(printf "%.3f" "$s")
    printf "%-34s %-48s %10s %9s  %s\n" "$1" "$2" "$s" "$(ratio "$3" "$4")" "${5:-}"
}

declare -A R
for kind in addrs nets; do
    if [ $kind = nets ]; then name=blocklist; one=$ONE_NET; else name=addrs; one=$ONE_ADDR; fi
    echo "[$kind] rampart apply ..." >&2
    ns=$(newns); st=$OUT/state-$kind-apply; rm -rf "$st"
    R[$kind.apply]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply $kind.toml)
    ip netns del "$ns"; rm -rf "$st"

    echo "[$kind] rampart set load / add / del ..." >&2
    ns=$(newns); st=$OUT/state-$kind-load; rm -rf "$st"
    (cd "$OUT" && ip netns exec "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply $kind-empty.toml 2>/dev/null)
    R[$kind.load]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set load $name $kind.txt); R[$kind.load.k]=$(kernel_s)
    R[$kind.add]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set add $name "$one"); R[$kind.add.k]=$(kernel_s)
    R[$kind.del]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set del $name "$one"); R[$kind.del.k]=$(kernel_s)
    if [ $kind = nets ]; then
        echo "[$kind] rampart set load of the 1% change ..." >&2
        R[$kind.pct]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set load $name nets-1pct.txt); R[$kind.pct.k]=$(kernel_s)
        R[$kind.pct.what]=$(grep -o 'blocklist (+[0-9]* -[0-9]*)' "$LOG" | head -1)
    fi
    ip netns del "$ns"; rm -rf "$st"

    echo "[$kind] nft -f, nft add/delete element ..." >&2
    ns=$(newns)
    R[$kind.nft]=$(t "$ns" nft -f $kind.nft)
    R[$kind.nftadd]=$(t "$ns" timeout "$NFT_TIMEOUT" nft add element inet rampart $name "{ $one }")
    R[$kind.nftdel]=$(t "$ns" timeout "$NFT_TIMEOUT" nft delete element inet rampart $name "{ $one }")
    if [ $kind = nets ]; then
        echo "[$kind] nft full reload of the 1% change ..." >&2
        R[$kind.nftreload]=$(t "$ns" nft -f nets-1pct-reload.nft)
    fi
    ip netns del "$ns"

    echo "[$kind] ipset restore, add/del ..." >&2
    ns=$(newns)
    R[$kind.ipset]=$(t "$ns" sh -c "ipset restore < $kind.ipset")
    R[$kind.ipsetadd]=$(t "$ns" ipset add $name "$one")
    R[$kind.ipsetdel]=$(t "$ns" ipset del $name "$one")
    ip netns del "$ns"
done
echo "[nets] rampart apply of the changed list (full reload) ..." >&2
ns=$(newns); st=$OUT/state-nets-reload; rm -rf "$st"
R[nets.applypct]=$(t "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply nets-1pct.toml)
ip netns del "$ns"; rm -rf "$st"

echo
echo "N = $N; ratio = seconds / the first row of each block"
printf "%-34s %-48s %10s %9s\n" "case" "how" "seconds" "ratio"
for kind in addrs nets; do
    if [ $kind = nets ]; then label="1M networks (interval set)"; else label="1M addresses (hash set)"; fi
    [ "$N" = 1000000 ] || label="$N ${label#1M }"
    b=${R[$kind.load]}
    row "load $label" "rampart set load (diff from empty)" "$b" "$b" "kernel ${R[$kind.load.k]}s"
    row "" "rampart apply (parse, compile, store, load)" "${R[$kind.apply]}" "$b"
    row "" "nft -f (rampart compile of the same policy)" "${R[$kind.nft]}" "$b"
    if [ $kind = nets ]; then it=hash:net; else it=hash:ip; fi
    row "" "ipset restore ($it)" "${R[$kind.ipset]}" "$b"
    b=${R[$kind.add]}
    row "add one element to it" "rampart set add (end to end)" "$b" "$b" "kernel ${R[$kind.add.k]}s"
    row "" "nft add element" "${R[$kind.nftadd]}" "$b"
    row "" "ipset add" "${R[$kind.ipsetadd]}" "$b"
    b=${R[$kind.del]}
    row "delete one element from it" "rampart set del (end to end)" "$b" "$b" "kernel ${R[$kind.del.k]}s"
    row "" "nft delete element" "${R[$kind.nftdel]}" "$b"
    row "" "ipset del" "${R[$kind.ipsetdel]}" "$b"
done
b=${R[nets.pct]}
row "1% change of the networks" "rampart set load (sends only the change)" "$b" "$b" "kernel ${R[nets.pct.k]}s; ${R[nets.pct.what]}"
row "" "nft -f full reload (flush set + add all)" "${R[nets.nftreload]}" "$b"
row "" "rampart apply full reload (fresh namespace)" "${R[nets.applypct]}" "$b"
echo "(goal: a full kernel load in at most half of nft -f's time: nft -f / rampart set load = $(ratio "${R[nets.nft]}" "${R[nets.load]}") for networks, $(ratio "${R[addrs.nft]}" "${R[addrs.load]}") for addresses)"
