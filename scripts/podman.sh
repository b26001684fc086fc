#!/usr/bin/env bash
# podman with the settings that work on machines without Docker, systemd or cgroup v2 (Debian's
# podman 4.3 + runc, as root). Use it exactly like podman: scripts/podman.sh run --rm IMAGE ...
#
# Why each setting:
# - --storage-driver vfs: overlay needs a kernel/filesystem combination these machines lack; vfs
#   copies whole layers, which is slower and larger but works everywhere.
# - --runtime runc: crun refuses the hybrid cgroup v1 layout ("cgroups in hybrid mode not supported").
# - --cgroup-manager cgroupfs, --events-backend file: there is no systemd (nor journald).
# - run/create/build: --network host (no netavark/CNI setup needed for a container of ours) and
#   explicit ulimits no higher than this shell's hard limits (podman's defaults are refused
#   with EPERM where the hard limits are lower). nproc is also capped at 32768: measured here,
#   runc refused nproc=96365:96365 with EPERM although that was exactly the shell's hard limit
#   (podman's own default, 32768, passed).
# PODMAN_NETWORK=private drops --network host (e.g. for an isolated build).
set -euo pipefail
command -v podman >/dev/null 2>&1 || { echo "podman.sh: podman is missing (run: scripts/deps.sh --image)" >&2; exit 1; }
global=(--storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend file)
[ $# -gt 0 ] || exec podman "${global[@]}"
sub=$1; shift
case $sub in
  run | create | build)
    nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
    # "unlimited" is not a number podman accepts; cap at values any container needs.
    [ "$nofile" = unlimited ] && nofile=1048576
    [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
    extra=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
    [ "${PODMAN_NETWORK:-host}" = host ] && extra+=(--network host)
    exec podman "${global[@]}" "$sub" "${extra[@]}" "$@"
    ;;
  *) exec podman "${global[@]}" "$sub" "$@" ;;
esac
