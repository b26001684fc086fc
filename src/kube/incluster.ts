// In-cluster credentials without client-node: the ServiceAccount's token, CA and namespace files plus KUBERNETES_SERVICE_HOST/PORT.
//
// This is the production path, and it stays light: a few file reads, no kubeconfig machinery.
// The kubelet rotates the projected token (by default when 80 % of its hour has passed), so the
// token is re-read when it is a minute old, as client-go does; the CA file is re-read with it.
// Files are read with Bun.file: node:fs alone would add ≈ 5 MiB of RSS.
import { ConfigError } from "../config/env.ts";
import type { Credentials, Resolved } from "./api.ts";

const REREAD_MS = 60_000;

/** The namespace file of a ServiceAccount folder, trimmed; undefined when absent or empty. */
export async function serviceAccountNamespace(dir: string): Promise<string | undefined> {
  const file = Bun.file(`${dir}/namespace`);
  if (!(await file.exists())) return undefined;
  return (await file.text()).trim() || undefined;
}

export async function inClusterCredentials(dir: string, env: Record<string, string | undefined>, now = () => Date.now()): Promise<Credentials> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ConfigError(
      "KUBE_CONFIG_PATH: empty, so in-cluster config is used, but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)",
    );
  }
  const read = async () => {
    try {
      const [token, ca] = await Promise.all([Bun.file(`${dir}/token`).text(), Bun.file(`${dir}/ca.crt`).bytes()]);
      return { token: token.trim(), ca: Buffer.from(ca) };
    } catch (e) {
      throw new ConfigError(`KUBE_CONFIG_PATH: empty, so in-cluster config is used, but ${(e as Error).message} (SERVICE_ACCOUNT_DIR=${dir})`);
    }
  };
  // Read once now: a pod without its ServiceAccount files stops at start instead of failing every request.
  let files = await read();
  let readAt = now();
  return {
    // A raw IPv6 address needs brackets in a URL (node:net's isIPv6 would load the whole net module).
    server: `https://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`,
    namespace: await serviceAccountNamespace(dir),
    async resolve(): Promise<Resolved> {
      if (now() - readAt > REREAD_MS) {
        // A failed re-read keeps the last good files: the token is valid for a while yet.
        try {
          files = await read();
        } catch {}
        readAt = now();
      }
      return { headers: files.token ? { Authorization: `Bearer ${files.token}` } : {}, ca: files.ca, rejectUnauthorized: true };
    },
  };
}
