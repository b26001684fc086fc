#!/usr/bin/env bash
# Smoke test of the running local control plane (scripts/cluster.sh up): nodes Ready, the sample
# workloads roll out, real rolling restarts complete, and TLS / client-cert / ServiceAccount-token
# authentication and the audit log work the way the app's tests rely on.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
envfile="${CLUSTER_STATE:-$root/.cluster}/env"
[ -f "$envfile" ] || { echo "smoke: FAIL: $envfile missing; run make cluster-up first" >&2; exit 1; }
# shellcheck disable=SC1090
. "$envfile"
export PATH="$TOOLS_BIN:$PATH" KUBECONFIG

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
step_start=0
step() { step_start=$SECONDS; echo "smoke: $*" >&2; }
done_step() { echo "smoke:   ok ($((SECONDS - step_start))s)" >&2; }
total_start=$SECONDS

step "nodes Ready"
[ "$(kubectl get nodes --no-headers | wc -l)" -ge 3 ] || fail "expected 3 nodes: $(kubectl get nodes 2>&1)"
kubectl wait --for=condition=Ready node --all --timeout=60s >/dev/null || fail "nodes not Ready: $(kubectl get nodes 2>&1)"
done_step

step "apply workloads and wait for every rollout"
"$root/scripts/cluster.sh" workloads || fail "workloads did not roll out"
# Every pod must sit on a kwok node, or kwok would never make it Ready.
unplaced=$(kubectl get pods -A -l 'app in (web,api,db,agent,worker,ledger)' \
  -o jsonpath='{range .items[?(@.spec.nodeName=="")]}{.metadata.namespace}/{.metadata.name} {end}')
[ -z "$unplaced" ] || fail "unscheduled pods: $unplaced"
done_step

# Restart = the same annotation patch the app sends; the old pods must really be replaced, not
# just the rollout reported done.
restart() {
  local ns=$1 obj=$2 app=${2#*/} old uid left i
  old=$(kubectl -n "$ns" get pods -l "app=$app" -o jsonpath='{.items[*].metadata.uid}')
  [ -n "$old" ] || fail "$ns/$obj has no pods before restart"
  kubectl -n "$ns" rollout restart "$obj" >/dev/null || fail "rollout restart $ns/$obj"
  kubectl -n "$ns" rollout status "$obj" --timeout=120s >/dev/null ||
    fail "restart of $ns/$obj did not complete: $(kubectl -n "$ns" get "$obj" -o wide 2>&1)"
  for i in $(seq 1 30); do
    left=0
    for uid in $old; do
      kubectl -n "$ns" get pods -l "app=$app" -o jsonpath='{.items[*].metadata.uid}' | grep -qw "$uid" && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 1
  done
  fail "old pods of $ns/$obj still present 30s after the rollout completed"
}
for target in shop:deployment/web shop:statefulset/db shop:daemonset/agent; do
  step "rollout restart ${target%%:*}/${target#*:}"
  restart "${target%%:*}" "${target#*:}"
  done_step
done

step "HTTPS with the cluster CA and the admin client certificate"
curl -sf --cacert "$CA_FILE" --cert "$CLIENT_CERT_FILE" --key "$CLIENT_KEY_FILE" "$APISERVER/readyz" >/dev/null ||
  fail "client-cert request to $APISERVER/readyz with CA verification failed"
# Without a client certificate the request must be rejected (anonymous is not authorized).
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" "$APISERVER/api/v1/namespaces")
[ "$code" = 401 ] || [ "$code" = 403 ] || fail "anonymous request returned $code, expected 401/403"
done_step

step "ServiceAccount token authenticates and is authorized by RBAC"
# A fresh namespace per run: the previous run's one may still be terminating.
sa_ns=smoke-sa-$(date +%s)-$$
kubectl create namespace "$sa_ns" >/dev/null
kubectl -n "$sa_ns" create serviceaccount probe >/dev/null
token=$(kubectl -n "$sa_ns" create token probe --duration=10m) || fail "kubectl create token failed"
who=$(curl -sf --cacert "$CA_FILE" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -X POST "$APISERVER/apis/authentication.k8s.io/v1/selfsubjectreviews" \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}') || fail "token did not authenticate"
echo "$who" | grep -q "\"system:serviceaccount:$sa_ns:probe\"" || fail "unexpected identity: $who"
# No RoleBinding yet, so listing deployments must be forbidden; this proves RBAC is enforced.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" -H "Authorization: Bearer $token" \
  "$APISERVER/apis/apps/v1/namespaces/shop/deployments")
[ "$code" = 403 ] || fail "unbound ServiceAccount got $code listing deployments, expected 403"
kubectl delete namespace "$sa_ns" --wait=false >/dev/null
done_step

step "audit log records the restarts"
[ -s "$AUDIT_LOG" ] || fail "audit log $AUDIT_LOG is empty or missing"
# One grep, not a pipeline: `grep | grep -q` fails under pipefail when -q exits early (SIGPIPE).
grep -q '"verb":"patch".*"objectRef":{"resource":"deployments","namespace":"shop","name":"web"' "$AUDIT_LOG" ||
  fail "no audit entry for the patch of shop/web in $AUDIT_LOG"
! grep -q '"stage":"RequestReceived"' "$AUDIT_LOG" || fail "RequestReceived stage is not omitted"
done_step

echo "smoke: PASS in $((SECONDS - total_start))s" >&2
