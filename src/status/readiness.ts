// Readiness that tells the truth: "not ready" before the first sync, "degraded" with reasons (a watch down, missing rights, configured services absent), else "ok".
import type { Logger } from "../log.ts";
import type { StatusHub } from "./hub.ts";
import { serviceId } from "../config/file.ts";

export type ReadyState = "ok" | "degraded" | "not ready";

export interface Readiness {
  state: ReadyState;
  reasons: string[];
}

/** What the caches say: synced at least once, which are disconnected now, and (when known) every watch's state. */
export interface CacheState {
  synced(): boolean;
  disconnected(): string[];
  watches?(): { connected: boolean }[];
}

/** Configured services the cluster does not have (as the status model sees them). */
export const absentServices = (hub: Pick<StatusHub, "all">): string[] => hub.all().filter((s) => s.rollout === "missing").map((s) => serviceId(s.service));

/**
 * `accessLines`: the self-check's findings (kube/access.ts accessDetail), each a missing right or its consequence.
 * Not ready (503) before the first sync, while the permission self-check has never answered (`checked`: issue 15 #9,
 * the lock store may be the wrong one), and while every watch is down (nothing the app shows is current: issue 15 #10);
 * one watch down is degraded.
 */
export function readinessOf(view: CacheState, accessLines: string[], hub: Pick<StatusHub, "all">, checked = true): Readiness {
  const lost = view.disconnected().map((d) => `watch disconnected: ${d}`);
  if (!view.synced()) return { state: "not ready", reasons: ["watch caches have not synced yet", ...lost, ...accessLines] };
  const watches = view.watches?.() ?? [];
  const allDown = lost.length > 0 && watches.length > 0 && watches.every((w) => !w.connected);
  if (!checked || allDown) return { state: "not ready", reasons: [...(allDown ? ["every watch is down", ...lost] : lost), ...accessLines] };
  const reasons = [
    ...lost,
    ...accessLines,
    ...absentServices(hub).map((id) => `configured but absent from the cluster: ${id}`),
  ];
  return { state: reasons.length ? "degraded" : "ok", reasons };
}

/** Logs the configured services absent from the cluster once the caches synced, then each one that goes or comes back. */
export function logAbsence(hub: StatusHub, log: Logger): { synced(): void } {
  const absent = new Set<string>();
  let reporting = false;
  hub.onStatus((s) => {
    const id = serviceId(s.service);
    const missing = s.rollout === "missing";
    if (missing === absent.has(id)) return;
    if (missing) absent.add(id);
    else absent.delete(id);
    if (!reporting) return;
    if (missing) log("warn", "configured service is absent from the cluster", { service: id });
    else log("info", "configured service is present in the cluster again", { service: id });
  });
  // A service that left the set (reload, selector) is no longer "configured but absent".
  hub.onRemoved((s) => absent.delete(serviceId(s)));
  return {
    synced() {
      reporting = true;
      if (absent.size) log("warn", "configured services absent from the cluster", { services: [...absent] });
    },
  };
}
