#!/usr/bin/env bash
# Local real Kubernetes control plane for tests and the demo: up | down | status | workloads.
#
# A real etcd + kube-apiserver + kube-controller-manager + kube-scheduler run as plain processes
# (kwokctl's "binary" runtime, no Docker), and kwok fakes 3 nodes whose pods become Running/Ready
# without containers. The apiserver serves HTTPS with its own CA, client-certificate auth, RBAC
# and ServiceAccount tokens, so the app is exercised exactly as against a production cluster.
#
# Everything kwokctl writes lives in .cluster/ (gitignored). After `up`, .cluster/env holds
# shell-style KEY=VALUE lines (APISERVER, CA_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE, KUBECONFIG,
# AUDIT_LOG, KUBECTL, ...) for tests and the app; source it or parse it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# CLUSTER_STATE/CLUSTER_NAME let a second, throw-away cluster run beside the shared one (e.g. to
# test this script without disturbing tests that use .cluster).
state=${CLUSTER_STATE:-$root/.cluster}
name=${CLUSTER_NAME:-k8s-restart-app}
nodes=${CLUSTER_NODES:-3}
# kwokctl keeps every cluster under $KWOK_WORKDIR/clusters/<name>; pointing it into the repo keeps
# ~/.kwok untouched and lets `down` + `rm -rf .cluster` reset everything.
export KWOK_WORKDIR="$state/kwok"
cdir="$KWOK_WORKDIR/clusters/$name"
kubeconfig="$state/kubeconfig"
envfile="$state/env"
workloads="$root/deploy/examples/workloads.yaml"
# kwokctl's default component set; it keeps one pid file per component in $cdir/pids.
components="etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller"

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: ERROR: $*" >&2; exit 1; }

# Resolve the cached tool folder and put it first on PATH: kwokctl runs whatever `kubectl` it finds
# first, and Debian's /usr/bin/kubectl (1.20) is far too old for a 1.36 apiserver.
# $1=build: build missing binaries (needs Go); otherwise only use what is already cached.
use_tools() {
  local mode=${1:-nobuild} args=()
  [ "$mode" = build ] || args=(--no-build)
  bin=$("$root/scripts/cluster-tools.sh" "${args[@]}") || return 1
  export PATH="$bin:$PATH"
  [ "$(command -v kubectl)" = "$bin/kubectl" ] || die "kubectl resolves to $(command -v kubectl), not $bin/kubectl"
  [ -x "$bin/kwokctl" ] || die "$bin/kwokctl is missing"
}

k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

# kwokctl forks the control-plane daemons, which inherit our open descriptors; closing the lock
# descriptor (9) keeps them from holding the lock for as long as the cluster runs.
# --config: our own file instead of ~/.kwok/kwok.yaml, so a developer's personal kwok settings
# cannot change this cluster; it binds everything to 127.0.0.1 (kwokctl's default is 0.0.0.0,
# which would expose an unauthenticated etcd to the network).
kwokctl() { command kwokctl --config "$root/tests/cluster/kwokctl.yaml" "$@" 9>&- 7>&-; }

created() { [ -f "$cdir/kwok.yaml" ]; }

# kill -0 also succeeds for a zombie, and a crashed daemon stays a zombie until its (re)parent
# reaps it, which some sandboxes' PID 1 does late; only a non-zombie process counts as alive.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }

# Healthy means the apiserver answers /readyz through the admin kubeconfig (so TLS + client cert
# work) and every component process recorded by kwokctl is alive.
healthy() {
  created && [ -f "$kubeconfig" ] || return 1
  k get --raw=/readyz --request-timeout=5s >/dev/null 2>&1 || return 1
  local c
  for c in $components; do
    [ -f "$cdir/pids/$c.pid" ] && alive "$(cat "$cdir/pids/$c.pid")" || return 1
  done
}

# Processes of this cluster: kwokctl starts each component from $cdir/bin with paths under $cdir in
# its arguments, so matching on $cdir never touches another cluster or an unrelated etcd.
leftovers() { pgrep -f -- "$cdir/" || true; }

