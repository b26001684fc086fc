// "Why, in one line": the most likely cause of a failed or slow rollout, from its pods and Events (pure).
import type { RolloutState } from "./rollout.ts";
import type { EventInfo } from "./events.ts";
import type { PodInfo } from "./pods.ts";

/** A rollout progressing longer than this after its restart gets a "why" even for ordinary waits. */
export const SLOW_MS = 60_000;

/** Problems that will not go away by waiting: said as soon as they show, not only when slow. */
const HARD = /^(Unschedulable|CrashLoopBackOff|ImagePullBackOff|ErrImagePull|InvalidImageName|CreateContainer|RunContainerError|OOMKilled|Error|Failed|Evicted)/;

export interface WhyInput {
  rollout: RolloutState;
  /** restartedAt of the last restart, "" when none. */
  lastRestart: string;
  nowMs: number;
  desired: number;
  updated: number;
  /** The workload's pods (details of each). */
  pods: PodInfo[];
  /** The service's Events, newest first (a function: only read when pods do not tell the cause). */
  events: EventInfo[] | (() => EventInfo[]);
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Pending pods that cannot be scheduled, grouped by the scheduler's message (the most common first). */
function unschedulable(pods: PodInfo[]): string {
  const byMsg = new Map<string, number>();
  for (const p of pods) if (p.reason === "Unschedulable" || (p.phase === "Pending" && /nodes are available/.test(p.detail))) byMsg.set(p.detail, (byMsg.get(p.detail) ?? 0) + 1);
  const top = [...byMsg].sort((a, b) => b[1] - a[1])[0];
  if (!top) return "";
  return `${plural(top[1], "new pod")} Pending: ${top[0] || "cannot be scheduled"}`;
}

/** The first pod with a container problem: "web-7d9c-x2 CrashLoopBackOff (exit 1), 5 restarts". */
function podTrouble(pods: PodInfo[], hardOnly: boolean): string {
  const p = pods.find((x) => x.reason && x.reason !== "Unschedulable" && (!hardOnly || HARD.test(x.reason)));
  if (!p) return "";
  const restarts = p.restarts > 0 ? `, ${plural(p.restarts, "restart")}` : "";
  const detail = p.detail && !restarts ? `: ${p.detail}` : "";
  return `${p.name} ${p.reason}${restarts}${detail}`;
}

/** The newest Warning about the workload or its revisions (quota, admission, …), then about its pods. */
function warning(events: EventInfo[]): string {
  const w = events.find((e) => e.type === "Warning" && !e.object.startsWith("Pod/")) ?? events.find((e) => e.type === "Warning");
  return w ? `${w.object} ${w.reason}: ${w.message}${w.count > 1 ? ` (${w.count}×)` : ""}` : "";
}

/**
 * The cause, or "" when there is nothing to say (complete, or an ordinary rollout still young).
 * New pods (current revision, or unknown revision) are judged first; a failed rollout always gets
 * a line, at worst saying that the new revision did not become ready.
 */
export function whyLine(i: WhyInput): string {
  if (i.rollout !== "failed" && i.rollout !== "progressing") return "";
  const fresh = i.pods.filter((p) => p.current !== false && p.phase !== "Terminating");
  const slow = i.rollout === "failed" || (i.lastRestart !== "" && i.nowMs - Date.parse(i.lastRestart) > SLOW_MS);
  const events = () => (typeof i.events === "function" ? i.events() : i.events);
  const line = unschedulable(fresh) || podTrouble(fresh, !slow) || (slow ? warning(events()) : "");
  if (line) return line;
  if (i.rollout === "failed") return `the new revision did not become ready: ${i.updated} of ${i.desired} pods updated`;
  return "";
}
