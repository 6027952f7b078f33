#!/usr/bin/env bash
# Issue 6: bans inserted per second (goal >= 100k/s), rampart's ban store
# and decision engine against two peers on the same addresses, same run:
#
#   - ipset restore of the same N addresses into a hash:ip set with
#     timeouts, inside a throwaway network namespace (the kernel-side
#     peer: what a ban costs in the kernel set);
#   - fail2ban 1.0 (Debian package): `fail2ban-client set JAIL banip` of
#     F2B_N addresses (default 20,000, in commands of 5,000) into a jail
#     without actions, with its SQLite database (fail2ban's own decision +
#     store path; its firewall actions would cost more).
#
#   bash bench/bans.sh [N]        (default N = 1000000; needs root for ipset)
#
# rampart's figures come from crates/store/examples/bans_bench.rs:
# engine = N failures of distinct addresses through Engine::on_failure
# alone (maxretry 1, increments and prefix escalation on, default bounds);
# store-batch-full/normal = N bans recorded in transactions of 10,000
# (synchronous FULL / NORMAL); engine+store = N failures of distinct
# addresses through Engine::on_failure (maxretry 1, increments on) and the
# store; store-single-full = one transaction (one fsync) per ban.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
F2B_N=${F2B_N:-20000}
[ "$F2B_N" -le "$N" ] || F2B_N=$N
need=()
command -v ipset >/dev/null || need+=(ipset)
command -v fail2ban-client >/dev/null || need+=(fail2ban)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
OUT=bench/out/bans; mkdir -p "$OUT"
cargo build --release --locked -q -p rampart-store --example bans_bench
ADDRS="$OUT/addrs.txt"

echo "== rampart (N=$N; the machine may be shared: compare ratios of the same run)"
./target/release/examples/bans_bench "$N" "$OUT" "$ADDRS" | tee "$OUT/rampart.txt"
rate() { awk -v k="$1" '$1 == k { print $4 }' "$OUT/rampart.txt"; }
cpurate() { awk -v k="$1" '$1 == k { print $6 }' "$OUT/rampart.txt"; }

now() { date +%s.%N; }

ipset_rate=""
if [ "$(id -u)" -eq 0 ]; then
    ns="rampart-bench-bans-$$"
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    { echo "create bench hash:ip family inet hashsize 65536 maxelem $((N * 2)) timeout 3600"
      sed 's/^/add bench /' "$ADDRS"; } > "$OUT/ipset.restore"
    s=$(now); ip netns exec "$ns" ipset restore -f "$OUT/ipset.restore"; e=$(now)
    t=$(echo "$e - $s" | bc -l)
    got=$(ip netns exec "$ns" ipset list bench -t | awk '/Number of entries/ { print $4 }')
    ipset_rate=$(echo "$N / $t" | bc -l)
    printf "ipset-restore %s %.3f %.0f\n" "$got" "$t" "$ipset_rate" | tee "$OUT/ipset.txt"
else
    echo "ipset: skipped (needs root for a network namespace)"
fi

# fail2ban: a server of our own (own config dir, socket, database).
F="$OUT/f2b"; rm -rf "$F"; mkdir -p "$F/conf"
printf '[Definition]\nloglevel = WARNING\nlogtarget = %s/log\nsocket = %s/s.sock\npidfile = %s/pid\ndbfile = %s/f2b.db\nsyslogsocket = auto\nallowipv6 = auto\n' \
    "$PWD/$F" "$PWD/$F" "$PWD/$F" "$PWD/$F" > "$F/conf/fail2ban.conf"
printf '[DEFAULT]\n' > "$F/conf/jail.conf"
fail2ban-server -f -x -c "$PWD/$F/conf" >/dev/null 2>&1 &
f2b_pid=$!
C=(fail2ban-client -c "$PWD/$F/conf")
for _ in $(seq 200); do "${C[@]}" ping >/dev/null 2>&1 && break; sleep 0.1; done
"${C[@]}" add bench polling >/dev/null
"${C[@]}" set bench bantime 3600 >/dev/null
"${C[@]}" start bench >/dev/null
head -n "$F2B_N" "$ADDRS" | split -l 5000 - "$F/chunk."
s=$(now)
for c in "$F"/chunk.*; do
    # shellcheck disable=SC2046
    "${C[@]}" set bench banip $(cat "$c") >/dev/null
done
e=$(now)
banned=$("${C[@]}" status bench | awk -F'\t' '/Currently banned/ { print $2 }')
"${C[@]}" stop >/dev/null 2>&1 || true
wait "$f2b_pid" 2>/dev/null || true
t=$(echo "$e - $s" | bc -l)
f2b_rate=$(echo "$F2B_N / $t" | bc -l)
printf "fail2ban-banip %s %.3f %.0f\n" "$banned" "$t" "$f2b_rate" | tee "$OUT/fail2ban.txt"

echo
echo "== bans per second (goal >= 100000); wall clock, and per CPU second of rampart's process"
for k in engine store-batch-full store-batch-normal engine+store store-single-full; do
    r=$(rate "$k")
    line=$(printf "%-20s %12.0f/s (%.0f/cpu-s)" "$k" "$r" "$(cpurate "$k")")
    [ -n "$ipset_rate" ] && line+=$(printf "   %6.2fx ipset restore" "$(echo "$r / $ipset_rate" | bc -l)")
    line+=$(printf "   %8.1fx fail2ban banip" "$(echo "$r / $f2b_rate" | bc -l)")
    echo "$line"
done
[ -n "$ipset_rate" ] && printf "%-20s %12.0f/s\n" "ipset restore" "$ipset_rate"
printf "%-20s %12.0f/s\n" "fail2ban banip" "$f2b_rate"
