// A service's details — pods, Events, restart history — read from the watch caches, and the one-line "why" the card shows.
import { type Kind, type ServiceKey, serviceId } from "../config/file.ts";
import type { ClusterView } from "../kube/cluster.ts";
import { type EventInfo, eventsFor, podNamePattern } from "./events.ts";
import { podsOf, type ServiceStatus } from "./model.ts";
import type { Outcome, OutcomeBook, OutcomeResult } from "./outcomes.ts";
import { type PodInfo, podInfo, sortPods } from "./pods.ts";
import { currentHash, type Revision, revisionsOf } from "./revisions.ts";
import { whyLine } from "./why.ts";

/** One past restart. */
export interface HistoryEntry {
  /** The restartedAt annotation (RFC 3339, UTC). */
  restartedAt: string;
  /** Who, from our restartedBy annotation; "" for restarts made with kubectl or before the app recorded it. */
  restartedBy: string;
  /** The workload's revision number it produced; 0 when the cluster no longer keeps that revision. */
  revision: number;
  /** complete / failed / timed-out as the app saw it end; in-progress; unknown when it ended before the app watched. */
  outcome: OutcomeResult | "in-progress" | "unknown";
  /** Seconds from the restart to its end, null when not seen by the app. */
  durationSec: number | null;
  /** For failures seen by the app: the cause at that moment. */
  why: string;
}

/** Everything the details panel and the JSON snapshot show about one service. */
export interface ServiceDetails {
  pods: PodInfo[];
  events: EventInfo[];
  history: HistoryEntry[];
  /** Detail reads the app lacks rights for (their parts stay empty), e.g. "events in shop". */
  gaps: string[];
}

interface Gathered {
  revisions: Revision[];
  pods: PodInfo[];
  events: () => EventInfo[];
}

/** Reads a service's revisions, pods and (lazily) Events from the caches. */
function gather(s: ServiceKey, view: ClusterView, nowMs: number): Gathered {
  const w = view.workload(s);
  const uid = w?.metadata?.uid ?? "";
  const rs = s.kind === "Deployment" && uid ? view.replicaSets(s.namespace, uid) : [];
  const crs = s.kind !== "Deployment" && uid ? view.revisions(s.namespace, uid) : [];
  const revisions = revisionsOf(s.kind as Kind, rs, crs);
  const hash = currentHash(s.kind as Kind, w, revisions);
  const raw = podsOf(w, view.pods(s.namespace));
  const pods = sortPods(raw.map((p) => podInfo(p, hash, nowMs)));
  const events = () => {
    const revisionObjects = s.kind === "Deployment" ? rs.map((r) => `ReplicaSet/${r.metadata?.name}`) : crs.map((c) => `ControllerRevision/${c.metadata?.name}`);
    const podName = podNamePattern(s.kind, s.name, rs.map((r) => r.metadata?.name ?? ""));
    return eventsFor({ workload: `${s.kind}/${s.name}`, revisions: revisionObjects, pods: pods.map((p) => `Pod/${p.name}`), podName }, view.events(s.namespace));
  };
  return { revisions, pods, events };
}

/** The card's one-line cause for a status (only looks at Events when the rollout is in trouble or slow). */
export function whyFor(st: ServiceStatus, view: ClusterView, nowMs: number): string {
  if (st.rollout !== "failed" && st.rollout !== "progressing") return "";
  const g = gather(st.service, view, nowMs);
  return whyLine({ ...st, pods: g.pods, events: g.events, nowMs });
}

/** Revisions that were restarts, merged with the outcomes the app saw (by restartedAt), newest first. */
export function historyOf(revisions: Revision[], outcomes: Outcome[], current: ServiceStatus | undefined): HistoryEntry[] {
  const byAt = new Map<string, HistoryEntry>();
  const newest = revisions[0];
  for (const r of revisions) {
    if (!r.restartedAt || byAt.has(r.restartedAt)) continue;
    const live = r === newest && current?.lastRestart === r.restartedAt ? current.rollout : undefined;
    const outcome = live === "complete" || live === "failed" ? live : live === "progressing" ? "in-progress" : "unknown";
    byAt.set(r.restartedAt, { restartedAt: r.restartedAt, restartedBy: r.restartedBy, revision: r.revision, outcome, durationSec: null, why: "" });
  }
  for (const o of outcomes) {
    const e = byAt.get(o.restartedAt) ?? { restartedAt: o.restartedAt, restartedBy: o.restartedBy, revision: 0, outcome: "unknown", durationSec: null, why: "" };
    byAt.set(o.restartedAt, { ...e, outcome: o.result, durationSec: o.seconds, why: o.why });
  }
  return [...byAt.values()].sort((a, b) => b.restartedAt.localeCompare(a.restartedAt));
}

/**
 * `{ pods, events, history }` of one service, for the details panel and the JSON snapshot
 * (`GET /api/v1/service/{kind}/{namespace}/{name}`). Field by field:
 * - pods[]: name, phase (Pending/Running/Succeeded/Failed/Unknown/Terminating), ready, restarts,
 *   ageSec, node ("" until scheduled), current (runs the revision being rolled out; null when
 *   unknown), reason (e.g. "Unschedulable", "CrashLoopBackOff (exit 1)", "ImagePullBackOff",
 *   "ContainerCreating", "OOMKilled (exit 137)"; "" when fine), detail (the scheduler's or
 *   kubelet's message), created (RFC 3339). Problems first, then current pods, then old ones.
 * - events[]: type (Warning/Normal), reason, message, object ("Pod/web-…", "ReplicaSet/web-…",
 *   "Deployment/web"), count (repeats merged), firstSeen, lastSeen; newest first, at most 20;
 *   Warnings plus rollout-relevant Normal reasons (ScalingReplicaSet, SuccessfulCreate, …).
 * - history[]: restartedAt, restartedBy, revision, outcome (complete/failed/timed-out/in-progress/
 *   unknown), durationSec (null unless the app saw it end), why; newest first.
 * - gaps[]: detail reads the app may not do, so the matching list is empty for that reason.
 */
export function serviceDetails(s: ServiceKey, view: ClusterView, nowMs: number, book: OutcomeBook, current: ServiceStatus | undefined): ServiceDetails {
  const g = gather(s, view, nowMs);
  const gaps = view.detailGaps().filter((x) => x.endsWith(` in ${s.namespace}`));
  return { pods: g.pods, events: g.events(), history: historyOf(g.revisions, book.of(serviceId(s)), current), gaps };
}
