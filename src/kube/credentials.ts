// Picks the credentials source: in-cluster files (light) or a kubeconfig, whose client-node loader is imported only then.
import type { Credentials } from "./api.ts";
import { inClusterCredentials } from "./incluster.ts";

export async function loadCredentials(kubeConfigPath: string, serviceAccountDir: string): Promise<Credentials> {
  if (kubeConfigPath === "") return inClusterCredentials(serviceAccountDir, process.env);
  // A kubeconfig may need exec plugins, OIDC or cloud auth providers: client-node resolves them all.
  const { kubeConfigCredentials, loadKubeConfig } = await import("./client.ts");
  return kubeConfigCredentials(loadKubeConfig(kubeConfigPath));
}
