#!/usr/bin/env bash
# Runs rampart's tests. Installs what the tests need first (Debian packages
# through apt-get, crates through cargo).
set -euo pipefail
cd "$(dirname "$0")/.."

# fail2ban: jail.conf is the reference for the guard's bantime.increment
# semantics, and bench/bans.sh runs it as the peer. postgresql: the fleet
# ban store's test starts a throwaway server. openssh-server, sshpass:
# the guard's end-to-end test (a real sshd in a namespace, password guesses).
PKGS=(iptables ipset nftables conntrack iproute2 procps fail2ban postgresql tcpdump openssh-server sshpass time)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# `systemd-analyze verify` checks dist/rampart.service.
command -v systemd-analyze >/dev/null || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The conformance suite lives beside the repository (../shared).
if [ ! -d ../shared/conformance/iptables-extension-tests ] && [ -z "${RAMPART_CONFORMANCE_DIR:-}" ]; then
  echo "error: ../shared/conformance/iptables-extension-tests not found (set RAMPART_CONFORMANCE_DIR)" >&2
  exit 2
fi

cargo test --workspace --locked "$@"
