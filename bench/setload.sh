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
#   * kernel floor: examples/setcommit (raw netlink batches, no parsing,
#                  no state store) loads 64k, 256k and N networks and N
#                  addresses and times one-element transactions on each:
#                  the kernel's per-commit cost of an interval set grows
#                  with the set.
#
# One run of each (the 1M cases take seconds to minutes); wall-clock
# seconds, `ip netns exec` included everywhere, and the CPU seconds each
# command used (user+sys; sys is the kernel's share, since the kernel
# processes and commits a netlink batch inside the sender's sendmsg). The
# machine may be shared: wall seconds then measure waiting for a CPU;
# compare ratios within one run, and CPU seconds, not wall seconds across
# runs.
#
#   bash bench/setload.sh [N]          (default N = 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
for t in bc nft ipset ip; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 2; }; done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 2; }
N=${1:-1000000}
OUT=$PWD/bench/out/setload; mkdir -p "$OUT"
NFT_TIMEOUT=${NFT_TIMEOUT:-900}
cargo build --release --locked -q -p rampart
cargo build --release --locked -q -p rampart-sys --example setcommit
SETCOMMIT=$PWD/target/release/examples/setcommit
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
# The same with a size hint (the kernel then picks its fixed-size hash):
# what the kernel's share of a hash-set load would be with one.
awk '{print} /^\tset addrs \{/ {print "\t\tsize " 2 * n}' n="$N" "$OUT/addrs.nft" > "$OUT/addrs-size.nft"
# nft's full reload of the changed list: flush the set, add every element.
{ echo "flush set inet rampart blocklist"; printf 'add element inet rampart blocklist { '; paste -sd, "$OUT/nets-1pct.txt"; echo ' }'; } > "$OUT/nets-1pct-reload.nft"

