#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), seeded from
# testdata/, examples/ and the conformance suite, and prints the exec count
# and result of each. Needs the nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly; cargo install cargo-fuzz
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-600}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(iptables_save iptables_script ipset_save native netlink_setelem)
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
