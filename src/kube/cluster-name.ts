// The cluster's name for people (header and page title): CLUSTER_NAME, else the kubeconfig context's cluster; in-cluster none unless set.
import type { KubeConfig } from "@kubernetes/client-node";

export function clusterNameFor(explicit: string | undefined, kc: KubeConfig, inCluster: boolean): string {
  if (explicit !== undefined) return explicit;
  if (inCluster) return "";
  return kc.getContextObject(kc.getCurrentContext())?.cluster ?? "";
}
