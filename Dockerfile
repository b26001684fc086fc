# syntax=docker/dockerfile:1
# Container image of k8s-restart-app: the single compiled binary on distroless, as uid 65532.
#
# Built and run in this repository's CI with podman (`make image`, scripts/image.sh): the two base
# images below are build arguments, and machines without registry access pass locally assembled
# equivalents (a distroless/base-like root from Debian packages, a build stage with Bun); the
# rest of this file is used as is. tests/e2e/container.test.ts runs the image with podman and
# tests/e2e/node.test.ts as a Pod on a real kubelet.
#
#   docker build --build-arg BUILD_COMMIT=$(git rev-parse --short HEAD) -t ghcr.io/k8scope/k8s-restart-app:0.1.0 .
#
# Base images. Bump BUN_IMAGE together with "bun" in package.json (the same Bun builds the
# binary in CI and here); pin it and the run image by digest for reproducible builds:
#   docker buildx imagetools inspect oven/bun:1.4.5            # or: crane digest oven/bun:1.4.5
#   FROM oven/bun:1.4.5@sha256:<digest>                        # keep the tag for humans
# (Renovate/Dependabot then update tag and digest together.)
ARG BUN_IMAGE=oven/bun:1.4.5
ARG RUN_IMAGE=gcr.io/distroless/base-debian12:nonroot

FROM ${BUN_IMAGE} AS build
WORKDIR /src
# Dependencies first, so editing src/ reuses this layer. Bun ≥ 1.2 reads package-lock.json
# (it migrates it in memory) and --frozen-lockfile refuses any drift from package.json, so this
# is `npm ci` without installing Node: checked with Bun 1.4.5, the 77 installed packages match
# package-lock.json's versions exactly, and a changed package.json fails the build.
# --production: only runtime dependencies are bundled; --ignore-scripts: nothing needs them (the
# binary is built with the image's own /usr/local/bin/bun, not the npm "bun" package).
COPY package.json package-lock.json bunfig.toml ./
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY tsconfig.json ./
COPY scripts/build.sh scripts/build.sh
COPY src src
COPY templates templates
COPY static static
# .git is not in the build context: the commit comes in as a build argument.
ARG BUILD_COMMIT=unknown
RUN BUN=/usr/local/bin/bun BUILD_COMMIT="${BUILD_COMMIT}" scripts/build.sh /out/k8s-restart-app

# distroless/base: glibc (the binary needs libc, libm, libpthread, libdl and ld-linux, nothing
# else: see `ldd dist/k8s-restart-app`), CA certificates, tzdata; no shell, no package manager.
FROM ${RUN_IMAGE}
ARG BUILD_COMMIT=unknown
LABEL org.opencontainers.image.title="k8s-restart-app" \
      org.opencontainers.image.source="https://github.com/k8scope/k8s-restart-app" \
      org.opencontainers.image.revision="${BUILD_COMMIT}"
COPY --from=build /out/k8s-restart-app /k8s-restart-app
# The binary reads only its environment, CONFIG_FILE_PATH and the ServiceAccount files: it never
# writes to disk, so the root filesystem can (and in deploy/base does) stay read-only.
ENV CONFIG_FILE_PATH=/etc/k8s-restart-app/config.yaml \
    LISTEN_ADDRESS=:8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/k8s-restart-app"]
