#!/usr/bin/env bash
# Forwarding benchmark (issue 3): kernel forwarding throughput, TCP via
# iperf3 from a client namespace through a router namespace to a server
# namespace, with a 10,000-rule per-address DROP blocklist in the router's
# FORWARD chain (addresses that never match the traffic, so every packet
# walks the whole blocklist), in the same run:
#   (a) no firewall
#   (b) the blocklist loaded with iptables-restore (iptables-nft)
#   (c) the same file applied by `rampart apply` (optimised: one set lookup)
#   (d) the same file applied by `rampart apply --no-optimize` (10,000 rules)
#   (e) reference: the same 10,000 rules written for a `table ip` (no
#       `meta nfproto` guard per rule, as a per-family layout would give),
#       loaded with `nft -f` -- what (d) loses to its per-rule family guard
#       (docs/nftables-lowering.md)
# Each configuration gets a fresh topology (namespaces deleted and created
# again, so nothing carries over); each is measured RUNS times (default 3)
# with `iperf3 -c -t SECS -J` and the median is printed.
#
#   bash bench/forward.sh            (N=10000 RUNS=3 SECS=5 by default)
#   N=1000 RUNS=5 SECS=10 bash bench/forward.sh
#   OFFLOADS=on bash bench/forward.sh     (leave TSO/GSO/GRO on)
#
# Everything happens inside throwaway namespaces (rampart-bench-fwd-PID-*),
# deleted by a trap; ip_forward is set only inside the router namespace.
# The host's ruleset, routes and sysctls are never touched.
# Offloads: TSO/GSO/GRO are switched off on every veth end with ethtool (as
# in FACTS.md), so the kernel sees MTU-sized packets and the per-packet cost
# of the rules shows; with them on, 64 KiB super-packets hide most of it.
# (Checksum offload stays on; OFFLOADS=on skips ethtool altogether.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v bc >/dev/null || need+=(bc)
command -v ethtool >/dev/null || need+=(ethtool)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || true
fi
command -v iperf3 >/dev/null || { echo "iperf3 missing and could not be installed" >&2; exit 2; }
command -v bc >/dev/null || { echo "bc missing and could not be installed" >&2; exit 2; }
HAVE_ETHTOOL=1
if [ "${OFFLOADS:-off}" = on ]; then HAVE_ETHTOOL=0
elif ! command -v ethtool >/dev/null; then
    HAVE_ETHTOOL=0; echo "NOTE: ethtool missing: offloads stay ON (figures not comparable to FACTS.md)" >&2
fi

N=${N:-10000}; RUNS=${RUNS:-3}; SECS=${SECS:-5}
OUT=bench/out; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart
BIN=$PWD/target/release/rampart
IPT=$(command -v iptables-nft-restore || command -v iptables-restore)
SAVE="$OUT/forward-$N.save"
python3 bench/forward_gen.py "$N" "$SAVE"
IPTABLE="$OUT/forward-$N.ip.nft"
python3 - "$SAVE" "$IPTABLE" <<'PY'
import sys
addrs = [l.split()[3] for l in open(sys.argv[1]) if l.startswith("-A FORWARD -s ")]
with open(sys.argv[2], "w") as f:
    f.write("table ip rampart-bench-ref {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
    f.writelines(f"\t\tip saddr {a} counter drop\n" for a in addrs)
    f.write("\t}\n}\n")
PY

P="rampart-bench-fwd-$$"
C="$P-cli"; R="$P-rtr"; S="$P-srv"
STATE=$(mktemp -d)
SRV_PID=""
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null || true
    for n in "$C" "$R" "$S"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$STATE"
}
trap cleanup EXIT

offloads_off() { # NS DEV
    [ "$HAVE_ETHTOOL" = 1 ] || return 0
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null
}

# client 10.201.1.2 -- r0 10.201.1.1 [router] r1 10.201.2.1 -- server 10.201.2.2
topology_up() {
    cleanup
    STATE=$(mktemp -d)
    ip netns add "$C"; ip netns add "$R"; ip netns add "$S"
    ip -n "$R" link add r0 type veth peer name c0 netns "$C"
    ip -n "$R" link add r1 type veth peer name s0 netns "$S"
    ip -n "$C" addr add 10.201.1.2/24 dev c0
    ip -n "$R" addr add 10.201.1.1/24 dev r0
    ip -n "$R" addr add 10.201.2.1/24 dev r1
    ip -n "$S" addr add 10.201.2.2/24 dev s0
    for x in "$C lo" "$C c0" "$R lo" "$R r0" "$R r1" "$S lo" "$S s0"; do
        set -- $x; ip -n "$1" link set "$2" up
    done
    for x in "$C c0" "$R r0" "$R r1" "$S s0"; do set -- $x; offloads_off "$1" "$2"; done
    ip -n "$C" route add default via 10.201.1.1
    ip -n "$S" route add default via 10.201.2.1
    ip netns exec "$R" sysctl -q -w net.ipv4.ip_forward=1   # the router namespace only
    ip netns exec "$S" iperf3 -s -B 10.201.2.2 >/dev/null 2>&1 &
    SRV_PID=$!
    for _ in $(seq 50); do
        ip netns exec "$S" ss -ltn 2>/dev/null | grep -q '10.201.2.2:5201' && break
        sleep 0.1
    done
}

