// Which kubeconfig to use, as kubectl chooses: KUBE_CONFIG_PATH when set, in-cluster in a pod, else KUBECONFIG, else ~/.kube/config.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { ConfigError } from "../config/env.ts";

export interface KubeconfigChoice {
  /** The file to load; empty for the in-cluster ServiceAccount. */
  path: string;
  /** Where the choice came from, for the start-up log. */
  source: "KUBE_CONFIG_PATH" | "in-cluster" | "KUBECONFIG" | "~/.kube/config";
}

/**
 * `configured` is KUBE_CONFIG_PATH. When it is empty and the process is not in a pod, the first
 * existing file of KUBECONFIG (a path list, as kubectl reads it; we load one file, not a merge)
 * and then ~/.kube/config are used; nothing found is a configuration error.
 */
export function kubeconfigPath(
  configured: string,
  env: Record<string, string | undefined> = process.env,
  home: string = env.HOME || homedir(),
  exists: (p: string) => boolean = existsSync,
): KubeconfigChoice {
  if (configured !== "") return { path: configured, source: "KUBE_CONFIG_PATH" };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { path: "", source: "in-cluster" };
  const fromList = (env.KUBECONFIG ?? "").split(delimiter).find((p) => p !== "" && exists(p));
  if (fromList) return { path: fromList, source: "KUBECONFIG" };
  const own = join(home, ".kube", "config");
  if (exists(own)) return { path: own, source: "~/.kube/config" };
  throw new ConfigError(
    `KUBE_CONFIG_PATH: empty, and no other kubeconfig found: not in a cluster (KUBERNETES_SERVICE_HOST unset), ` +
      `${env.KUBECONFIG ? `no file of KUBECONFIG=${JSON.stringify(env.KUBECONFIG)} exists` : "KUBECONFIG unset"}, no ${own}`,
  );
}
