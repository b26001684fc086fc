#!/usr/bin/env bash
# Builds the container image from the project's own Dockerfile with podman, on a machine that
# reaches no image registry: the Dockerfile's two base images are substituted by local ones
# (build arguments BUN_IMAGE and RUN_IMAGE); everything else is the Dockerfile as users build it.
#
# - RUN_IMAGE: a distroless/base-equivalent assembled from Debian packages (what
#   gcr.io/distroless/base-debian12:nonroot holds): libc6, ca-certificates (the bundle,
#   concatenated as its postinst would), tzdata, base-files, netbase, an /etc/passwd and
#   /etc/group with root, nobody and nonroot (65532), /home/nonroot, /tmp; USER 65532, no shell,
#   no package manager.
# - BUN_IMAGE: the build stage's tools: Bun (the very binary package-lock.json pins, from
#   node_modules) at /usr/local/bin/bun as in oven/bun, plus the shell and the few coreutils the
#   Dockerfile's RUN lines and scripts/build.sh call, copied from this machine with the shared
#   libraries they load. `bun install` in the build stage fetches the packages from the npm
#   registry, as it does for users.
#
# Usage: scripts/image.sh [build]   builds localhost/k8s-restart-app:<version> and prints the tag
#        scripts/image.sh tag       prints the tag only
# (It runs the image's --version to check what it built.)
# IMAGE_REBUILD_BASES=1 reassembles the two base images (they are reused when present).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pm="$root/scripts/podman.sh"
log() { echo "image: $*" >&2; }
die() { echo "image: ERROR: $*" >&2; exit 1; }

version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -1)
[ -n "$version" ] || die "no version in package.json"
# IMAGE_TAG: another tag (the e2e suites use one per checkout, so worktrees sharing podman's
# store never test each other's image).
tag=${IMAGE_TAG:-localhost/k8s-restart-app:$version}
[[ "$tag" =~ ^localhost/[a-z0-9./_-]+:[A-Za-z0-9._-]+$ ]] || die "IMAGE_TAG ${tag@Q} is not localhost/<name>:<tag>"
debian=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo unknown)
bun_version=$(sed -n 's/^ *"bun": *"\([^"]*\)".*/\1/p' package.json | head -1)
run_base="localhost/k8s-restart-app/distroless-base:debian$debian"
build_base="localhost/k8s-restart-app/bun-build:$bun_version"

if [ "${1:-build}" = tag ]; then echo "$tag"; exit 0; fi
[ "${1:-build}" = build ] || die "usage: $0 [build|tag]"

"$root/scripts/deps.sh" --image

