// The set of watch caches the configured services need: one per (resource, namespace), shared by all clients.
import type { Kind, ServiceKey } from "../config/file.ts";
import type { KubeClient } from "./client.ts";
import { LOCK_SELECTOR, leaseName } from "./lock.ts";
import { controllerRevisionsPath, eventsPath, leasesPath, podsPath, replicaSetsPath, workloadsPath } from "./paths.ts";
import type { ControllerRevision, KubeEvent, KubeObject, Lease, Pod, ReplicaSet, Workload } from "./types.ts";
import { WatchCache } from "./watch.ts";

export interface ClusterView {
  workload(s: ServiceKey): Workload | undefined;
  pods(namespace: string): Pod[];
  lease(s: ServiceKey): Lease | undefined;
  /** Events of a namespace (empty when the app may not read them). */
  events(namespace: string): KubeEvent[];
  /** ReplicaSets of a namespace owned by the object with this uid (a Deployment's revisions). */
  replicaSets(namespace: string, ownerUid: string): ReplicaSet[];
  /** ControllerRevisions of a namespace owned by the object with this uid (StatefulSet/DaemonSet revisions). */
  revisions(namespace: string, ownerUid: string): ControllerRevision[];
  /** Which detail reads are not watched, as "resource in namespace" (missing rights). */
  detailGaps(): string[];
  /** Called with what changed, so only the services it can affect are recomputed. */
  onChange(h: (scope: ChangeScope) => void): void;
  onConnection(h: () => void): void;
  /** Called when a list or watch is answered 403: the app's rights may have changed. */
  onForbidden(h: () => void): void;
  /** Every cache has its first list, or was refused (403) and counts as settled. */
  synced(): boolean;
  /** Human-readable list of caches that are currently disconnected (empty when all are live). */
  disconnected(): string[];
  start(): Promise<void>;
  stop(): void;
}

/**
 * What a watch event touched: a workload (kind + name), a pod (its labels, before and after an
 * update, since a relabelled pod leaves one workload for another), or a lock Lease.
 */
export interface ChangeScope {
  namespace?: string;
  workload?: { kind: Kind; name: string };
  podLabels?: Record<string, string>[];
  lease?: string;
}

/** Where lock records come from when they are not Leases watched in the cluster. */
export interface LockSource {
  lease(s: ServiceKey): Lease | undefined;
  onChange(h: (leaseName: string) => void): void;
}

export interface ClusterOptions {
  client: KubeClient;
  services: ServiceKey[];
  lockNamespace: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** In-process locks, when the app may not use Leases: read instead of a Lease watch. */
  locks?: LockSource;
  /** Detail reads the app may not do (from the self-check): those watches are not started. */
  missingDetails?: { resource: string; namespace: string }[];
}

export function watchCluster({ client, services, lockNamespace, log, locks, missingDetails = [] }: ClusterOptions): ClusterView {
  const workloads = new Map<string, WatchCache<Workload>>(); // key kind/ns
  const pods = new Map<string, WatchCache<Pod>>(); // key ns
  for (const s of services) {
    const k = `${s.kind}/${s.namespace}`;
    if (!workloads.has(k)) workloads.set(k, new WatchCache<Workload>(client, { path: workloadsPath(s.kind as Kind, s.namespace), log }));
    if (!pods.has(s.namespace)) pods.set(s.namespace, new WatchCache<Pod>(client, { path: podsPath(s.namespace), log }));
  }
  const details = detailCaches(client, services, missingDetails, log);
  const leases = locks ? undefined : new WatchCache<Lease>(client, { path: leasesPath(lockNamespace), labelSelector: LOCK_SELECTOR, log });
  const all: WatchCache<never>[] = [...workloads.values(), ...pods.values(), ...details.all, ...(leases ? [leases] : [])] as never;
  const changeHandlers: ((scope: ChangeScope) => void)[] = [];
  const notify = (scope: ChangeScope | undefined) => scope && changeHandlers.forEach((h) => h(scope));
  const connHandlers: (() => void)[] = [];

  for (const [k, c] of workloads) {
    const [kind, ns] = k.split("/") as [Kind, string];
    c.onChange((_t, w) => notify({ namespace: ns, workload: { kind, name: w.metadata?.name ?? "" } }));
  }
  for (const [ns, c] of pods) {
    c.onChange((_t, p, prev) => notify({ namespace: ns, podLabels: [p.metadata?.labels ?? {}, ...(prev ? [prev.metadata?.labels ?? {}] : [])] }));
  }
  const podLabels = (ns: string, name: string) => pods.get(ns)?.get(ns, name)?.metadata?.labels;
  const rsOwner = (ns: string, name: string) => details.replicaSets.get(ns)?.get(ns, name)?.metadata?.ownerReferences?.find((o) => o.controller);
  for (const [ns, c] of details.replicaSets) c.onChange((_t, o) => notify(ownerScope(ns, o)));
  for (const [ns, c] of details.revisions) c.onChange((_t, o) => notify(ownerScope(ns, o)));
  for (const [ns, c] of details.events) c.onChange((_t, e) => notify(eventScope(ns, e, podLabels, rsOwner)));
  leases?.onChange((_t, l) => notify({ lease: l.metadata?.name }));
  locks?.onChange((name) => notify({ lease: name }));
  for (const c of all) c.onConnection(() => connHandlers.forEach((h) => h()));

  return {
    workload: (s) => workloads.get(`${s.kind}/${s.namespace}`)?.get(s.namespace, s.name),
    pods: (ns) => pods.get(ns)?.list() ?? [],
    lease: (s) => (locks ? locks.lease(s) : leases?.get(lockNamespace, leaseName(s))),
    events: (ns) => details.events.get(ns)?.list() ?? [],
    replicaSets: (ns, uid) => ownedBy(details.replicaSets.get(ns)?.list() ?? [], uid),
    revisions: (ns, uid) => ownedBy(details.revisions.get(ns)?.list() ?? [], uid),
    detailGaps: () => missingDetails.map((m) => `${m.resource} in ${m.namespace}`),
    onChange: (h) => void changeHandlers.push(h),
    onConnection: (h) => void connHandlers.push(h),
    onForbidden: (h) => all.forEach((c) => c.onForbidden(h)),
    synced: () => all.every((c) => c.synced || c.forbidden),
    // A cache refused with 403 is not "disconnected": its services are shown as not watchable.
    disconnected: () => all.filter((c) => !c.connected && !c.forbidden).map((c) => `${c.opts.path}${c.lastError ? ` (${c.lastError})` : ""}`),
    start: async () => void (await Promise.all(all.map((c) => c.start()))),
    stop: () => all.forEach((c) => c.stop()),
  };
}