write_env() {
  local server ca="$cdir/pki/ca.crt" cert="$cdir/pki/admin.crt" key="$cdir/pki/admin.key"
  # umask first: the kubeconfig carries the admin key and must never exist world-readable.
  (umask 077 && kwokctl get kubeconfig --name "$name" >"$kubeconfig.tmp")
  mv "$kubeconfig.tmp" "$kubeconfig"
  server=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  # `kwokctl get kubeconfig` inlines the certificates; tests that need files get kwokctl's PKI
  # files, after checking they are the very certificates the kubeconfig carries.
  [ "$(k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d)" = "$(cat "$ca")" ] ||
    die "$ca does not match the CA in the kubeconfig"
  [ "$(k config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d)" = "$(cat "$cert")" ] ||
    die "$cert does not match the client certificate in the kubeconfig"
  [ -f "$key" ] || die "$key is missing"
  # Stable, short paths for humans and tests; the real files stay where kwokctl manages them.
  ln -sfn "$cdir/logs/audit.log" "$state/audit.log"
  ln -sfn "$cdir/pki" "$state/pki"
  cat >"$envfile.tmp" <<EOF
# Written by scripts/cluster.sh up; describes the running local control plane.
CLUSTER_NAME=$name
APISERVER=$server
CA_FILE=$ca
CLIENT_CERT_FILE=$cert
CLIENT_KEY_FILE=$key
KUBECONFIG=$kubeconfig
AUDIT_LOG=$state/audit.log
AUDIT_LOG_REAL=$cdir/logs/audit.log
SERVICE_ACCOUNT_ISSUER=https://kubernetes.default.svc.cluster.local
KUBECTL=$bin/kubectl
TOOLS_BIN=$bin
KWOK_WORKDIR=$KWOK_WORKDIR
EOF
  mv "$envfile.tmp" "$envfile"
}

wait_nodes() {
  local i
  # Node objects appear a moment after `scale`; `kubectl wait` fails on an empty selection.
  for i in $(seq 1 60); do
    [ "$(k get nodes --no-headers 2>/dev/null | wc -l)" -ge "$nodes" ] && break
    sleep 1
  done
  k wait --for=condition=Ready node --all --timeout=120s >/dev/null ||
    die "nodes did not become Ready: $(k get nodes 2>&1)"
  # A node lease per node proves kwok-controller is managing the nodes (Ready alone may be stale).
  for i in $(seq 1 60); do
    [ "$(k -n kube-node-lease get lease --no-headers 2>/dev/null | wc -l)" -ge "$nodes" ] && return 0
    sleep 1
  done
  die "kwok-controller did not take the nodes over (no node leases); logs in $cdir/logs"
}

cmd_up() {
  use_tools build
  mkdir -p "$state"
  if healthy; then
    log "already running ($(grep '^APISERVER=' "$envfile" | cut -d= -f2-)); nothing to do"
    write_env
    return 0
  fi
  local start=$SECONDS kube_version restarted=false
  if created; then
    restarted=true
    # Stopped or partly crashed (reboot, killed processes) but its etcd data and PKI are intact:
    # restart it in place. Stop first: `start` skips every component whose pid is still "running",
    # which includes zombies and controllers that will exit anyway once they lose the apiserver.
    log "restarting existing cluster $name"
    kwokctl stop cluster --name "$name"
    kwokctl start cluster --name "$name"
  else
    # kwokctl defaults its Kubernetes version to the one it was released with; tell it the real
    # one so anything it derives from the version matches the binaries.
    kube_version=$("$bin/kube-apiserver" --version | awk '{print $2}')
    log "creating cluster $name (Kubernetes $kube_version) in $cdir"
    # kwokctl picks free ports when it creates a cluster and binds them only later: two checkouts
    # creating clusters at the same moment can pick the same port. One creation at a time per
    # machine (the lock lives beside the shared binaries; descriptor 7 is closed for the daemons).
    exec 7>"$bin/.create.lock"
    flock 7
    # --kubeconfig "": do not merge a context into ~/.kube/config; we write .cluster/kubeconfig.
    # audit-log-max*: the audit log has no size limit by default and busy test runs write ~2 MB a
    # minute; cap it (rotation renames the full file and starts a new audit.log).
    # Ports are left to kwokctl, which picks free ones above 10000 (never the app's 8080).
    KWOK_KUBE_VERSION=$kube_version kwokctl create cluster \
      --name "$name" \
      --runtime binary \
      --kube-apiserver-binary "$bin/kube-apiserver" \
      --kube-controller-manager-binary "$bin/kube-controller-manager" \
      --kube-scheduler-binary "$bin/kube-scheduler" \
      --kwok-controller-binary "$bin/kwok" \
      --etcd-binary "$bin/etcd" \
      --kube-audit-policy "$root/tests/cluster/audit-policy.yaml" \
      --kubeconfig "" \
      --extra-args kube-apiserver=audit-log-maxsize=200 \
      --extra-args kube-apiserver=audit-log-maxbackup=2 \
      --wait 3m
    flock -u 7
  fi
  write_env
  # /readyz rather than /version: readyz waits for RBAC bootstrap roles, which ServiceAccount and
  # client-cert tests depend on.
  local i
  for i in $(seq 1 60); do
    k get --raw=/readyz --request-timeout=5s >/dev/null 2>&1 && break
    [ "$i" = 60 ] && die "apiserver not ready after 60s; logs in $cdir/logs"
    sleep 1
  done
  if $restarted; then
    # kwok-controller takes a new random identity on every start and leaves nodes alone while
    # their leases are held by the previous identity (up to 40s, see tests/cluster/kwokctl.yaml),
    # so new pods would stay Pending meanwhile. All leases in kube-node-lease belong to kwok's
    # fake nodes: drop them so the new controller takes the nodes over at its next renewal (10s).
    k -n kube-node-lease delete lease --all --wait=false >/dev/null
  fi
  # scale is declarative (sets the count of kwok-managed nodes), so it is safe on restarts too.
  kwokctl scale node --name "$name" --replicas "$nodes" >/dev/null
  wait_nodes
  healthy || die "cluster came up but a component is not running; logs in $cdir/logs"
  log "up in $((SECONDS - start))s: $(grep '^APISERVER=' "$envfile" | cut -d= -f2-)"
  log "env: $envfile   kubeconfig: $kubeconfig   audit log: $state/audit.log"
}