# Gbit/s of one iperf3 run (receiver side)
one_run() {
    ip netns exec "$C" iperf3 -c 10.201.2.2 -t "$SECS" -J |
        python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# measure NAME LOAD-COMMAND...: fresh topology, load, check, RUNS runs; sets RESULT
measure() {
    local name=$1; shift
    topology_up
    if [ $# -gt 0 ] && ! ip netns exec "$R" env RAMPART_STATE_DIR="$STATE" SSH_CONNECTION= "$@" >"$OUT/forward-load.log" 2>&1; then
        cat "$OUT/forward-load.log" >&2; exit 1
    fi
    local rules
    rules=$(ip netns exec "$R" nft list ruleset | grep -cE '^\s+(ip saddr|meta nfproto ipv4 ip saddr)' || true)
    local runs=()
    for _ in $(seq "$RUNS"); do runs+=("$(one_run)"); done
    RESULT=$(median "${runs[@]}")
    printf "%-44s %6s %9s   %s\n" "$name" "$rules" "$RESULT" "${runs[*]}"
}

# compile-time rule count: optimised vs not
count_rules() { # ARGS... -> "rules set-elements"
    "$BIN" compile --json "$@" "$SAVE" | python3 -c '
import json, sys
d = json.load(sys.stdin)["nftables"]
cmds = [next(iter(o.values())) for o in d if "add" in o]
rules = sum(1 for c in cmds if "rule" in c)
elems = sum(len(c["set"].get("elem", [])) for c in cmds if "set" in c)
print(rules, elems)'
}
read -r opt_rules opt_elems < <(count_rules)
read -r raw_rules raw_elems < <(count_rules --no-optimize)
echo "input: $SAVE ($(grep -c '^-A FORWARD' "$SAVE") FORWARD rules, -s A/32 -j DROP, none matching the traffic)"
echo "rampart compile:               $opt_rules rule(s), $opt_elems set element(s)"
echo "rampart compile --no-optimize: $raw_rules rule(s), $raw_elems set element(s)"
echo "offloads: $([ "$HAVE_ETHTOOL" = 1 ] && echo 'tso/gso/gro off on every veth end (ethtool -K)' || echo 'ON (OFFLOADS=on or no ethtool)')"
echo "iperf3: TCP, 1 stream, ${SECS}s, $RUNS runs per configuration, client -> router -> server"
echo
printf "%-44s %6s %9s   %s\n" "configuration" "rules" "Gbit/s" "runs (Gbit/s)"
measure "(a) no firewall";                                   g_none=$RESULT
measure "(b) iptables-restore ($(basename "$IPT"))" "$IPT" "$SAVE";  g_ipt=$RESULT
measure "(c) rampart apply (optimised: set lookup)" "$BIN" apply "$SAVE";  g_ra=$RESULT
measure "(d) rampart apply --no-optimize" "$BIN" apply --no-optimize "$SAVE";  g_raw=$RESULT
measure "(e) reference: table ip, no guard (nft -f)" nft -f "$IPTABLE";  g_ref=$RESULT
echo
ratio() { echo "scale=3; $1 / $2" | bc -l; }
printf "rampart / iptables-restore:         %8.2fx\n" "$(ratio "$g_ra" "$g_ipt")"
printf "rampart / no firewall:              %8.2fx\n" "$(ratio "$g_ra" "$g_none")"
printf "iptables-restore / no firewall:     %8.2fx\n" "$(ratio "$g_ipt" "$g_none")"
printf "rampart --no-optimize / iptables:   %8.2fx\n" "$(ratio "$g_raw" "$g_ipt")"
printf "table ip reference / iptables:      %8.2fx\n" "$(ratio "$g_ref" "$g_ipt")"
echo "(Gbit/s = median of $RUNS iperf3 runs, receiver side; 'rules' = rules matching on ip saddr in the router's ruleset after loading)"
