// Pure rollout rules, as `kubectl rollout status` judges them, plus a timeout for kinds without a failure signal.
import type { Kind } from "../config/file.ts";
import type { V1DaemonSetStatus, V1DeploymentStatus, V1StatefulSetStatus } from "@kubernetes/client-node";
import type { DaemonSet, Deployment, StatefulSet, Workload } from "../kube/types.ts";
import { RESTARTED_AT } from "../kube/types.ts";

export type RolloutState = "complete" | "progressing" | "failed" | "paused" | "missing" | "unknown";

export interface Rollout {
  state: RolloutState;
  message: string;
  desired: number;
  ready: number;
  updated: number;
}

function restartedAtMs(w: Workload): number | undefined {
  const v = w.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
  const t = v ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

function deploymentRollout(d: Deployment): Rollout {
  const name = d.metadata?.name;
  const s: V1DeploymentStatus = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const base = { desired, ready: s.readyReplicas ?? 0, updated };
  if (d.spec?.paused) return { ...base, state: "paused", message: `deployment "${name}" is paused` };
  if ((d.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) {
    return { ...base, state: "progressing", message: "Waiting for deployment spec update to be observed..." };
  }
  const progressing = s.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return { ...base, state: "failed", message: `deployment "${name}" exceeded its progress deadline` };
  }
  if (updated < desired) {
    return {
      ...base,
      state: "progressing",
      message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
    };
  }
  if ((s.replicas ?? 0) > updated) {
    return {
      ...base,
      state: "progressing",
      message: `Waiting for deployment "${name}" rollout to finish: ${(s.replicas ?? 0) - updated} old replicas are pending termination...`,
    };
  }
  if ((s.availableReplicas ?? 0) < updated) {
    return {
      ...base,
      state: "progressing",
      message: `Waiting for deployment "${name}" rollout to finish: ${s.availableReplicas ?? 0} of ${updated} updated replicas are available...`,
    };
  }
  return { ...base, state: "complete", message: `deployment "${name}" successfully rolled out` };
}

function statefulSetRollout(ss: StatefulSet): Rollout {
  const s: Partial<V1StatefulSetStatus> = ss.status ?? {};
  const desired = ss.spec?.replicas ?? 1;
  const base = { desired, ready: s.readyReplicas ?? 0, updated: s.updatedReplicas ?? 0 };
  if (ss.spec?.updateStrategy?.type === "OnDelete") {
    return { ...base, state: "unknown", message: "rollout status is only available for the RollingUpdate strategy" };
  }
  if ((ss.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) {
    return { ...base, state: "progressing", message: "Waiting for statefulset spec update to be observed..." };
  }
  if ((s.readyReplicas ?? 0) < desired) {
    return { ...base, state: "progressing", message: `Waiting for ${desired - (s.readyReplicas ?? 0)} pods to be ready...` };
  }
  const partition = ss.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
  if (partition > 0) {
    if ((s.updatedReplicas ?? 0) < desired - partition) {
      return {
        ...base,
        state: "progressing",
        message: `Waiting for partitioned roll out to finish: ${s.updatedReplicas ?? 0} out of ${desired - partition} new pods have been updated...`,
      };
    }
    return { ...base, state: "complete", message: `partitioned roll out complete: ${s.updatedReplicas ?? 0} new pods have been updated...` };
  }
  if (s.updateRevision !== s.currentRevision) {
    return {
      ...base,
      state: "progressing",
      message: `waiting for statefulset rolling update to complete ${s.updatedReplicas ?? 0} pods at revision ${s.updateRevision}...`,
    };
  }
  return { ...base, state: "complete", message: `statefulset rolling update complete ${s.currentReplicas ?? 0} pods at revision ${s.currentRevision}...` };
}

function daemonSetRollout(ds: DaemonSet): Rollout {
  const name = ds.metadata?.name;
  const s: Partial<V1DaemonSetStatus> = ds.status ?? {};
  const desired = s.desiredNumberScheduled ?? 0;
  const base = { desired, ready: s.numberReady ?? 0, updated: s.updatedNumberScheduled ?? 0 };
  if (ds.spec?.updateStrategy?.type === "OnDelete") {
    return { ...base, state: "unknown", message: "rollout status is only available for the RollingUpdate strategy" };
  }
  if ((ds.metadata?.generation ?? 0) > (s.observedGeneration ?? 0)) {
    return { ...base, state: "progressing", message: "Waiting for daemon set spec update to be observed..." };
  }
  if ((s.updatedNumberScheduled ?? 0) < desired) {
    return {
      ...base,
      state: "progressing",
      message: `Waiting for daemon set "${name}" rollout to finish: ${s.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`,
    };
  }
  if ((s.numberAvailable ?? 0) < desired) {
    return {
      ...base,
      state: "progressing",
      message: `Waiting for daemon set "${name}" rollout to finish: ${s.numberAvailable ?? 0} of ${desired} updated pods are available...`,
    };
  }
  return { ...base, state: "complete", message: `daemon set "${name}" successfully rolled out` };
}

/**
 * Rollout state of a workload at `nowMs`. StatefulSets and DaemonSets have no failure signal of
 * their own, so one still progressing `timeoutSec` after its last restart is reported as failed.
 */
export function rolloutState(kind: Kind, w: Workload | undefined, nowMs: number, timeoutSec: number): Rollout {
  if (!w) return { state: "missing", message: `${kind} not found in the cluster`, desired: 0, ready: 0, updated: 0 };
  const r =
    kind === "Deployment"
      ? deploymentRollout(w as Deployment)
      : kind === "StatefulSet"
        ? statefulSetRollout(w as StatefulSet)
        : daemonSetRollout(w as DaemonSet);
  if (r.state === "progressing" && kind !== "Deployment") {
    const since = restartedAtMs(w);
    if (since !== undefined && nowMs - since > timeoutSec * 1000) {
      return { ...r, state: "failed", message: `rollout did not finish within ${timeoutSec}s of the restart: ${r.message}` };
    }
  }
  return r;
}

/** When a progressing StatefulSet/DaemonSet would time out, so the hub can re-judge it then. */
export function rolloutDeadlineMs(kind: Kind, w: Workload | undefined, timeoutSec: number): number | undefined {
  if (!w || kind === "Deployment") return undefined;
  const since = restartedAtMs(w);
  return since === undefined ? undefined : since + timeoutSec * 1000;
}
