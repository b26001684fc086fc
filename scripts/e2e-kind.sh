#!/usr/bin/env bash
# Runs the e2e suite against a kind cluster (real kubelets and containers); needs Docker + kind.
#
# NOT RUN ON OUR MACHINES: they have no Docker engine, so only the refusal below has been
# exercised. On a machine with Docker it: creates the cluster from kind-config.yaml (audit log
# on), builds the image and deploys the app from deploy/overlays/example, applies the sample
# workloads, describes the cluster in .cluster/kind-env for the tests (the same keys as
# .cluster/env) and runs the e2e suite against it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=k8s-restart-app
state="$root/.cluster"
kubeconfig="$state/kind-kubeconfig"
envfile="$state/kind-env"
audit_dir=/tmp/k8s-restart-app-kind-audit   # must match kind-config.yaml's hostPath
image=ghcr.io/k8scope/k8s-restart-app:e2e-kind

die() { echo "e2e-kind: ERROR: $*" >&2; exit 1; }
# `docker` may be installed as a client only; only a reachable engine can run kind's nodes.
command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ||
  die "needs docker + kind: no Docker engine is reachable (docker info failed). Without Docker use: make cluster-up && make test-e2e"
command -v kind >/dev/null 2>&1 || die "needs docker + kind: kind is not on PATH"
command -v kubectl >/dev/null 2>&1 || die "needs kubectl on PATH"

mkdir -p "$state" "$audit_dir"
cp "$root/tests/cluster/audit-policy.yaml" "$audit_dir/audit-policy.yaml"
if kind get clusters 2>/dev/null | grep -qx "$name"; then
  echo "e2e-kind: reusing kind cluster $name" >&2
else
  kind create cluster --name "$name" --config "$root/kind-config.yaml" --kubeconfig "$kubeconfig" --wait 180s
fi
# Written every time so a cluster created elsewhere (or a rotated port) still gets a fresh file.
kind get kubeconfig --name "$name" >"$kubeconfig"
chmod 600 "$kubeconfig"
export KUBECONFIG="$kubeconfig"

# Tests that build their own workloads pin them to nodes labelled type=kwok (the fake nodes of
# the local control plane); give kind's workers that label so the same manifests schedule.
kubectl label nodes -l '!node-role.kubernetes.io/control-plane' type=kwok --overwrite

# The app itself, deployed as a user would: image built from the Dockerfile, loaded into kind,
# the example overlay with that image.
docker build -t "$image" "$root"
kind load docker-image --name "$name" "$image"
overlay=$(mktemp -d)
trap 'rm -rf "$overlay"' EXIT
cat >"$overlay/kustomization.yaml" <<YAML
resources: ["$root/deploy/overlays/example"]
images: [{name: ghcr.io/k8scope/k8s-restart-app, newName: ghcr.io/k8scope/k8s-restart-app, newTag: e2e-kind}]
YAML
kubectl apply -f "$root/deploy/examples/workloads.yaml"
kubectl apply -k "$overlay"
kubectl -n k8s-restart-app rollout status deployment/k8s-restart-app --timeout=180s
for ns in shop billing; do
  for obj in $(kubectl -n "$ns" get deployment,statefulset,daemonset -o name); do
    [ "$obj" = deployment.apps/frozen ] && continue   # paused on purpose; never rolls out
    kubectl -n "$ns" rollout status "$obj" --timeout=180s
  done
done

# The tests read the cluster from an env file with the keys of .cluster/env.
view() { kubectl config view --raw --minify -o jsonpath="$1"; }
view '{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$state/kind-ca.crt"
view '{.users[0].user.client-certificate-data}' | base64 -d >"$state/kind-admin.crt"
view '{.users[0].user.client-key-data}' | base64 -d >"$state/kind-admin.key"
chmod 600 "$state/kind-admin.key"
cat >"$envfile" <<ENV
# Written by scripts/e2e-kind.sh; describes the kind cluster for the e2e suite.
CLUSTER_NAME=kind-$name
APISERVER=$(view '{.clusters[0].cluster.server}')
CA_FILE=$state/kind-ca.crt
CLIENT_CERT_FILE=$state/kind-admin.crt
CLIENT_KEY_FILE=$state/kind-admin.key
KUBECONFIG=$kubeconfig
AUDIT_LOG=$audit_dir/audit.log
KUBECTL=$(command -v kubectl)
ENV

cd "$root"
CLUSTER_ENV_FILE="$envfile" SUITES=e2e scripts/test.sh
