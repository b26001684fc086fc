// One pod as the details panel shows it: phase, readiness, restarts, age, node, revision, and why it is stuck (pure).
import type { Pod } from "../kube/types.ts";
import { isPodReady } from "./model.ts";

export interface PodInfo {
  name: string;
  /** Pending, Running, Succeeded, Failed, Unknown, or Terminating while being deleted. */
  phase: string;
  ready: boolean;
  /** Restarts summed over the pod's containers. */
  restarts: number;
  /** Seconds since the pod was created. */
  ageSec: number;
  node: string;
  /** Whether it runs the workload's current revision; undefined when the current revision is not known. */
  current: boolean | undefined;
  /** Why it is not (yet) running well, e.g. "CrashLoopBackOff (exit 1)", "Unschedulable"; "" when nothing is wrong. */
  reason: string;
  /** The cluster's own words for it (the scheduler's or the kubelet's message), "" when none. */
  detail: string;
  created: string;
}

/** The label that ties a pod to its revision: pod-template-hash (Deployments), controller-revision-hash (the others). */
export function revisionHashOf(p: Pod): string | undefined {
  const l = p.metadata?.labels ?? {};
  return l["pod-template-hash"] ?? l["controller-revision-hash"];
}

/** Container states that mean trouble (or a wait worth telling) rather than a normal start-up. */
const WAIT_REASONS_SHOWN = new Set([
  "ContainerCreating",
  "PodInitializing",
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

/** The most telling container problem: a waiting reason (with the last exit code when it crashed), else a bad termination. */
function containerProblem(p: Pod): { reason: string; detail: string } | undefined {
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
  for (const c of statuses) {
    const w = c.state?.waiting;
    if (w?.reason && WAIT_REASONS_SHOWN.has(w.reason)) {
      const exit = c.lastState?.terminated?.exitCode;
      const lastReason = c.lastState?.terminated?.reason;
      const why = w.reason === "CrashLoopBackOff" && exit !== undefined ? `${w.reason} (exit ${exit}${lastReason === "OOMKilled" ? ", OOMKilled" : ""})` : w.reason;
      return { reason: why, detail: w.message ?? "" };
    }
  }
  for (const c of statuses) {
    const t = c.state?.terminated;
    if (t && (t.exitCode !== 0 || t.reason === "OOMKilled")) return { reason: `${t.reason ?? "Terminated"} (exit ${t.exitCode})`, detail: t.message ?? "" };
  }
  return undefined;
}

/** The pod's problem, most specific first: cannot be scheduled, a container problem, or a failed pod. */
export function podProblem(p: Pod): { reason: string; detail: string } | undefined {
  const scheduled = p.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False") return { reason: scheduled.reason || "Unschedulable", detail: scheduled.message ?? "" };
  const c = containerProblem(p);
  if (c) return c;
  if (p.status?.phase === "Failed") return { reason: p.status.reason || "Failed", detail: p.status.message ?? "" };
  return undefined;
}

export function podInfo(p: Pod, currentHash: string | undefined, nowMs: number): PodInfo {
  const created = p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp as unknown as string).toISOString() : "";
  const problem = podProblem(p);
  const hash = revisionHashOf(p);
  return {
    name: p.metadata?.name ?? "",
    phase: p.metadata?.deletionTimestamp ? "Terminating" : (p.status?.phase ?? "Unknown"),
    ready: isPodReady(p),
    restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
    ageSec: created ? Math.max(0, Math.floor((nowMs - Date.parse(created)) / 1000)) : 0,
    node: p.spec?.nodeName ?? "",
    current: currentHash === undefined || hash === undefined ? undefined : hash === currentHash,
    reason: problem?.reason ?? "",
    detail: problem?.detail ?? "",
    created,
  };
}

/** Pods in the order an on-call person reads them: problems first, then the current revision, then by name. */
export function sortPods(pods: PodInfo[]): PodInfo[] {
  const rank = (p: PodInfo) => (p.reason ? 0 : p.current === false ? 2 : 1);
  return [...pods].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}