work=$(mktemp -d "${TMPDIR:-/tmp}/k8s-restart-app-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Imports a root filesystem folder as a one-layer image. Owners stay numeric (root unless chowned).
import_rootfs() {
  local dir=$1 name=$2; shift 2
  tar --numeric-owner -C "$dir" -cf - . | "$pm" import "$@" - "$name" >/dev/null
}

assemble_run_base() {
  local r="$work/run" debs="$work/debs"
  mkdir -p "$r" "$debs"
  log "assembling $run_base from Debian packages (libc6 ca-certificates tzdata base-files netbase)"
  # Sandbox user root: the download folder is ours, _apt may not write to it.
  (cd "$debs" && apt-get -o APT::Sandbox::User=root download libc6 ca-certificates tzdata base-files netbase >/dev/null) ||
    die "apt-get download failed (run apt-get update first?)"
  local d
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$r"; done
  # ca-certificates ships the certificates; its postinst (which never runs here) builds the bundle.
  mkdir -p "$r/etc/ssl/certs"
  cat "$r"/usr/share/ca-certificates/mozilla/*.crt >"$r/etc/ssl/certs/ca-certificates.crt"
  [ -s "$r/etc/ssl/certs/ca-certificates.crt" ] || die "empty CA bundle"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  mkdir -p "$r/home/nonroot" "$r/root" "$r/tmp"
  chown 65532:65532 "$r/home/nonroot"
  chmod 700 "$r/root" "$r/home/nonroot"
  chmod 1777 "$r/tmp"
  # Not what a distroless base holds: maintainer scripts, docs, man pages, package lists.
  rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/lintian" "$r/etc/init.d"
  # The promise: no shell and no package manager in the run image.
  local bad
  bad=$(find "$r" ! -type d \( -name sh -o -name bash -o -name dash -o -name busybox -o -name dpkg -o -name apt \) -print | head -3)
  [ -z "$bad" ] || die "the run base would contain a shell or package manager: $bad"
  import_rootfs "$r" "$run_base" \
    --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
}

# Copies a program and every shared library ldd lists, at the same paths.
copy_with_libs() {
  local dest=$1 prog=$2 lib
  cp -L --parents "$prog" "$dest/"
  for lib in $(ldd "$prog" 2>/dev/null | grep -Eo '/[^ ]+' || true); do
    [ -e "$dest$lib" ] || cp -L --parents "$lib" "$dest/"
  done
}

assemble_build_base() {
  local b="$work/build" bun="$root/node_modules/.bin/bun" c
  [ -x "$bun" ] || die "$bun missing (run: npm ci)"
  [ "$("$bun" --version)" = "$bun_version" ] || die "node_modules has Bun $("$bun" --version), package.json pins $bun_version"
  log "assembling $build_base (Bun $bun_version + sh/bash/coreutils of this machine)"
  mkdir -p "$b/usr/local/bin" "$b/tmp" "$b/root" "$b/etc/ssl/certs" "$b/usr/bin" "$b/usr/sbin" "$b/usr/lib" "$b/usr/lib64"
  # Merged /usr as on Debian 12, so /bin/sh (RUN's shell) is found whatever PATH says here.
  for c in bin sbin lib lib64; do ln -s "usr/$c" "$b/$c"; done
  chmod 1777 "$b/tmp"
  cp -L "$bun" "$b/usr/local/bin/bun"
  copy_with_libs "$b" "$b/usr/local/bin/bun" # its libraries (the binary itself is already there)
  for c in sh bash env dirname mkdir du cut mv rm cat ls cp; do
    copy_with_libs "$b" "$(command -v "$c")"
  done
  # TLS to the npm registry: this machine's trust store (a build tool, not part of the app image).
  cp -L /etc/ssl/certs/ca-certificates.crt "$b/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$b/etc/passwd"
  printf 'root:x:0:\n' >"$b/etc/group"
  import_rootfs "$b" "$build_base" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'WORKDIR /'
}

start=$SECONDS
if [ -n "${IMAGE_REBUILD_BASES:-}" ] || ! "$pm" image exists "$run_base"; then assemble_run_base; fi
if [ -n "${IMAGE_REBUILD_BASES:-}" ] || ! "$pm" image exists "$build_base"; then assemble_build_base; fi

# The commit as scripts/build.sh would stamp it (.git is not in the build context).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ "$commit" = unknown ] || [ -z "$(git status --porcelain 2>/dev/null)" ] || commit="$commit-dirty"

old_id=$("$pm" image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
log "podman build -t $tag (BUN_IMAGE=$build_base RUN_IMAGE=$run_base BUILD_COMMIT=$commit)"
# --layers=false: the vfs driver stores every layer as a full copy of the root (≈ 300 MB for the
# build stage), so caching each step of each commit fills a disk within days; without it each
# stage is committed once and the intermediates are removed.
"$pm" build \
  --layers=false --force-rm \
  --build-arg "BUN_IMAGE=$build_base" \
  --build-arg "RUN_IMAGE=$run_base" \
  --build-arg "BUILD_COMMIT=$commit" \
  --pull=never \
  -f Dockerfile -t "$tag" . >&2
new_id=$("$pm" image inspect --format '{{.Id}}' "$tag")
# The image the tag pointed at before is now nameless: drop it (unless a container still uses it).
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then "$pm" rmi "$old_id" >/dev/null 2>&1 || true; fi

got=$("$pm" run --rm --read-only --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges "$tag" --version)
[ "$got" = "k8s-restart-app $version (commit $commit)" ] || die "$tag --version printed ${got@Q}"
size=$("$pm" image inspect --format '{{.Size}}' "$tag")
log "built $tag in $((SECONDS - start))s: $((size / 1000000)) MB ($got)"
echo "$tag"
