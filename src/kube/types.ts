// The slices of Kubernetes object shapes this app reads (real field names, optional as the API sends them).
import type { CoreV1Event, V1ControllerRevision, V1DaemonSet, V1Deployment, V1Lease, V1Pod, V1ReplicaSet, V1StatefulSet } from "@kubernetes/client-node";

export type Deployment = V1Deployment;
export type StatefulSet = V1StatefulSet;
export type DaemonSet = V1DaemonSet;
export type Workload = Deployment | StatefulSet | DaemonSet;
export type Pod = V1Pod;
export type Lease = V1Lease;
export type ReplicaSet = V1ReplicaSet;
export type ControllerRevision = V1ControllerRevision;
export type KubeEvent = CoreV1Event;

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ObjectList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
export const RESTARTED_BY = "k8s-restart-app.k8scope.io/restartedBy";
export const FIELD_MANAGER = "k8s-restart-app";
