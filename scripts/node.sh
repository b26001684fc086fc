#!/usr/bin/env bash
# One real node in the local control plane (scripts/cluster.sh): a kubelet built from the same
# tools module as the other components, Debian's containerd + runc, the CNI bridge plugin.
#   up             start it (the control plane must be up); waits until the node is Ready
#   down           stop it; no process, mount, network namespace or bridge of it is left behind
#   status         print .cluster/node/env and the node, fail if it is not Ready
#   import IMAGE   copy an image from podman's store into the node's containerd
#
# Everything is private to this worktree: containerd's config, root, state and socket, the
# kubelet's root and ports, the bridge and its subnet all live under .cluster/node (or are named
# after it), so several worktrees may each run one. The node:
# - is named k8s-restart-app-node; its address (InternalIP) is the gateway of its own bridge, a
#   host-local address: the kubelet refuses a loopback node IP, and listening on every address
#   would expose its API. The API server reaches the kubelet there for logs, exec and
#   port-forward (cluster.sh starts it preferring InternalIP over the unresolvable node name);
# - carries the taint k8s-restart-app.test/real-node=true:NoSchedule and the same label, so only
#   pods that tolerate it and select it land there (kwok's fake nodes keep everything else);
# - serves its kubelet API with anonymous auth and AlwaysAllow (a test cluster on loopback);
# - uses cgroupfs without QoS cgroups, no allocatable enforcement and no swap/cgroup v1 refusal,
#   which machines without systemd and with a hybrid cgroup layout need;
# - has no kube-proxy: pods reach the API server at kubernetes.default.svc (a name in its serving
#   certificate) through a socat forwarder on the bridge's gateway address, port 443 -> the API
#   server's loopback port. A pod opts in with hostAliases and KUBERNETES_SERVICE_HOST (the
#   values are in .cluster/node/env: NODE_API_HOST_IP, NODE_API_HOST).
# The sandbox ("pause") image is built locally from tests/cluster/tools/pause (no registry).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${CLUSTER_STATE:-$root/.cluster}
# The control plane joined: this checkout's, or the one CLUSTER_ENV_FILE describes (as scripts/test.sh).
cluster_file=${CLUSTER_ENV_FILE:-$state/env}
d="$state/node"
envfile="$d/env"
name=k8s-restart-app-node
taint_key=k8s-restart-app.test/real-node
sock="$d/containerd.sock"
pause_image=localhost/k8s-restart-app/pause:node
log() { echo "node: $*" >&2; }
die() { echo "node: ERROR: $*" >&2; exit 1; }

alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }
pidof_file() { [ -f "$d/$1.pid" ] && cat "$d/$1.pid"; }
running() { local p; p=$(pidof_file "$1") && alive "$p"; }

cluster_env() {
  [ -f "$cluster_file" ] || die "the control plane is not up (no $cluster_file; run: make cluster-up)"
  # shellcheck disable=SC1090
  source <(grep -E '^[A-Z_]+=' "$cluster_file")
  kubectl=$KUBECTL
}
k() { "$kubectl" --kubeconfig "$KUBECONFIG" "$@"; }
ctr() { command ctr --address "$sock" --namespace k8s.io "$@"; }

# A bridge name (at most 15 characters) and a /24 that no other worktree's node uses: derived
# from this folder, moved on while the subnet is routed already.
pick_network() {
  local h n i
  h=$(printf %s "$d" | cksum | cut -d' ' -f1)
  bridge="k8sra$(printf %05x $((h % 1048576)))"
  n=$((h % 200 + 20))
  local routes
  routes=$(ip route show)
  for i in $(seq 0 30); do
    subnet="10.$((n + i)).77"
    grep -q "^$subnet.0/24" <<<"$routes" || { gateway="$subnet.1"; return 0; }
  done
  die "no free 10.x.77.0/24 subnet for the node's bridge"
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
}

write_configs() {
  mkdir -p "$d/cni" "$d/logs" "$d/pki" "$d/containerd" "$d/kubelet"
  cat >"$d/containerd.toml" <<EOF
# Written by scripts/node.sh: this node's private containerd.
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.overlayfs"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # Pod network namespaces under our state folder, not /run/netns, so down finds exactly ours.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    # overlayfs needs what these machines lack (as podman's vfs); native copies layers.
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
    max_conf_num = 1
EOF
  # No ipMasq (pods need no route beyond this machine), host-local IPs in a private data dir.
  cat >"$d/cni/10-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$d/cni-ipam",
        "ranges": [[{"subnet": "$subnet.0/24", "gateway": "$gateway"}]]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  cat >"$d/kubelet.yaml" <<EOF
# Written by scripts/node.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $gateway
port: $kubelet_port
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
readOnlyPort: 0
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
localStorageCapacityIsolation: false
registerWithTaints:
  - {key: $taint_key, value: "true", effect: NoSchedule}
# A machine shared with other work: never evict or garbage-collect the locally imported images.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# Container logs in our folder (the kubelet links them from /var/log/containers; down removes those).
podLogsDir: $d/pod-logs
rotateCertificates: false
EOF
}

