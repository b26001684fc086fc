// The app's own record of how restarts ended, while it runs: seen under way, then complete / failed / timed out, with the duration.
import { serviceId } from "../config/file.ts";
import type { ServiceStatus } from "./model.ts";
import { restartOutcome } from "./settle.ts";

export type OutcomeResult = "complete" | "failed" | "timed-out";

export interface Outcome {
  restartedAt: string;
  restartedBy: string;
  result: OutcomeResult;
  finishedAt: string;
  /** Whole seconds from the restart to its end. */
  seconds: number;
  /** For failures: the one-line cause at the moment it failed. */
  why: string;
}

/** Past outcomes kept per service (the cluster keeps about ten revisions; keep a little more). */
const KEEP = 20;

export interface OutcomeBook {
  /** Notes a new status; returns the outcome of its last restart when the app saw that restart end. */
  observe(s: ServiceStatus, nowMs: number): Outcome | undefined;
  /** Outcomes of a service, newest first. */
  of(id: string): Outcome[];
}

/** Under way: rolling out, or locked for a restart made at or after the lock was taken. */
function underWay(s: ServiceStatus): boolean {
  if (!s.lastRestart) return false;
  if (s.rollout === "progressing") return true;
  return s.lock !== null && Date.parse(s.lastRestart) >= Date.parse(s.lock.since) - 1000;
}

export function makeOutcomeBook(): OutcomeBook {
  const running = new Map<string, string>();
  const done = new Map<string, Outcome[]>();
  const find = (id: string, at: string) => done.get(id)?.find((o) => o.restartedAt === at);
  return {
    observe(s, nowMs) {
      const id = serviceId(s.service);
      const known = find(id, s.lastRestart);
      if (known) return known;
      if (underWay(s)) {
        running.set(id, s.lastRestart);
        return undefined;
      }
      // Only a restart seen under way gets an outcome: one that ended before the app started has no honest duration.
      if (running.get(id) !== s.lastRestart) return undefined;
      const end = restartOutcome(s, s.lastRestart);
      if (!end) return undefined;
      running.delete(id);
      const timedOut = end === "failed" && s.service.kind !== "Deployment";
      const o: Outcome = {
        restartedAt: s.lastRestart,
        restartedBy: s.restartedBy,
        result: end === "complete" ? "complete" : timedOut ? "timed-out" : "failed",
        finishedAt: new Date(nowMs).toISOString(),
        seconds: Math.max(0, Math.round((nowMs - Date.parse(s.lastRestart)) / 1000)),
        why: end === "failed" ? (s.why ?? s.message) : "",
      };
      done.set(id, [o, ...(done.get(id) ?? [])].slice(0, KEEP));
      return o;
    },
    of: (id) => done.get(id) ?? [],
  };
}
