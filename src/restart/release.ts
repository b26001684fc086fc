// Frees a restart lock once its rollout has settled (complete or failed) at the generation the PATCH produced.
import { serviceId } from "../config/file.ts";
import type { ServiceStatus } from "../status/model.ts";

/** Pure: should this status's lock be released now? */
export function rolloutSettled(s: ServiceStatus): boolean {
  const gen = s.lock?.generation;
  if (gen === undefined) return false; // PATCH not confirmed yet (or crashed before): FORCE_UNLOCK_SEC covers it
  // Deleted, or deleted and re-created (a new uid, its generation starting again at 1): the
  // rollout this lock waits for will never be observed.
  if (s.rollout === "missing") return true;
  if (s.lock!.uid && s.uid && s.lock!.uid !== s.uid) return true;
  if ((s.observedGeneration ?? 0) < gen) return false;
  return s.rollout === "complete" || s.rollout === "failed" || s.rollout === "unknown";
}

/**
 * Any replica may release: the holder recorded in the Lease is passed along, so a lock taken
 * anew in between is never freed by mistake.
 */
export function makeReleaser(
  release: (s: ServiceStatus) => Promise<void>,
  log: (msg: string, f: Record<string, unknown>) => void,
) {
  const inFlight = new Set<string>();
  return (s: ServiceStatus) => {
    if (!rolloutSettled(s)) return;
    const key = `${serviceId(s.service)}@${s.lock!.holder}`;
    if (inFlight.has(key)) return;
    inFlight.add(key);
    release(s)
      .then(() => log("restart lock released", { service: serviceId(s.service), rollout: s.rollout, holder: s.lock!.holder }))
      .catch((e) => log("restart lock release failed", { service: serviceId(s.service), error: String(e) }))
      .finally(() => inFlight.delete(key));
  };
}
