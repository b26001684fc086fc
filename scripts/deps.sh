#!/usr/bin/env bash
# Installs what `make demo` / `make test` need and a new machine lacks: the npm packages (Bun
# among them, exactly as package-lock.json pins them) and, from Debian: with --browser chromium,
# with --image podman + runc (scripts/image.sh, scripts/podman.sh), with --node containerd + runc
# + the CNI plugins (scripts/node.sh). Flags combine. Go is the one prerequisite; the
# control-plane binaries are built by scripts/cluster-tools.sh.
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
# Container tools without their recommends: those pull crun (which fails on hybrid cgroups) and
# buildah, neither of which is used.
bare=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
for flag in "$@"; do
  case $flag in
    --browser) [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium) ;;
    --image) command -v podman >/dev/null 2>&1 || bare+=(podman); command -v runc >/dev/null 2>&1 || bare+=(runc) ;;
    --node)
      command -v containerd >/dev/null 2>&1 || bare+=(containerd)
      command -v runc >/dev/null 2>&1 || bare+=(runc)
      [ -x /usr/lib/cni/bridge ] || bare+=(containernetworking-plugins)
      command -v socat >/dev/null 2>&1 || bare+=(socat)
      command -v ip >/dev/null 2>&1 || bare+=(iproute2)
      # The pause image is assembled with podman.
      command -v podman >/dev/null 2>&1 || bare+=(podman)
      ;;
    *) echo "deps: unknown flag $flag (known: --browser --image --node)" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
[ ${#bare[@]} -eq 0 ] || apt_install --no-install-recommends $(printf '%s\n' "${bare[@]}" | sort -u)