NSS=()
# newns runs in $(...), so NSS stays empty here: remove this run's namespaces by name.
cleanup() { for n in $(ip netns list | awk '{print $1}' | grep "^rampart-bench-set-$$-"); do ip netns del "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
seqn=0
newns() { seqn=$((seqn + 1)); local ns="rampart-bench-set-$$-$seqn${1:-}"; ip netns add "$ns"; NSS+=("$ns"); echo "$ns"; }
LOG=$OUT/last.log
# t NS CMD...: wall-clock seconds of CMD inside NS ("timeout" when killed,
# "failed" on another error); output in $LOG; the CPU seconds it used
# (user, and system = the kernel's share: netlink batches are processed and
# committed in the sender's sendmsg) in $CPU as "user+sys".
CPU_F=$OUT/last.cpu
t() {
    local ns=$1; shift
    local s e rc=0
    s=$(date +%s.%N)
    (cd "$OUT" && /usr/bin/time -o "$CPU_F" -f "%U+%S" ip netns exec "$ns" "$@") >"$LOG" 2>&1 || rc=$?
    e=$(date +%s.%N)
    CPU=$(tail -1 "$CPU_F" 2>/dev/null || echo "-")
    if [ $rc = 124 ]; then echo "timeout"; elif [ $rc != 0 ]; then echo "failed"; cat "$LOG" >&2; else echo "$e - $s" | bc -l; fi
}
# tc KEY NS CMD...: t, storing wall seconds in R[KEY] and CPU in R[KEY.cpu]
# (not in a subshell, so $CPU survives).
tc() {
    local key=$1; shift
    t "$@" > "$OUT/last.wall"
    R[$key]=$(cat "$OUT/last.wall"); R[$key.cpu]=$CPU
}
# "user+sys" -> total CPU seconds
cpu_total() { if [[ $1 =~ ^[0-9.]+\+[0-9.]+$ ]]; then echo "$1" | bc -l; else echo "-"; fi; }
# seconds the kernel step took, from rampart's "set update: ..., 0.123s" line
kernel_s() { grep -o '[0-9.]*s (only the changed' "$LOG" | head -1 | cut -d's' -f1; }
ratio() { if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] && [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then printf "%.1fx" "$(echo "$1 / $2" | bc -l)"; else echo "-"; fi; }
row() { # CASE WHAT KEY BASEKEY [NOTE]: wall seconds, ratio to BASEKEY, CPU user+sys
    local s=${R[$3]:-} c=${R[$3.cpu]:-}
    [[ $s =~ ^[0-9.]+$ ]] && s=$(printf "%.3f" "$s")
    printf "%-30s %-46s %9s %7s %14s  %s\n" "$1" "$2" "$s" "$(ratio "${R[$3]:-}" "${R[$4]:-}")" "$c" "${5:-}"
}

declare -A R
for kind in addrs nets; do
    if [ $kind = nets ]; then name=blocklist; one=$ONE_NET; else name=addrs; one=$ONE_ADDR; fi
    echo "[$kind] rampart apply ..." >&2
    ns=$(newns); st=$OUT/state-$kind-apply; rm -rf "$st"
    tc $kind.apply "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply $kind.toml
    ip netns del "$ns"; rm -rf "$st"

    echo "[$kind] rampart set load / add / del ..." >&2
    ns=$(newns); st=$OUT/state-$kind-load; rm -rf "$st"
    (cd "$OUT" && ip netns exec "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply $kind-empty.toml 2>/dev/null)
    tc $kind.load "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set load $name $kind.txt; R[$kind.load.k]=$(kernel_s)
    tc $kind.add "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set add $name "$one"; R[$kind.add.k]=$(kernel_s)
    tc $kind.del "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set del $name "$one"; R[$kind.del.k]=$(kernel_s)
    if [ $kind = nets ]; then
        echo "[$kind] rampart set load of the 1% change ..." >&2
        tc $kind.pct "$ns" env RAMPART_STATE_DIR="$st" "$BIN" set load $name nets-1pct.txt; R[$kind.pct.k]=$(kernel_s)
        R[$kind.pct.what]=$(grep -o 'blocklist (+[0-9]* -[0-9]*)' "$LOG" | head -1)
    fi
    ip netns del "$ns"; rm -rf "$st"

    echo "[$kind] nft -f, nft add/delete element ..." >&2
    ns=$(newns)
    tc $kind.nft "$ns" nft -f $kind.nft
    if [ $kind = addrs ]; then
        ns2=$(newns size); tc addrs.nftsize "$ns2" nft -f addrs-size.nft; ip netns del "$ns2"
    fi
    tc $kind.nftadd "$ns" timeout "$NFT_TIMEOUT" nft add element inet rampart $name "{ $one }"
    tc $kind.nftdel "$ns" timeout "$NFT_TIMEOUT" nft delete element inet rampart $name "{ $one }"
    if [ $kind = nets ]; then
        echo "[$kind] nft full reload of the 1% change ..." >&2
        tc $kind.nftreload "$ns" nft -f nets-1pct-reload.nft
    fi
    ip netns del "$ns"

    echo "[$kind] ipset restore, add/del ..." >&2
    ns=$(newns)
    tc $kind.ipset "$ns" sh -c "ipset restore < $kind.ipset"
    tc $kind.ipsetadd "$ns" ipset add $name "$one"
    tc $kind.ipsetdel "$ns" ipset del $name "$one"
    ip netns del "$ns"
done
echo "[nets] rampart apply of the changed list (full reload) ..." >&2
ns=$(newns); st=$OUT/state-nets-reload; rm -rf "$st"
tc nets.applypct "$ns" env RAMPART_STATE_DIR="$st" "$BIN" apply nets-1pct.toml
ip netns del "$ns"; rm -rf "$st"

echo
echo "N = $N; ratio = wall seconds / the first row of each block; CPU = user+sys seconds"
echo "(sys is the kernel's share: it processes and commits a netlink batch in the sender's sendmsg)"
printf "%-30s %-46s %9s %7s %14s\n" "case" "how" "wall s" "ratio" "CPU user+sys"
for kind in addrs nets; do
    if [ $kind = nets ]; then label="1M networks (interval)"; else label="1M addresses (hash)"; fi
    [ "$N" = 1000000 ] || label="$N ${label#1M }"
    row "load $label" "rampart set load (diff from empty)" $kind.load $kind.load "kernel step ${R[$kind.load.k]}s"
    row "" "rampart apply (parse, compile, store, load)" $kind.apply $kind.load
    row "" "nft -f (rampart compile of the same policy)" $kind.nft $kind.load
    [ $kind = addrs ] && row "" "nft -f, set with a size hint (2N)" addrs.nftsize $kind.load
    if [ $kind = nets ]; then it=hash:net; else it=hash:ip; fi
    row "" "ipset restore ($it)" $kind.ipset $kind.load
    row "add one element to it" "rampart set add (end to end)" $kind.add $kind.add "kernel step ${R[$kind.add.k]}s"
    row "" "nft add element" $kind.nftadd $kind.add
    row "" "ipset add" $kind.ipsetadd $kind.add
    row "delete one element from it" "rampart set del (end to end)" $kind.del $kind.del "kernel step ${R[$kind.del.k]}s"
    row "" "nft delete element" $kind.nftdel $kind.del
    row "" "ipset del" $kind.ipsetdel $kind.del
done
row "1% change of the networks" "rampart set load (sends only the change)" nets.pct nets.pct "kernel step ${R[nets.pct.k]}s; ${R[nets.pct.what]}"
row "" "nft -f full reload (flush set + add all)" nets.nftreload nets.pct
row "" "rampart apply full reload (fresh namespace)" nets.applypct nets.pct
goal() { # KIND: nft -f / rampart apply, wall and CPU
    local a b c
    a=$(cpu_total "${R[$1.nft.cpu]}"); b=$(cpu_total "${R[$1.apply.cpu]}"); c=$(cpu_total "${R[$1.load.cpu]}")
    echo "vs apply wall $(ratio "${R[$1.nft]}" "${R[$1.apply]}") CPU $(ratio "$a" "$b"), vs set load wall $(ratio "${R[$1.nft]}" "${R[$1.load]}") CPU $(ratio "$a" "$c")"
}
echo "(goal: a full kernel load in at most half of nft -f's time, i.e. nft -f / rampart >= 2.0x:"
echo "  networks: $(goal nets)"
echo "  addresses: $(goal addrs))"

echo
echo "kernel cost of one transaction on a large set, raw netlink batches (target/release/examples/setcommit):"
for spec in "65536 net" "262144 net" "$N net" "$N ip"; do
    ns=$(newns)
    (cd "$OUT" && ip netns exec "$ns" "$SETCOMMIT" $spec 3) | sed "s/^/  N=${spec% *} ${spec#* } /"
    ip netns del "$ns"
done
