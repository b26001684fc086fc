// Where the restart locks live when LOCK_NAMESPACE is not set: the pod's own namespace, else the kubeconfig context's, else "default".
import { existsSync, readFileSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";

const SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export function lockNamespaceFor(explicit: string, kc: KubeConfig): string {
  if (explicit) return explicit;
  const own = existsSync(SA_NAMESPACE) ? readFileSync(SA_NAMESPACE, "utf8").trim() : "";
  return own || kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
}
