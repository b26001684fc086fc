// Build identity: stamped by `make build` through --define, "dev" when run from source.
declare const BUILD_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

export const version = typeof BUILD_VERSION === "string" ? BUILD_VERSION : "dev";
export const commit = typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "unknown";