cmd_down() {
  if ! created; then
    [ -z "$(leftovers)" ] || die "no cluster config in $cdir but processes remain: $(leftovers | xargs)"
    log "no cluster $name; nothing to do"
    rm -f "$envfile" "$kubeconfig" "$state/audit.log" "$state/pki"
    return 0
  fi
  use_tools nobuild
  # --kubeconfig names our own file (kwokctl rejects an empty path here and would otherwise edit
  # ~/.kube/config); the file is removed below anyway.
  kwokctl delete cluster --name "$name" --kubeconfig "$kubeconfig"
  local i pids
  # delete sends SIGTERM and returns; give etcd and the apiserver a moment to flush and exit.
  for i in $(seq 1 30); do
    pids=$(leftovers)
    [ -z "$pids" ] && break
    sleep 1
  done
  [ -z "$pids" ] || die "processes of cluster $name still running after delete: $(echo "$pids" | xargs)"
  rm -f "$envfile" "$kubeconfig" "$state/audit.log" "$state/pki"
  log "cluster $name deleted; no etcd/kube-apiserver/kwok-controller left for it"
}

cmd_status() {
  if ! created; then
    log "cluster $name does not exist (run: make cluster-up)"
    return 1
  fi
  use_tools nobuild
  if healthy; then
    cat "$envfile"
    k get nodes
    return 0
  fi
  log "cluster $name exists but is not healthy (run: make cluster-up to restart it)"
  kwokctl get components --name "$name" >&2 || true
  return 1
}

# Applies the sample workloads and waits until each of their rollouts finished. Only objects of
# the manifest are waited for (tests may add others to the same namespaces), and paused ones
# (frozen) are skipped: a paused Deployment never rolls out, by design.
cmd_workloads() {
  use_tools nobuild
  healthy || die "cluster is not running (run: make cluster-up)"
  k apply -f "$workloads" >&2
  local kind ns obj paused
  while read -r kind ns obj paused; do
    case $kind in Deployment | StatefulSet | DaemonSet) ;; *) continue ;; esac
    [ "$paused" = true ] && continue
    k -n "$ns" rollout status "$kind/$obj" --timeout=120s >&2 ||
      die "rollout of $ns/$kind/$obj did not complete: $(k -n "$ns" get "$kind/$obj" -o wide 2>&1)"
  done < <(k get -f "$workloads" --no-headers \
    -o custom-columns=KIND:.kind,NS:.metadata.namespace,NAME:.metadata.name,PAUSED:.spec.paused)
  log "workloads ready"
}

[ $# -eq 1 ] || die "usage: $0 up|down|status|workloads"
mkdir -p "$state"
# Tests and make targets may call up/down concurrently; serialise them on one lock.
exec 9>"$state/.lock"
flock 9
case $1 in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  workloads) cmd_workloads ;;
  *) die "usage: $0 up|down|status|workloads" ;;
esac
