// Picks the credentials source: in-cluster files (light) or a kubeconfig, whose client-node loader is imported only then.
import type { Credentials } from "./api.ts";
import { inClusterCredentials } from "./incluster.ts";
import { kubeconfigPath } from "./kubeconfig-path.ts";

/** KUBE_CONFIG_PATH, else in-cluster in a pod, else KUBECONFIG, else ~/.kube/config (kubeconfig-path.ts). */
export async function loadCredentials(kubeConfigPath: string, serviceAccountDir: string): Promise<Credentials> {
  const choice = kubeconfigPath(kubeConfigPath);
  if (choice.path === "") return inClusterCredentials(serviceAccountDir, process.env);
  // A kubeconfig may need exec plugins, OIDC or cloud auth providers: client-node resolves them all.
  const { kubeConfigCredentials, loadKubeConfig } = await import("./client.ts");
  return kubeConfigCredentials(loadKubeConfig(choice.path));
}
