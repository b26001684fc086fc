#!/usr/bin/env bash
# Installs what `make demo` / `make test` need and a new machine lacks: the npm packages (Bun
# among them, exactly as package-lock.json pins them) and, with --browser, Debian's chromium.
# Go is the one prerequisite; the control-plane binaries are built by scripts/cluster-tools.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v npm >/dev/null 2>&1 || { echo "deps: npm (Node.js 20+) is required" >&2; exit 1; }
# Reinstall when node_modules is missing or older than the lock file.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "deps: $* missing; install it (sudo apt-get install -y $*) or run as root" >&2
    exit 1
  fi
  echo "deps: apt-get install $*" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${1:-}" = "--browser" ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then missing+=(chromium); fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
