#!/usr/bin/env bash
# Apply benchmark: loading the same policy into the kernel three ways, in
# the same run, each inside its own throwaway network namespace (the host's
# ruleset is never touched):
#   * rampart apply --no-optimize FILE          (one netlink batch)
#   * nft -f  (text of rampart compile --no-optimize FILE)
#   * iptables-restore FILE                     (iptables-nft)
# Inputs: generated iptables-save files of 1k and 10k rules (bench/apply_gen.py,
# fixed seed). Best of 3 wall-clock seconds, each into an empty namespace.
#
#   bash bench/apply.sh [SIZES...]      (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
OUT=bench/out; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart
BIN=$PWD/target/release/rampart
IPT=$(command -v iptables-nft-restore || command -v iptables-restore)
# rampart's state goes to a throwaway directory, never /var/lib/rampart.
RAMPART_STATE_DIR=$(mktemp -d); export RAMPART_STATE_DIR
export SSH_CONNECTION=""

NSS=()
cleanup() { for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done; rm -rf "$RAMPART_STATE_DIR"; }
trap cleanup EXIT
seqn=0
# run CMD... inside a fresh namespace; prints wall-clock seconds
in_fresh_ns() {
    seqn=$((seqn + 1))
    local ns="rampart-bench-apply-$$-$seqn"
    ip netns add "$ns"; NSS+=("$ns")
    local s e
    s=$(date +%s.%N)
    ip netns exec "$ns" "$@" >/dev/null 2>&1
    e=$(date +%s.%N)
    ip netns del "$ns"
    echo "$e - $s" | bc -l
}
best() { local b="" t; for _ in 1 2 3; do t=$(in_fresh_ns "$@"); if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi; done; echo "$b"; }

printf "%-8s %-40s %10s %10s\n" "rules" "what" "seconds" "ratio"
for n in "${SIZES[@]}"; do
    save="$OUT/apply-$n.save"; nftf="$OUT/apply-$n.nft"
    python3 bench/apply_gen.py "$n" "$save"
    $BIN compile --no-optimize "$save" > "$nftf"
    # Sanity: every way loads the file and leaves a ruleset behind.
    t_ra=$(best "$BIN" apply --no-optimize "$save")
    t_nft=$(best nft -f "$nftf")
    t_ipt=$(best "$IPT" "$save")
    printf "%-8s %-40s %10.3f %10s\n" "$n" "rampart apply --no-optimize" "$t_ra" "1.0x"
    printf "%-8s %-40s %10.3f %9.1fx\n" "$n" "nft -f (rampart compile --no-optimize)" "$t_nft" "$(echo "$t_nft / $t_ra" | bc -l)"
    printf "%-8s %-40s %10.3f %9.1fx\n" "$n" "iptables-restore ($(basename "$IPT"))" "$t_ipt" "$(echo "$t_ipt / $t_ra" | bc -l)"
done
echo "(ratio = seconds / rampart apply seconds; best of 3, each into a fresh namespace, 'ip netns exec' overhead included in all three)"
