// One service's status as a plain value, computed from cached objects (http/render.ts turns it into JSON and HTML).
import type { ServiceKey } from "../config/file.ts";
import type { Lease, Pod, Workload } from "../kube/types.ts";
import { type LockInfo, lockFromLease } from "../kube/lock.ts";
import { RESTARTED_AT, RESTARTED_BY } from "../kube/types.ts";
import { type RolloutState, rolloutState } from "./rollout.ts";
import { matchesSelector } from "./selector.ts";

export interface ServiceStatus {
  service: ServiceKey;
  rollout: RolloutState;
  message: string;
  desired: number;
  ready: number;
  updated: number;
  /** The generation the workload's controller has acted on (status.observedGeneration). */
  observedGeneration?: number;
  /** metadata.uid of the workload in the cache (absent when it does not exist). */
  uid?: string;
  podStatus: Record<string, number>;
  /** Pods of this workload that are Ready and not terminating, straight from the pod watch. */
  podsReady: number;
  lastRestart: string;
  restartedBy: string;
  lock: LockInfo | null;
  /** The most likely cause when the rollout failed or is slow (status/why.ts); "" otherwise. */
  why?: string;
  /** Pods of this workload not being deleted (a surge shows as more than desired). */
  podsTotal?: number;
  /** How the last restart ended, when the app saw it under way (status/outcomes.ts). */
  outcome?: { restartedAt: string; result: "complete" | "failed" | "timed-out"; seconds: number; why: string } | null;
}

/** Pods counted by phase, plus "Terminating" for those being deleted (as kubectl shows them). */
export function podPhases(pods: Pod[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pods) {
    const phase = p.metadata?.deletionTimestamp ? "Terminating" : (p.status?.phase ?? "Unknown");
    out[phase] = (out[phase] ?? 0) + 1;
  }
  return out;
}

/** Ready=True and not being deleted: what a user waits for, seen before the controller counts it. */
export function isPodReady(p: Pod): boolean {
  return !p.metadata?.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
}

export function podsOf(w: Workload | undefined, pods: Pod[]): Pod[] {
  if (!w) return [];
  return pods.filter((p) => p.metadata?.namespace === w.metadata?.namespace && matchesSelector(w.spec?.selector, p.metadata?.labels));
}

export function serviceStatus(
  service: ServiceKey,
  workload: Workload | undefined,
  pods: Pod[],
  lease: Lease | undefined,
  nowMs: number,
  timeoutSec: number,
  /** Why the app cannot watch this service at all (missing list/watch rights), if so. */
  unwatchable?: string,
): ServiceStatus {
  const r = unwatchable
    ? { state: "unknown" as const, message: unwatchable, desired: 0, ready: 0, updated: 0 }
    : rolloutState(service.kind, workload, nowMs, timeoutSec);
  const ann = workload?.spec?.template?.metadata?.annotations ?? {};
  const mine = podsOf(workload, pods);
  return {
    service,
    rollout: r.state,
    message: r.message,
    desired: r.desired,
    ready: r.ready,
    updated: r.updated,
    observedGeneration: workload?.status?.observedGeneration,
    uid: workload?.metadata?.uid,
    podStatus: podPhases(mine),
    podsReady: mine.filter(isPodReady).length,
    podsTotal: mine.filter((p) => !p.metadata?.deletionTimestamp).length,
    lastRestart: ann[RESTARTED_AT] ?? "",
    restartedBy: ann[RESTARTED_BY] ?? "",
    lock: lockFromLease(lease, nowMs),
  };
}
