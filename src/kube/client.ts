// Credentials from a kubeconfig through client-node; loaded with a dynamic import only when KUBE_CONFIG_PATH is set.
//
// client-node does what it does well here: parsing kubeconfigs and resolving every auth mode
// (token, token file, exec plugins, OIDC, cloud auth providers, client certificates, CA,
// insecure-skip). Its HTTP stack is not used (see ./api.ts): the material it resolves goes to
// Bun's fetch. Importing it costs ≈ 23 MiB of RSS (node:http/https/tls/net, js-yaml, undici,
// openid-client, jose), so the in-cluster path (./incluster.ts) never loads this module.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { clusterNameFor } from "./cluster-name.ts";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../config/env.ts";
import { type Credentials, type KubeClient, makeApiClient, REQUEST_TIMEOUT_MS } from "./api.ts";
import { kubeconfigPath } from "./kubeconfig-path.ts";

export { type KubeClient, type KubeRequest, KubeError, kubeErrorFrom, REQUEST_TIMEOUT_MS } from "./api.ts";

/** What client-node's applyOptions fills in (Node https.RequestOptions shape). */
interface ResolvedOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string>;
}

export function loadKubeConfig(configuredPath: string): KubeConfig {
  const kubeConfigPath = kubeconfigPath(configuredPath).path;
  const kc = new KubeConfig();
  if (kubeConfigPath === "") {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new ConfigError(
        "KUBE_CONFIG_PATH: empty, so in-cluster config is used, but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)",
      );
    }
    kc.loadFromCluster();
  } else {
    try {
      kc.loadFromFile(kubeConfigPath);
      honourTokenFile(kc, kubeConfigPath);
    } catch (e) {
      throw new ConfigError(`KUBE_CONFIG_PATH: ${kubeConfigPath}: ${(e as Error).message}`);
    }
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError(`KUBE_CONFIG_PATH: ${kubeConfigPath || "(in-cluster)"}: no current context/cluster`);
  return kc;
}

/**
 * kubectl's `users[].user.tokenFile` is not read by client-node (it only knows `token-file`).
 * Map it to client-node's file-token provider, which re-reads the file as it rotates.
 */
function honourTokenFile(kc: KubeConfig, path: string): void {
  const raw = parseYaml(readFileSync(path, "utf8")) as { users?: { name?: string; user?: { tokenFile?: string } }[] } | null;
  for (const u of raw?.users ?? []) {
    const tf = u.user?.tokenFile;
    const target = kc.users.find((x) => x.name === u.name);
    if (!tf || !target || target.token || target.authProvider) continue;
    const abs = isAbsolute(tf) ? tf : join(dirname(path), tf);
    (target as { authProvider?: unknown }).authProvider = { name: "tokenFile", config: { tokenFile: abs } };
  }
}

/** The credentials a loaded kubeconfig describes (its current context). */
export function kubeConfigCredentials(kc: KubeConfig): Credentials {
  const cluster = kc.getCurrentCluster()!;
  return {
    server: cluster.server,
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    proxyUrl: cluster.proxyUrl,
    clusterName: clusterNameFor(undefined, kc, false),
    async resolve() {
      const o: ResolvedOptions = {};
      // applyOptions is public at runtime but typed private; it is the one place that resolves
      // every kubeconfig auth mode (token, token file, exec, OIDC, client cert, CA, skip-verify).
      await (kc as unknown as { applyOptions(o: ResolvedOptions): Promise<void> }).applyOptions(o);
      const headers = { ...(o.headers ?? {}) };
      const user = kc.getCurrentUser();
      if (user?.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
      return { headers, ca: o.ca, cert: o.cert, key: o.key, servername: o.servername, rejectUnauthorized: o.rejectUnauthorized ?? true };
    },
  };
}

export function makeKubeClient(kc: KubeConfig, userAgent = "k8s-restart-app", timeoutMs = REQUEST_TIMEOUT_MS): KubeClient {
  return makeApiClient(kubeConfigCredentials(kc), userAgent, timeoutMs);
}
