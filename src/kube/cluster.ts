// The set of watch caches the configured services need: one per (resource, namespace), shared by all clients.
import type { Kind, ServiceKey } from "../config/file.ts";
import type { KubeClient } from "./client.ts";
import { LOCK_SELECTOR, leaseName } from "./lock.ts";
import { leasesPath, podsPath, workloadsPath } from "./paths.ts";
import type { Lease, Pod, Workload } from "./types.ts";
import { WatchCache } from "./watch.ts";

export interface ClusterView {
  workload(s: ServiceKey): Workload | undefined;
  pods(namespace: string): Pod[];
  lease(s: ServiceKey): Lease | undefined;
  /** Called with what changed, so only the services it can affect are recomputed. */
  onChange(h: (scope: ChangeScope) => void): void;
  onConnection(h: () => void): void;
  /** Called when a list or watch is answered 403: the app's rights may have changed. */
  onForbidden(h: () => void): void;
  /** Every cache has its first list, or was refused (403) and counts as settled. */
  synced(): boolean;
  /** Human-readable list of caches that are currently disconnected (empty when all are live). */
  disconnected(): string[];
  /** Every watch with what it watches and whether it is connected now (for restart_app_watch_connected). */
  watches(): WatchState[];
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

export interface WatchState {
  resource: string;
  namespace: string;
  connected: boolean;
}

/** "/apis/apps/v1/namespaces/shop/deployments" → deployments in shop. */
function watchState(c: { opts: { path: string }; connected: boolean }): WatchState {
  const m = /\/namespaces\/([^/]+)\/([^/?]+)$/.exec(c.opts.path);
  return { resource: m?.[2] ?? c.opts.path, namespace: m?.[1] ?? "", connected: c.connected };
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
}

/** After an outage, one "watch recovered" line says the cache is live again and how long it was not. */
function recoveryLog(log: ClusterOptions["log"]) {
  const downSince = new Map<WatchCache<never>, number>();
  return (c: WatchCache<never>, up: boolean) => {
    if (!up && c.synced && !downSince.has(c)) downSince.set(c, Date.now());
    const since = downSince.get(c);
    if (!up || since === undefined) return;
    downSince.delete(c);
    log("watch recovered", { path: c.opts.path, downMs: Date.now() - since });
  };
}

export function watchCluster({ client, services, lockNamespace, log, locks }: ClusterOptions): ClusterView {
  const workloads = new Map<string, WatchCache<Workload>>(); // key kind/ns
  const pods = new Map<string, WatchCache<Pod>>(); // key ns
  for (const s of services) {
    const k = `${s.kind}/${s.namespace}`;
    if (!workloads.has(k)) workloads.set(k, new WatchCache<Workload>(client, { path: workloadsPath(s.kind as Kind, s.namespace), log }));
    if (!pods.has(s.namespace)) pods.set(s.namespace, new WatchCache<Pod>(client, { path: podsPath(s.namespace), log }));
  }
  const leases = locks ? undefined : new WatchCache<Lease>(client, { path: leasesPath(lockNamespace), labelSelector: LOCK_SELECTOR, log });
  const all: WatchCache<never>[] = [...workloads.values(), ...pods.values(), ...(leases ? [leases] : [])] as never;
  const changeHandlers: ((scope: ChangeScope) => void)[] = [];
  const notify = (scope: ChangeScope) => changeHandlers.forEach((h) => h(scope));
  const connHandlers: (() => void)[] = [];

  for (const [k, c] of workloads) {
    const [kind, ns] = k.split("/") as [Kind, string];
    c.onChange((_t, w) => notify({ namespace: ns, workload: { kind, name: w.metadata?.name ?? "" } }));
  }
  for (const [ns, c] of pods) {
    c.onChange((_t, p, prev) => notify({ namespace: ns, podLabels: [p.metadata?.labels ?? {}, ...(prev ? [prev.metadata?.labels ?? {}] : [])] }));
  }
  leases?.onChange((_t, l) => notify({ lease: l.metadata?.name }));
  locks?.onChange((name) => notify({ lease: name }));
  const noteRecovery = recoveryLog(log);
  for (const c of all) c.onConnection((up) => (noteRecovery(c, up), connHandlers.forEach((h) => h())));

  return {
    workload: (s) => workloads.get(`${s.kind}/${s.namespace}`)?.get(s.namespace, s.name),
    pods: (ns) => pods.get(ns)?.list() ?? [],
    lease: (s) => (locks ? locks.lease(s) : leases?.get(lockNamespace, leaseName(s))),
    onChange: (h) => void changeHandlers.push(h),
    onConnection: (h) => void connHandlers.push(h),
    onForbidden: (h) => all.forEach((c) => c.onForbidden(h)),
    synced: () => all.every((c) => c.synced || c.forbidden),
    // A cache refused with 403 is not "disconnected": its services are shown as not watchable.
    disconnected: () => all.filter((c) => !c.connected && !c.forbidden).map((c) => `${c.opts.path}${c.lastError ? ` (${c.lastError})` : ""}`),
    watches: () => all.map(watchState),
    start: async () => void (await Promise.all(all.map((c) => c.start()))),
    stop: () => all.forEach((c) => c.stop()),
  };
}
