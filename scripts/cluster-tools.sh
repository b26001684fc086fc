#!/usr/bin/env bash
# Builds (once) the real control-plane binaries from tests/cluster/tools and prints their folder
# (kubelet and the pause binary for scripts/node.sh's real node among them).
# The binaries are cached outside the repo, keyed by the pinned versions, so a warm machine skips
# the build entirely. Everything comes from the Go module proxy; nothing is downloaded otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/tests/cluster/tools"
export GOTOOLCHAIN=local
# --no-build: only report the cached folder (fails if a binary is missing). Callers that merely
# stop or inspect a cluster use it, so they never trigger a long build or need Go.
no_build=false
[ "${1:-}" = --no-build ] && no_build=true

need_go() {
  command -v go >/dev/null 2>&1 && return 0
  echo "cluster-tools: Go is required to build the control plane (kube-apiserver, etcd, kwok)." >&2
  echo "cluster-tools: install Go 1.26+ and put it on PATH (e.g. /usr/local/go/bin)." >&2
  exit 1
}

ver() { awk -v m="$1" '$1==m {print $2; exit}' "$tools/go.mod"; }
key="k8s-$(ver k8s.io/kubernetes)_kwok-$(ver sigs.k8s.io/kwok)_etcd-$(ver go.etcd.io/etcd/server/v3)"
bin="${K8S_RESTART_APP_CACHE:-$HOME/.cache/k8s-restart-app}/bin/$key"

cmds=(
  "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"
  "kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager"
  "kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler"
  "kubectl k8s.io/kubernetes/cmd/kubectl"
  "kubelet k8s.io/kubernetes/cmd/kubelet"
  "kwok sigs.k8s.io/kwok/cmd/kwok"
  "kwokctl sigs.k8s.io/kwok/cmd/kwokctl"
  "etcd go.etcd.io/etcd/server/v3"
  "pause ./pause"
)

# Stamp the Kubernetes version into the binaries the way upstream's release build does: kwokctl
# and the components read it (a bare `go build` reports v0.0.0-master).
ldflags() {
  local v; v=$(ver k8s.io/kubernetes); local minor=${v#v1.}; minor=${minor%%.*}
  local p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$p" "$v" "$p" "$p" "$minor" "$p"
  done
}

mkdir -p "$bin"
# Two checkouts on one machine share this cache: one builds while the other waits for the lock,
# then finds the binaries there. Descriptor 8 is closed for everything started below.
if ! $no_build; then
  exec 8>"$bin/.lock"
  flock 8
fi
for c in "${cmds[@]}"; do
  name=${c%% *}; pkg=${c#* }
  # pause is this repository's own code (tests/cluster/tools/pause): rebuilt when its source is newer.
  if [ -x "$bin/$name" ] && { $no_build || [ "$name" != pause ] || [ ! "$tools/pause/main.go" -nt "$bin/pause" ]; }; then continue; fi
  if $no_build; then
    echo "cluster-tools: $bin/$name is not built yet; run scripts/cluster-tools.sh (or make tools)" >&2
    exit 1
  fi
  need_go
  echo "cluster-tools: building $name ($pkg) into $bin" >&2
  start=$(date +%s)
  # Build to a temp name and rename, so an interrupted build never leaves a half binary cached.
  (cd "$tools" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $(ldflags)" -o "$bin/.$name.tmp.$$" "$pkg" 8>&-)
  mv "$bin/.$name.tmp.$$" "$bin/$name"
  echo "cluster-tools: built $name in $(( $(date +%s) - start ))s" >&2
done
echo "$bin"
