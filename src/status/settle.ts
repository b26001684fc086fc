// Two rules about the end of a restart, side by side so they cannot be confused: when its lock may go, and when its caller may be told it finished.
import type { ServiceStatus } from "./model.ts";
import type { RolloutState } from "./rollout.ts";

/**
 * The lock may be released: the controller has observed the generation the restart PATCH
 * produced and the rollout has settled there (or the workload is gone / unreadable).
 */
export function lockReleasable(s: ServiceStatus): boolean {
  const gen = s.lock?.generation;
  if (gen === undefined) return false; // PATCH not confirmed yet (or crashed before): FORCE_UNLOCK_SEC covers it
  // Deleted, or deleted and re-created (a new uid, its generation starting again at 1): the
  // rollout this lock waits for will never be observed (issue 15 #14).
  if (s.rollout === "missing") return true;
  if (s.lock!.uid && s.uid && s.lock!.uid !== s.uid) return true;
  if ((s.observedGeneration ?? 0) < gen) return false;
  return s.rollout === "complete" || s.rollout === "failed" || s.rollout === "unknown";
}

export type RestartOutcome = "complete" | "failed";

/**
 * The restart made at `restartedAt` has finished, as `?wait` reports it: the status shows this
 * restart, its lock is gone (so the new generation was observed) and the rollout is complete or
 * failed. Undefined while it is still under way.
 */
export function restartOutcome(s: ServiceStatus | undefined, restartedAt: string): RestartOutcome | undefined {
  if (!s || s.lastRestart !== restartedAt || s.lock !== null) return undefined;
  return s.rollout === "complete" || s.rollout === "failed" ? s.rollout : undefined;
}

/**
 * Nothing is rolling, whoever started it: no restart holds the lock and the rollout is not
 * progressing. GET …?wait answers with the rollout state once this holds (at once when it already does).
 */
export function settledState(s: ServiceStatus | undefined): RolloutState | undefined {
  if (!s || s.lock !== null || s.rollout === "progressing") return undefined;
  return s.rollout;
}
