// REST paths for the resources this app touches.
import type { Kind } from "../config/file.ts";

const PLURAL: Record<Kind, string> = { Deployment: "deployments", StatefulSet: "statefulsets", DaemonSet: "daemonsets" };

/** Namespace "*" is the cluster-wide collection (every namespace). */
export const workloadsPath = (kind: Kind, ns: string) => (ns === "*" ? `/apis/apps/v1/${PLURAL[kind]}` : `/apis/apps/v1/namespaces/${ns}/${PLURAL[kind]}`);
export const workloadPath = (kind: Kind, ns: string, name: string) => `${workloadsPath(kind, ns)}/${encodeURIComponent(name)}`;
export const podsPath = (ns: string) => (ns === "*" ? "/api/v1/pods" : `/api/v1/namespaces/${ns}/pods`);
export const leasesPath = (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
export const eventsPath = (ns: string) => `/api/v1/namespaces/${ns}/events`;
export const replicaSetsPath = (ns: string) => `/apis/apps/v1/namespaces/${ns}/replicasets`;
export const controllerRevisionsPath = (ns: string) => `/apis/apps/v1/namespaces/${ns}/controllerrevisions`;
export const plural = (kind: Kind) => PLURAL[kind];
