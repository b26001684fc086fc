// One service's status as a plain value, computed from cached objects; the original's wire shape derives from it.
import type { ServiceKey } from "../config/file.ts";
import type { Lease, Pod, Workload } from "../kube/types.ts";
import { RESTARTED_AT, RESTARTED_BY } from "../kube/types.ts";
import { type RolloutState, rolloutState } from "./rollout.ts";
import { matchesSelector } from "./selector.ts";

export interface LockInfo {
  holder: string;
  since: string;
  expiresAt: string;
  /** Generation the restart PATCH produced; the lock is released once it is observed and settled. */
  generation?: number;
  /** uid of the workload the PATCH hit: a re-created workload (new uid) is not this rollout. */
  uid?: string;
  user?: string;
}

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

export const LOCK_GENERATION = "k8s-restart-app.k8scope.io/generation";
export const LOCK_USER = "k8s-restart-app.k8scope.io/user";
export const LOCK_UID = "k8s-restart-app.k8scope.io/uid";

/** A Lease is a held lock while it has a holder and its duration since renewTime has not passed. */
export function lockFromLease(l: Lease | undefined, nowMs: number): LockInfo | null {
  const spec = l?.spec;
  if (!spec?.holderIdentity) return null;
  const renewed = Date.parse(String(spec.renewTime ?? spec.acquireTime ?? ""));
  if (Number.isNaN(renewed)) return null;
  const expires = renewed + (spec.leaseDurationSeconds ?? 0) * 1000;
  if (expires <= nowMs) return null;
  const gen = Number(l?.metadata?.annotations?.[LOCK_GENERATION]);
  const acquired = Date.parse(String(spec.acquireTime ?? ""));
  return {
    holder: spec.holderIdentity,
    since: new Date(Number.isNaN(acquired) ? renewed : acquired).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    generation: Number.isFinite(gen) && gen > 0 ? gen : undefined,
    uid: l?.metadata?.annotations?.[LOCK_UID] || undefined,
    user: l?.metadata?.annotations?.[LOCK_USER],
  };
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
    lastRestart: ann[RESTARTED_AT] ?? "",
    restartedBy: ann[RESTARTED_BY] ?? "",
    lock: lockFromLease(lease, nowMs),
  };
}

/** The original tool's websocket/JSON shape; new fields are added, none renamed or removed. */
export function wireStatus(s: ServiceStatus) {
  return {
    kind_namespace_name: { kind: s.service.kind, namespace: s.service.namespace, name: s.service.name },
    status: {
      message: s.message,
      pod_status: s.podStatus,
      last_restart: s.lastRestart,
      pods_ready: s.podsReady,
      rollout: s.rollout,
      desired: s.desired,
      ready: s.ready,
      updated: s.updated,
      restarted_by: s.restartedBy,
    },
    is_locked: s.lock !== null,
    lock: s.lock ? { since: s.lock.since, expires_at: s.lock.expiresAt, user: s.lock.user ?? "" } : null,
  };
}
