// A service's Events: those about the workload, its revisions and its pods, newest first, repeats counted, at most 20 (pure).
import type { KubeEvent } from "../kube/types.ts";

export interface EventInfo {
  type: "Warning" | "Normal";
  reason: string;
  message: string;
  /** What it is about, as Kind/name (e.g. Pod/web-7d9c-abcde). */
  object: string;
  /** How often it happened (repeats of the same object, reason and message are merged). */
  count: number;
  firstSeen: string;
  lastSeen: string;
}

export const MAX_EVENTS = 20;

/** Normal Events that tell the story of a rollout; every Warning is kept. */
const ROLLOUT_REASONS = new Set([
  "ScalingReplicaSet",
  "SuccessfulCreate",
  "SuccessfulDelete",
  "Restarted",
  "DeploymentRollback",
  "Killing",
  "Scheduled",
]);

/** The objects whose Events belong to a service, as "Kind/name". */
export interface EventSubjects {
  workload: string;
  revisions: string[];
  pods: string[];
  /** Pod names this workload's controller gives (so Events of pods already gone still match). */
  podName?: RegExp;
}

const time = (e: KubeEvent, which: "first" | "last"): string => {
  const t = which === "first" ? (e.firstTimestamp ?? e.eventTime) : (e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp);
  return t ? new Date(t as unknown as string).toISOString() : (e.metadata?.creationTimestamp ? new Date(e.metadata.creationTimestamp as unknown as string).toISOString() : "");
};

const countOf = (e: KubeEvent) => Math.max(1, e.series?.count ?? e.count ?? 1);

export function isRelevant(e: KubeEvent): boolean {
  return e.type === "Warning" || ROLLOUT_REASONS.has(e.reason ?? "");
}

/** The service's Events, newest first; the same object, reason and message become one line with a count. */
export function eventsFor(subjects: EventSubjects, events: KubeEvent[], max = MAX_EVENTS): EventInfo[] {
  const mine = new Set([subjects.workload, ...subjects.revisions, ...subjects.pods]);
  const merged = new Map<string, EventInfo>();
  for (const e of events) {
    const object = `${e.involvedObject?.kind ?? ""}/${e.involvedObject?.name ?? ""}`;
    const ofMine = mine.has(object) || (object.startsWith("Pod/") && !!subjects.podName?.test(object.slice(4)));
    if (!ofMine || !isRelevant(e)) continue;
    const key = `${object}\u0000${e.reason}\u0000${e.message}`;
    const info: EventInfo = {
      type: e.type === "Warning" ? "Warning" : "Normal",
      reason: e.reason ?? "",
      message: e.message ?? "",
      object,
      count: countOf(e),
      firstSeen: time(e, "first"),
      lastSeen: time(e, "last"),
    };
    const seen = merged.get(key);
    if (!seen) merged.set(key, info);
    else {
      seen.count += info.count;
      if (info.firstSeen && (!seen.firstSeen || info.firstSeen < seen.firstSeen)) seen.firstSeen = info.firstSeen;
      if (info.lastSeen > seen.lastSeen) seen.lastSeen = info.lastSeen;
    }
  }
  return [...merged.values()].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen) || a.object.localeCompare(b.object)).slice(0, max);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The names a controller gives its pods: <replicaset>-<5 chars>, <statefulset>-<ordinal>, <daemonset>-<5 chars>. */
export function podNamePattern(kind: string, name: string, revisionNames: string[]): RegExp {
  if (kind === "StatefulSet") return new RegExp(`^${escapeRe(name)}-\\d+$`);
  const owners = kind === "Deployment" ? revisionNames : [name];
  if (!owners.length) return /^$/;
  return new RegExp(`^(${owners.map(escapeRe).join("|")})-[a-z0-9]{5}$`);
}
