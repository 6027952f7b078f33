#!/usr/bin/env bash
# Replay benchmark (issue 4): reading + classifying a generated capture
# (default 1 GiB, bench/replay_gen.py, fixed seed: a web/mail server's
# TCP sessions, DNS, ICMP, scans; a quarter IPv6) in the same run as
# tcpdump on the same file:
#   tcpdump -r FILE -w /dev/null   read every record and write it back
#   tcpdump -nr FILE > /dev/null   decode and print every packet
#   capstat FILE                   rampart-capture alone: read, decode,
#                                  track flows (no policy)
#   rampart replay --policy testdata/web-server.v4 FILE
#   rampart replay --policy examples/web.toml FILE
#                                  the whole command: read, decode, track,
#                                  classify (compiled classifier, one
#                                  session), report; web.toml has sets,
#                                  rate limits and a per-client connlimit
# Wall-clock and CPU (user + system) seconds of the whole command, best of
# RUNS (default 1); ratios are tcpdump's CPU time / ours (above 1: we are
# faster). The machine is shared: wall-clock times wander, CPU less so.
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

# best of RUNS: prints "WALL CPU" (seconds; CPU = user + system, which a
# loaded machine disturbs less than wall-clock time).
best() {
    local dst=$1; shift
    local bw="" bc=""
    for _ in $(seq "$RUNS"); do
        local tf; tf=$(mktemp)
        /usr/bin/time -f "%e %U %S" -o "$tf" "$@" >"$dst" 2>/dev/null || true
        read -r w u sy < <(tail -1 "$tf"); rm -f "$tf"
        local c; c=$(echo "$u + $sy" | bc -l)
        if [ -z "$bw" ] || (( $(echo "$w < $bw" | bc -l) )); then bw=$w; bc=$c; fi
    done
    echo "$bw $bc"
}

read -r w_w c_w < <(best "$OUT/replay.tcpdump-w" tcpdump -r "$CAP" -w /dev/null)
read -r w_n c_n < <(best /dev/null tcpdump -nr "$CAP")
read -r w_c c_c < <(best "$OUT/replay.capstat" $CAPSTAT "$CAP")
read -r w_s c_s < <(best "$OUT/replay.rampart-v4" $BIN replay --policy testdata/web-server.v4 "$CAP")
read -r w_r c_r < <(best "$OUT/replay.rampart" $BIN replay --policy examples/web.toml "$CAP")
packets=$(sed -n 's/^packets \([0-9]*\).*/\1/p' "$OUT/replay.capstat")
# One line per packet starts with its time stamp (a decoded payload may
# add lines of its own).
tcpdump_packets=$(tcpdump -q -tt -nr "$CAP" 2>/dev/null | grep -c '^[0-9][0-9]*\.[0-9]')
size=$(stat -c %s "$CAP")

echo "capture: $CAP, $size bytes, $packets packets (tcpdump counts $tcpdump_packets)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-52s %8s %8s %11s  %s\n" command wall-s cpu-s packets/s "cpu ratio vs tcpdump -w / -n"
row() {
    local r=""
    [ -n "$4" ] && r=$(printf '%.2fx / %.2fx' "$(echo "$c_w / $3" | bc -l)" "$(echo "$c_n / $3" | bc -l)")
    printf "%-52s %8.2f %8.2f %11.0f  %s\n" "$1" "$2" "$3" "$(echo "$packets / $2" | bc -l)" "$r"
}
row "tcpdump -r FILE -w /dev/null" "$w_w" "$c_w" ""
row "tcpdump -nr FILE > /dev/null" "$w_n" "$c_n" ""
row "capstat (read, decode, track flows)" "$w_c" "$c_c" y
row "rampart replay --policy testdata/web-server.v4" "$w_s" "$c_s" y
row "rampart replay --policy examples/web.toml" "$w_r" "$c_r" y
echo "(ratio above 1: tcpdump used more CPU than rampart)"
echo "--- rampart replay --policy examples/web.toml:"
head -4 "$OUT/replay.rampart"; tail -1 "$OUT/replay.rampart"
[ "$packets" = "$tcpdump_packets" ] || { echo "packet counts differ" >&2; exit 1; }