type Owned = KubeObject & { metadata?: { ownerReferences?: { uid: string; kind: string; name: string; controller?: boolean }[] } };

const ownedBy = <T extends Owned>(items: T[], uid: string): T[] => items.filter((o) => o.metadata?.ownerReferences?.some((r) => r.uid === uid));

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

/** A ReplicaSet or ControllerRevision changed: the workload that owns it. */
function ownerScope(namespace: string, o: Owned): ChangeScope | undefined {
  const owner = o.metadata?.ownerReferences?.find((r) => r.controller && WORKLOAD_KINDS.has(r.kind));
  return owner ? { namespace, workload: { kind: owner.kind as Kind, name: owner.name } } : undefined;
}

/** An Event changed: the workload it is about, through its ReplicaSet, or the pod (by its labels). */
export function eventScope(
  namespace: string,
  e: KubeEvent,
  podLabels: (ns: string, name: string) => Record<string, string> | undefined,
  rsOwner: (ns: string, name: string) => { kind: string; name: string } | undefined,
): ChangeScope | undefined {
  const { kind = "", name = "" } = e.involvedObject ?? {};
  if (WORKLOAD_KINDS.has(kind)) return { namespace, workload: { kind: kind as Kind, name } };
  if (kind === "ReplicaSet") {
    const owner = rsOwner(namespace, name);
    return owner?.kind === "Deployment" ? { namespace, workload: { kind: "Deployment", name: owner.name } } : undefined;
  }
  if (kind === "Pod") {
    const labels = podLabels(namespace, name);
    return labels ? { namespace, podLabels: [labels] } : undefined;
  }
  return undefined;
}

/** The optional watches behind details and history, per namespace, skipping those the app may not read. */
function detailCaches(client: KubeClient, services: ServiceKey[], missing: { resource: string; namespace: string }[], log: ClusterOptions["log"]) {
  const allowed = (resource: string, ns: string) => !missing.some((m) => m.resource === resource && m.namespace === ns);
  const events = new Map<string, WatchCache<KubeEvent>>();
  const replicaSets = new Map<string, WatchCache<ReplicaSet>>();
  const revisions = new Map<string, WatchCache<ControllerRevision>>();
  for (const s of services) {
    const ns = s.namespace;
    if (!events.has(ns) && allowed("events", ns)) events.set(ns, new WatchCache<KubeEvent>(client, { path: eventsPath(ns), log }));
    if (s.kind === "Deployment" && !replicaSets.has(ns) && allowed("replicasets", ns)) {
      replicaSets.set(ns, new WatchCache<ReplicaSet>(client, { path: replicaSetsPath(ns), log }));
    }
    if (s.kind !== "Deployment" && !revisions.has(ns) && allowed("controllerrevisions", ns)) {
      revisions.set(ns, new WatchCache<ControllerRevision>(client, { path: controllerRevisionsPath(ns), log }));
    }
  }
  return { events, replicaSets, revisions, all: [...events.values(), ...replicaSets.values(), ...revisions.values()] };
}
