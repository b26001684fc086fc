// Where the restart locks live when LOCK_NAMESPACE is not set: the pod's own namespace, else the kubeconfig context's, else "default".
import type { Credentials } from "./api.ts";
import { serviceAccountNamespace } from "./incluster.ts";

export async function lockNamespaceFor(explicit: string, serviceAccountDir: string, creds: Pick<Credentials, "namespace">): Promise<string> {
  return explicit || (await serviceAccountNamespace(serviceAccountDir)) || creds.namespace || "default";
}
