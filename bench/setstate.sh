#!/usr/bin/env bash
# State-store benchmark (issue 5): what `rollback`, `status` and the history
# cost with a 1M-element set, for two rampart binaries side by side in the
# same run (each in its own throwaway network namespace with its own state
# directory; the host's ruleset is never touched):
#
#   * 20 changes: `apply` of the policy 20 times, its 1M-address set file
#     changed by one address each time (every apply writes a snapshot);
#     disk use of the state directory after them (`du -sk`);
#   * rollback of a set change: `set add` of one address, then `rollback`
#     (wall time of the rollback, process start and `ip netns exec`
#     included);
#   * rollback of an apply (the previous snapshot);
#   * status: `rampart status` (wall time).
#
#   bash bench/setstate.sh OLD_BINARY [N] [NEW_BINARY]
#   (default N = 1000000; NEW_BINARY defaults to this tree's release
#   build; ONLY=old or ONLY=new runs one side)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
OLD=${1:?usage: bash bench/setstate.sh OLD_BINARY [N]}
N=${2:-1000000}
NEW=${3:-}
if [ -z "$NEW" ] && [ "${ONLY:-}" != old ]; then
  cargo build --release --locked -q -p rampart
  NEW=$PWD/target/release/rampart
fi
OUT=$PWD/bench/out/setstate-${ONLY:-both}; rm -rf "$OUT"; mkdir -p "$OUT"
export SSH_CONNECTION=""

python3 - "$N" "$OUT/addrs.txt" <<'PY'
import sys, ipaddress
n = int(sys.argv[1])
with open(sys.argv[2], "w") as f:
    for i in range(n):
        f.write(str(ipaddress.IPv4Address(0x64400000 + i * 7)) + "\n")
PY
cat > "$OUT/policy.toml" <<'T'
[defaults]
input = "accept"

[[deny]]
from = "@addrs"

[sets.addrs]
file = "addrs.txt"
type = "ip"
family = "ipv4"
T

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

run() {
  local tag=$1 bin=$2
  local ns=rampart-bench-state-$tag-$$ dir=$OUT/$tag
  mkdir -p "$dir"; cp "$OUT/policy.toml" "$OUT/addrs.txt" "$dir/"
  ip netns add "$ns"; trap "ip netns del $ns 2>/dev/null || true" RETURN
  export RAMPART_STATE_DIR=$dir/state
  local r="ip netns exec $ns $bin"
  local t_apply=0
  for i in $(seq 1 20); do
    # One address of the list replaced per change.
    sed -i "${i}s/.*/198.18.$((i / 256)).$((i % 256))/" "$dir/addrs.txt"
    t=$(secs $r apply "$dir/policy.toml"); t_apply=$(echo "$t_apply + $t" | bc)
  done
  local du; du=$(du -sk "$dir/state" | cut -f1)
  $r set add addrs 198.19.0.1 >/dev/null 2>&1
  local t_rb_set; t_rb_set=$(secs $r rollback)
  local t_rb_apply; t_rb_apply=$(secs $r rollback)
  local t_status; t_status=$(secs $r status)
  $r status >"$dir/status.txt" 2>&1 || true
  printf '%-4s 20 applies %7.1f s | state dir %8d KiB | rollback of set add %6.3f s | rollback of apply %6.3f s | status %6.3f s\n' \
    "$tag" "$t_apply" "$du" "$t_rb_set" "$t_rb_apply" "$t_status"
}

echo "N=$N (wall seconds, ip netns exec included; one run, machine may be shared)"
[ "${ONLY:-old}" = old ] || [ -z "${ONLY:-}" ] && run old "$OLD"
[ "${ONLY:-new}" = new ] || [ -z "${ONLY:-}" ] && run new "$NEW"
true