# The kubelet's client certificate: system:node:<name> in system:nodes (the Node authorizer).
node_kubeconfig() {
  local ca=$CA_FILE cakey
  cakey=$(dirname "$CA_FILE")/ca.key
  [ -f "$cakey" ] || die "$cakey missing (kwokctl's PKI)"
  (umask 077
    openssl req -new -newkey rsa:2048 -nodes -keyout "$d/pki/node.key" -out "$d/pki/node.csr" \
      -subj "/O=system:nodes/CN=system:node:$name" 2>/dev/null
    openssl x509 -req -in "$d/pki/node.csr" -CA "$ca" -CAkey "$cakey" -CAcreateserial \
      -out "$d/pki/node.crt" -days 7 2>/dev/null)
  cat >"$d/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: "$APISERVER", certificate-authority: "$ca"}
users:
  - name: node
    user: {client-certificate: "$d/pki/node.crt", client-key: "$d/pki/node.key"}
contexts:
  - name: node
    context: {cluster: local, user: node}
current-context: node
EOF
  chmod 600 "$d/kubelet.kubeconfig"
}

start_daemon() { # name, command...
  local n=$1; shift
  setsid "$@" >"$d/logs/$n.log" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$d/$n.pid"
}

wait_for() { # seconds, description, command...
  local secs=$1 what=$2 i; shift 2
  for i in $(seq 1 "$((secs * 4))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "$what within ${secs}s"
}

# Builds the pause image with podman (the binary alone, uid 65535 as upstream's) and imports it.
import_pause() {
  local t="$d/pause-root" old
  old=$("$root/scripts/podman.sh" image inspect --format '{{.Id}}' "$pause_image" 2>/dev/null || true)
  rm -rf "$t"; mkdir -p "$t"
  cp "$TOOLS_BIN/pause" "$t/pause"
  tar --numeric-owner -C "$t" -cf - . | "$root/scripts/podman.sh" import \
    --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' - "$pause_image" >/dev/null
  rm -rf "$t"
  # The previous build of the tag is nameless now.
  if [ -n "$old" ] && [ "$old" != "$("$root/scripts/podman.sh" image inspect --format '{{.Id}}' "$pause_image")" ]; then
    "$root/scripts/podman.sh" rmi "$old" >/dev/null 2>&1 || true
  fi
  cmd_import "$pause_image"
}

cmd_import() {
  local image=$1 tar="$d/import.tar"
  [ -S "$sock" ] || die "the node is not up (run: make node-up)"
  rm -f "$tar"
  "$root/scripts/podman.sh" save --format docker-archive -o "$tar" "$image" >/dev/null 2>&1 ||
    die "podman save $image failed (built? run: make image)"
  ctr images import --snapshotter native "$tar" >/dev/null || die "ctr images import $image failed"
  rm -f "$tar"
  # Not `ctr ... | grep -q`: grep stops at the first match, ctr then dies of SIGPIPE and pipefail
  # turns the hit into a failure.
  local have
  have=$(ctr images ls -q)
  grep -qx "$image" <<<"$have" || die "$image not in the node's containerd after import: $have"
  log "imported $image"
}

node_ready() {
  [ "$(k get node "$name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

cmd_up() {
  "$root/scripts/deps.sh" --node --image
  cluster_env
  [ "${TOOLS_BIN:-}" ] || die "$cluster_file has no TOOLS_BIN"
  local bin
  bin=$("$root/scripts/cluster-tools.sh") # builds kubelet and pause on first use
  TOOLS_BIN=$bin
  if running kubelet && running containerd && node_ready; then
    log "already up"; cat "$envfile"; return 0
  fi
  # A half-started node from before: clear it first.
  [ ! -d "$d" ] || cmd_down
  # The API server must prefer InternalIP to reach this kubelet (see cluster.sh).
  k get --raw /version >/dev/null || die "the control plane does not answer"
  grep -q 'kubelet-preferred-address-types=InternalIP' "$KWOK_WORKDIR/clusters/$CLUSTER_NAME/kwok.yaml" ||
    die "the control plane predates the real node (its API server does not prefer InternalIP): recreate it (make cluster-down cluster-up)"
  local start=$SECONDS
  mkdir -p "$d"
  [ ${#sock} -lt 100 ] || die "socket path too long for unix sockets: $sock (clone to a shorter path)"
  pick_network
  kubelet_port=$(free_port) healthz_port=$(free_port)
  write_configs
  node_kubeconfig

  # The bridge with its gateway address exists before the first pod, so the API forwarder and the
  # kubelet can bind to it.
  ip link add name "$bridge" type bridge
  ip addr add "$gateway/24" dev "$bridge"
  ip link set "$bridge" up
  local api_port=${APISERVER##*:}
  start_daemon api-forward socat "TCP-LISTEN:443,bind=$gateway,reuseaddr,fork" "TCP:127.0.0.1:$api_port"

  start_daemon containerd containerd --config "$d/containerd.toml"
  wait_for 30 "containerd did not answer on $sock (log: $d/logs/containerd.log)" ctr version
  import_pause

  cat >"$envfile.tmp" <<EOF
# Written by scripts/node.sh up; describes the running real node.
NODE_NAME=$name
NODE_TAINT_KEY=$taint_key
NODE_CONTAINERD_SOCKET=$sock
NODE_KUBELET_PORT=$kubelet_port
NODE_IP=$gateway
NODE_BRIDGE=$bridge
NODE_SUBNET=$subnet.0/24
NODE_API_HOST=kubernetes.default.svc
NODE_API_HOST_IP=$gateway
NODE_PAUSE_IMAGE=$pause_image
EOF
  mv "$envfile.tmp" "$envfile"

  start_daemon kubelet "$bin/kubelet" \
    --config "$d/kubelet.yaml" \
    --kubeconfig "$d/kubelet.kubeconfig" \
    --root-dir "$d/kubelet" \
    --cert-dir "$d/pki/kubelet" \
    --hostname-override "$name" \
    --node-ip "$gateway" \
    --node-labels "$taint_key=true" \
    --v 2
  local i
  for i in $(seq 1 240); do
    node_ready && break
    running kubelet || die "the kubelet exited: $(tail -5 "$d/logs/kubelet.log")"
    [ "$i" = 240 ] && die "node $name not Ready after 60s (log: $d/logs/kubelet.log)"
    sleep 0.25
  done
  log "node $name Ready in $((SECONDS - start))s (kubelet $gateway:$kubelet_port, bridge $bridge $subnet.0/24)"
}

stop_pid() { # name, seconds
  local n=$1 secs=${2:-20} p i
  p=$(pidof_file "$n") || return 0
  if alive "$p"; then
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 "$((secs * 4))"); do alive "$p" || break; sleep 0.25; done
    alive "$p" && { log "$n ($p) ignored SIGTERM; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; sleep 0.5; }
  fi
  rm -f "$d/$n.pid"
}

our_mounts() { findmnt -rn -o TARGET | grep -E "^$d/" | sort -r || true; }

cmd_down() {
  [ -d "$d" ] || { log "no node; nothing to do"; return 0; }
  local kube=false
  if [ -f "$cluster_file" ]; then cluster_env; k get --raw /readyz >/dev/null 2>&1 && kube=true; fi
  # 1. Let the kubelet stop every pod it runs (containers, sandboxes, pod networks), as a drain
  #    would, while it still runs.
  if $kube && running kubelet; then
    k cordon "$name" >/dev/null 2>&1 || true
    k delete pods -A --field-selector "spec.nodeName=$name" --wait=false >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 120); do
      [ -z "$(k get pods -A --field-selector "spec.nodeName=$name" -o name 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
  stop_pid kubelet 20
  # 2. Whatever is still there (a kubelet that died early): stop and remove every sandbox.
  if running containerd; then
    local c
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
    sleep 0.5
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$c" >/dev/null 2>&1 || true; done
    for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  stop_pid containerd 20
  # containerd's shims outlive it by design; they belong to us when they name our socket.
  local shims
  shims=$(pgrep -f -- "-address $sock" || true)
  [ -z "$shims" ] || { kill -KILL $shims 2>/dev/null || true; sleep 0.5; }
  stop_pid api-forward 5
  # 3. Mounts (pod volumes, /dev/shm, network namespaces), deepest first.
  local m
  for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [ -z "$(our_mounts)" ] || die "mounts left under $d: $(our_mounts | xargs)"
  # 4. The bridge (and with it any veth left), the node object.
  if [ -f "$d/cni/10-bridge.conflist" ]; then
    local br
    br=$(sed -n 's/.*"bridge": "\([^"]*\)".*/\1/p' "$d/cni/10-bridge.conflist" | head -1)
    [ -z "$br" ] || ! ip link show "$br" >/dev/null 2>&1 || ip link del "$br"
  fi
  if $kube; then k delete node "$name" --ignore-not-found >/dev/null 2>&1 || true; fi
  # The kubelet's links to our container logs (its folder for them is fixed).
  local l
  for l in /var/log/containers/*.log; do
    if [ -L "$l" ] && [[ "$(readlink "$l")" == "$d/"* ]]; then rm -f "$l"; fi
  done
  local left
  left=$(pgrep -f -- "$d/" || true)
  [ -z "$left" ] || die "processes of the node still running: $(echo "$left" | xargs)"
  # The logs of the last node stay readable (a failed run's especially); everything else goes.
  rm -rf "$state/node-logs"
  [ ! -d "$d/logs" ] || mv "$d/logs" "$state/node-logs"
  rm -rf "$d"
  log "node $name stopped; no process, mount or bridge left (its logs: $state/node-logs)"
}

cmd_status() {
  [ -f "$envfile" ] || { log "no node (run: make node-up)"; return 1; }
  cluster_env
  running kubelet && running containerd || { log "kubelet or containerd not running"; return 1; }
  node_ready || { log "node $name not Ready"; return 1; }
  cat "$envfile"
  k get node "$name" -o wide
}

mkdir -p "$state"
exec 8>"$state/.node-lock"
flock 8
case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  import) [ $# -eq 2 ] || die "usage: $0 import IMAGE"; cmd_import "$2" ;;
  *) die "usage: $0 up|down|status|import IMAGE" ;;
esac
