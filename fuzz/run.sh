#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), seeded from
# testdata/, examples/ and the conformance suite, and prints the exec count
# and result of each. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly; cargo install cargo-fuzz
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-600}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(iptables_save iptables_script ipset_save native native_set_file eval_packet conntrack capture fail2ban_config fail2ban_line netlink_setelem ctnetlink journal_json guard_request guard_ports)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
seed() {
  local dir=corpus/$1; mkdir -p "$dir"
  case $1 in
    iptables_save) cp ../testdata/*.v4 ../testdata/*.v6 ../testdata/broken/*.v4 "$dir"/ 2>/dev/null || true
      if [ -d ../../shared/conformance/iptables-extension-tests ]; then
        i=0; while IFS= read -r l; do i=$((i+1)); printf '*filter\n-A INPUT %s\nCOMMIT\n' "${l%%;*}" > "$dir/conf-$i"; done \
          < <(grep -h ';OK' ../../shared/conformance/iptables-extension-tests/*.t | head -400)
      fi ;;
    # Small seeds only: a 200 KB seed (the 5,000-rule blocklist) makes every
    # mutation of it slow under the sanitizer and starves the search.
    iptables_script) cp ../testdata/media-server.sh ../testdata/ipset-blocklist.sh ../testdata/broken/*.sh ../crates/syntax/tests/script/*.sh "$dir"/ 2>/dev/null || true
      head -40 ../testdata/blocklist-5000.sh > "$dir/blocklist-head.sh" ;;
    ipset_save) cp ../testdata/golden/*.ipset.expected "$dir"/ 2>/dev/null || true ;;
    native) cp ../examples/*.toml ../examples/local.d/*.toml "$dir"/ 2>/dev/null || true ;;
    # The first byte picks the set kind and file format.
    native_set_file) for f in ../examples/sets/* ../examples/blocklist.txt; do
        { printf '\x00'; cat "$f"; } > "$dir/$(basename "$f")"; done ;;
    capture) python3 ../bench/replay_gen.py "$dir/seed.pcap" --packets 40 2>/dev/null
      python3 ../bench/replay_gen.py "$dir/seed.pcapng" --packets 40 --format pcapng 2>/dev/null ;;
    eval_packet) i=0; while IFS= read -r l; do i=$((i+1)); printf '%s' "$l" > "$dir/pkt-$i"; done \
        < <(sed -n 's/^packet = "\(.*\)"$/\1/p' ../testdata/eval/*.toml) ;;
    conntrack) printf 'tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=51234 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=51234 [ASSURED] mark=0 use=1\nipv6     10 udp      17 29 src=2001:db8::1 dst=2001:db8::2 sport=5 dport=53 src=2001:db8::2 dst=2001:db8::1 sport=53 dport=5 mark=0 zone=0 use=2\n' > "$dir/seed" ;;
    fail2ban_config) cp ../crates/guard/filters/*.conf /etc/fail2ban/filter.d/*.conf "$dir"/ 2>/dev/null || true ;;
    fail2ban_line) for f in sshd nginx-error apache-auth postfix dovecot; do
        head -c 20000 "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/$f" > "$dir/$f" 2>/dev/null || true; done ;;
    journal_json) printf '%s' '{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"812","MESSAGE":"Failed password for root from 192.0.2.7 port 22 ssh2"}' > "$dir/sshd.json"
      printf '%s' '{"SYSLOG_IDENTIFIER":"kernel","__MONOTONIC_TIMESTAMP":"12345678","MESSAGE":[70,97,105,108,255],"SYSLOG_PID":["1","2"]}' > "$dir/kernel.json" ;;
    guard_ports) printf 'tcp\nssh, http,https\n8000:8100\nftp-data-ftp' > "$dir/ports"
      head -c 4000 /etc/services > "$dir/services" 2>/dev/null || true ;;
  esac
}
for t in "${TARGETS[@]}"; do
  seed "$t"
  log=$(mktemp)
  if cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$SECS" -max_len=16384 -print_final_stats=1 >"$log" 2>&1; then res=ok; else res=CRASH; fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "$t: $res, $execs execs in ${SECS}s"
  [ "$res" = ok ] || { tail -40 "$log"; exit 1; }
done
