#!/usr/bin/env bash
# Sets up everything rampart needs on a fresh Debian machine, builds it, and
# runs the built-in default job: check every bundled example policy and
# print its iptables-save form, then (as root) `rampart demo`: the bundled
# web.toml applied in a throwaway network namespace, with connections being
# accepted and dropped. The demo deletes its namespaces; the host's own
# firewall and settings are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(iptables ipset nftables conntrack iproute2 man-db)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release --locked -p rampart
echo "== rampart examples: the bundled example policies, checked and lowered to iptables-save"
./target/release/rampart examples
echo
if [ "$(id -u)" -eq 0 ]; then
  echo "== rampart demo: examples/web.toml applied in a throwaway network namespace"
  ./target/release/rampart demo
else
  echo "== rampart demo skipped: it creates network namespaces and loads nftables, which needs root."
  echo "   Run it with: sudo ./target/release/rampart demo"
fi
