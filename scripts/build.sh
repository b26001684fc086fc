#!/usr/bin/env bash
# Builds dist/k8s-restart-app: one self-contained executable (Bun runtime + app + templates + static assets).
#
# Flags, and why:
# - --compile: a single file that needs only glibc (see `ldd`), so the image can be distroless.
# - --minify --sourcemap --bytecode --format=esm: the fastest start measured (≈ 3× faster than
#   plain --compile, see bench/startup-footprint.ts). --bytecode alone switches the output to CJS, where the
#   top-level `await` of our dependencies fails; --format=esm keeps ESM bytecode. --sourcemap
#   keeps stack traces pointing at src/ despite --minify (the map is embedded in the binary;
#   checked: a trace names the .ts file and line from an empty directory).
# - --splitting: modules loaded with a dynamic import() (client-node, only for a kubeconfig) go to
#   their own chunk inside the binary. Without it their node: built-ins (http, https, tls, net…)
#   are hoisted into the one bundle and loaded at every start (≈ 5 MiB of RSS in-cluster).
# - --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: a compiled Bun binary would
#   otherwise read .env and bunfig.toml from its working directory at start; configuration comes
#   from the environment and CONFIG_FILE_PATH only.
# - --define BUILD_VERSION / BUILD_COMMIT: read by src/version.ts (`--version`, the page footer,
#   restart_app_build_info). Version from package.json, commit from git ("-dirty" when the
#   working tree has uncommitted changes, "unknown" outside a git checkout). Override with the
#   BUILD_VERSION / BUILD_COMMIT environment variables (the Dockerfile passes them in, because
#   .git is not part of the build context).
#
# Usage: scripts/build.sh [outfile]   (default dist/k8s-restart-app)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-dist/k8s-restart-app}
bun=${BUN:-"$root/node_modules/.bin/bun"}
[ -x "$bun" ] || bun=$(command -v bun) || { echo "build: bun not found (run: npm ci)" >&2; exit 1; }

version=${BUILD_VERSION:-$("$bun" -e 'console.log(require("./package.json").version)')}
if [ -z "${BUILD_COMMIT:-}" ]; then
  if commit=$(git rev-parse --short HEAD 2>/dev/null); then
    # Untracked files count too: a build may embed a template nobody has committed yet.
    [ -z "$(git status --porcelain 2>/dev/null)" ] || commit="$commit-dirty"
  else
    commit=unknown
  fi
else
  commit=$BUILD_COMMIT
fi
# Both values end up inside a JS string literal: refuse anything that would need escaping.
for v in "$version" "$commit"; do
  [[ "$v" =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "build: refusing version/commit ${v@Q} (allowed: A-Z a-z 0-9 . _ + -)" >&2; exit 1; }
done

mkdir -p "$(dirname "$out")"
# A folder of this build's own: with --splitting the copies of the source maps are named after
# the chunks (main-<hash>.js.map, client-<hash>.js.map), so they are removed with the folder.
# (No mktemp: the image's build stage has no coreutils beyond a shell.)
tmpdir="$(dirname "$out")/.build.$$"
rm -rf "$tmpdir" && mkdir "$tmpdir"
tmp="$tmpdir/k8s-restart-app"
trap 'rm -rf "$tmpdir"' EXIT
"$bun" build src/main.ts \
  --compile --target=bun --splitting \
  --minify --sourcemap --bytecode --format=esm \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --define "BUILD_VERSION=\"$version\"" \
  --define "BUILD_COMMIT=\"$commit\"" \
  --outfile "$tmp" >&2
# Refuse to install a binary that does not even start.
got=$("$tmp" --version)
[ "$got" = "k8s-restart-app $version (commit $commit)" ] || { echo "build: $tmp --version printed ${got@Q}" >&2; exit 1; }
mv -f "$tmp" "$out"
# --compile embeds the source map (stack traces name src/ files with no file beside the binary)
# and also writes copies next to the output; nothing reads those copies.
rm -rf "$tmpdir"
trap - EXIT
echo "build: $out ($(du -h "$out" | cut -f1), $got)" >&2
