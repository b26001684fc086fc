// Readiness that tells the truth: "not ready" before the first sync, "degraded" with reasons (a watch down, missing rights, configured services absent), else "ok".
import type { Logger } from "../log.ts";
import type { StatusHub } from "./hub.ts";
import { serviceId } from "../config/file.ts";

export type ReadyState = "ok" | "degraded" | "not ready";

export interface Readiness {
  state: ReadyState;
  reasons: string[];
}

/** What the caches say: synced at least once, and which are disconnected now. */
export interface CacheState {
  synced(): boolean;
  disconnected(): string[];
}

/** Configured services the cluster does not have (as the status model sees them). */
export const absentServices = (hub: Pick<StatusHub, "all">): string[] => hub.all().filter((s) => s.rollout === "missing").map((s) => serviceId(s.service));

/** `accessLines`: the self-check's findings (kube/access.ts accessDetail), each a missing right or its consequence. */
export function readinessOf(view: CacheState, accessLines: string[], hub: Pick<StatusHub, "all">): Readiness {
  if (!view.synced()) return { state: "not ready", reasons: ["watch caches have not synced yet", ...accessLines] };
  const reasons = [
    ...view.disconnected().map((d) => `watch disconnected: ${d}`),
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
  return {
    synced() {
      reporting = true;
      if (absent.size) log("warn", "configured services absent from the cluster", { services: [...absent] });
    },
  };
}
