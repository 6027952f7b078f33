#!/usr/bin/env bash
# Replay benchmark (issue 4): reading + classifying a generated capture
# (default 1 GiB, bench/replay_gen.py, fixed seed: a web/mail server's
# TCP sessions, DNS, ICMP, scans; a quarter IPv6) in the same run as
# tcpdump on the same file:
#   tcpdump -r FILE -w /dev/null   read every record and write it back
#   tcpdump -nr FILE > /dev/null   decode and print every packet
#   capstat FILE                   rampart-capture alone: read, decode,
#                                  track flows (no policy)
#   rampart replay --policy examples/web.toml FILE
#                                  the whole command: read, decode, track,
#                                  classify (compiled classifier, one
#                                  session), report
# Wall-clock seconds of the whole command, best of RUNS (default 1);
# ratios are tcpdump's time / ours (above 1: we are faster).
#
#   bash bench/replay.sh            (1 GiB pcap)
#   BYTES=100000000 FORMAT=pcapng bash bench/replay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
BYTES=${BYTES:-1073741824}
FORMAT=${FORMAT:-pcap}
RUNS=${RUNS:-1}
OUT=bench/out; mkdir -p "$OUT"
CAP="$OUT/replay-$BYTES.$FORMAT"
[ -s "$CAP" ] || python3 bench/replay_gen.py "$CAP" --bytes "$BYTES" --format "$FORMAT"
cargo build --release --locked -q -p rampart -p rampart-capture --examples --bins
BIN=./target/release/rampart
CAPSTAT=./target/release/examples/capstat

best() {
    local dst=$1; shift
    local b=""
    for _ in $(seq "$RUNS"); do
        local s e t
        s=$(date +%s.%N); "$@" >"$dst" 2>&1 || true; e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi
    done
    echo "$b"
}

t_w=$(best "$OUT/replay.tcpdump-w" tcpdump -r "$CAP" -w /dev/null)
t_n=$(best /dev/null tcpdump -nr "$CAP")
t_c=$(best "$OUT/replay.capstat" $CAPSTAT "$CAP")
t_r=$(best "$OUT/replay.rampart" $BIN replay --policy examples/web.toml "$CAP")
packets=$(sed -n 's/^packets \([0-9]*\).*/\1/p' "$OUT/replay.capstat")
tcpdump_packets=$(tcpdump -nr "$CAP" 2>/dev/null | wc -l)
size=$(stat -c %s "$CAP")

echo "capture: $CAP, $size bytes, $packets packets (tcpdump counts $tcpdump_packets)"
printf "%-44s %9s %12s %9s\n" command seconds packets/s ratio
row() { printf "%-44s %9.2f %12.0f %9s\n" "$1" "$2" "$(echo "$packets / $2" | bc -l)" "$3"; }
row "tcpdump -r FILE -w /dev/null" "$t_w" ""
row "tcpdump -nr FILE > /dev/null" "$t_n" ""
row "capstat (read, decode, track flows)" "$t_c" "$(printf '%.1fx / %.1fx' "$(echo "$t_w / $t_c" | bc -l)" "$(echo "$t_n / $t_c" | bc -l)")"
row "rampart replay --policy examples/web.toml" "$t_r" "$(printf '%.1fx / %.1fx' "$(echo "$t_w / $t_r" | bc -l)" "$(echo "$t_n / $t_r" | bc -l)")"
echo "(ratio: tcpdump -w time / ours, tcpdump -n time / ours)"
echo "--- rampart replay report:"
head -4 "$OUT/replay.rampart"; tail -1 "$OUT/replay.rampart"
[ "$packets" = "$tcpdump_packets" ] || { echo "packet counts differ" >&2; exit 1; }
