#!/usr/bin/env bash
# Runs the e2e suite against a kind cluster (real kubelets and containers); needs Docker + kind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=k8s-restart-app
kubeconfig="$root/.cluster/kind-kubeconfig"

die() { echo "e2e-kind: ERROR: $*" >&2; exit 1; }
# `docker` may be installed as a client only; only a reachable engine can run kind's nodes.
command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ||
  die "needs docker + kind: no Docker engine is reachable (docker info failed). Without Docker use: make cluster-up && make test-e2e"
command -v kind >/dev/null 2>&1 || die "needs docker + kind: kind is not on PATH"
command -v kubectl >/dev/null 2>&1 || die "needs kubectl on PATH"

mkdir -p "$root/.cluster"
if kind get clusters 2>/dev/null | grep -qx "$name"; then
  echo "e2e-kind: reusing kind cluster $name" >&2
else
  kind create cluster --name "$name" --config "$root/kind-config.yaml" --kubeconfig "$kubeconfig" --wait 120s
fi
# Written every time so a cluster created elsewhere (or a rotated port) still gets a fresh file.
kind get kubeconfig --name "$name" >"$kubeconfig"
chmod 600 "$kubeconfig"

export KUBECONFIG="$kubeconfig"
kubectl apply -f "$root/deploy/examples/workloads.yaml"
for ns in shop billing; do
  for obj in $(kubectl -n "$ns" get deployment,statefulset,daemonset -o name); do
    [ "$obj" = deployment.apps/frozen ] && continue   # paused on purpose; never rolls out
    kubectl -n "$ns" rollout status "$obj" --timeout=180s
  done
done

cd "$root"
KUBECONFIG_E2E="$kubeconfig" make test-e2e
