#!/usr/bin/env bash
# Sets up everything rampart needs on a fresh Debian machine, builds it, and
# runs the built-in default job: check every bundled example policy and
# print its iptables-save form.
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
