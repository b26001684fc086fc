// The set of watch caches the configured services need: one per (resource, namespace), shared by all clients; caches are added and removed as the needed scopes change.
import type { ConfigFile, Kind, ServiceKey } from "../config/file.ts";
import type { KubeClient } from "./api.ts";
import { LOCK_SELECTOR, leaseName } from "./lock.ts";
import { controllerRevisionsPath, eventsPath, leasesPath, podsPath, replicaSetsPath, workloadsPath } from "./paths.ts";
import type { ControllerRevision, KubeEvent, KubeObject, Lease, Pod, ReplicaSet, Workload } from "./types.ts";
import { detailTrim } from "./trim.ts";
import { WatchCache } from "./watch.ts";

/** Where workloads of a kind are watched; namespace "*" is every namespace (one cluster-wide watch). */
export interface WatchScope {
  kind: Kind;
  namespace: string;
}

export interface ClusterView {
  workload(s: ServiceKey): Workload | undefined;
  /** Every cached workload of `kind` in `namespace` ("*": all namespaces). */
  workloads(kind: Kind, namespace: string): Workload[];
  pods(namespace: string): Pod[];
  lease(s: ServiceKey): Lease | undefined;
  /** Whether the cache that holds `s` has listed at least once (before that, "not there" means "not known yet"). */
  covers(s: ServiceKey): boolean;
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
  /** True once the caches the app started with have all listed, or were refused (403) and count as settled. */
  synced(): boolean;
  /** After start(): resolves once the detail caches it started (Events, revisions) have filled. */
  detailsFilled?(): Promise<void>;
  /** Human-readable list of caches that are currently disconnected (empty when all are live). */
  disconnected(): string[];
  /** Watches exactly these scopes from now on: new caches start, caches no longer needed stop. */
  setScopes(scopes: WatchScope[]): void;
  /** Every watch with what it watches and whether it is connected now (for restart_app_watch_connected). */
  watches(): WatchState[];
  /**
   * Lists and watches everything in scope; resolves once each cache has listed. With `localLocks`, lock
   * records come from in-process locks and the Lease watch is dropped (the self-check found no right to
   * use Leases; it answers after the view exists, since the server listens first).
   */
  start(localLocks?: LockSource): Promise<void>;
  stop(): void;
}

/**
 * What a watch event touched: a workload (kind + name), a pod (its labels, before and after an
 * update, since a relabelled pod leaves one workload for another), a lock Lease, or — when a cache
 * added at runtime has listed — everything in its namespace (`all` for a cluster-wide one).
 */
export interface ChangeScope {
  namespace?: string;
  workload?: { kind: Kind; name: string };
  podLabels?: Record<string, string>[];
  lease?: string;
  all?: boolean;
}

export interface WatchState {
  resource: string;
  namespace: string;
  connected: boolean;
}

/** "/apis/apps/v1/namespaces/shop/deployments" → deployments in shop; "/apis/apps/v1/deployments" → deployments in "*" (cluster-wide). */
function watchState(c: { opts: { path: string }; connected: boolean }): WatchState {
  const m = /\/(?:namespaces\/([^/]+)\/)?([^/?]+)$/.exec(c.opts.path);
  return { resource: m?.[2] ?? c.opts.path, namespace: m?.[1] ?? "*", connected: c.connected };
}

/** Where lock records come from when they are not Leases watched in the cluster. */
export interface LockSource {
  lease(s: ServiceKey): Lease | undefined;
  onChange(h: (leaseName: string) => void): void;
}

export interface ClusterOptions {
  client: KubeClient;
  /** Explicit services: their (kind, namespace) are watched. */
  services: ServiceKey[];
  /** More scopes to watch (selector entries). */
  scopes?: WatchScope[];
  lockNamespace: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** In-process locks, when the app may not use Leases: read instead of a Lease watch. */
  locks?: LockSource;
  /** Detail reads the app may not do (from the self-check): those watches are not started. */
  missingDetails?: { resource: string; namespace: string }[];
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

/** Cache keys for scopes: a cluster-wide scope of a kind replaces that kind's namespaced ones; pods follow. */
export function cacheKeys(scopes: WatchScope[]): { workloads: Set<string>; pods: Set<string> } {
  const wide = new Set(scopes.filter((s) => s.namespace === "*").map((s) => s.kind));
  const workloads = new Set(scopes.filter((s) => s.namespace === "*" || !wide.has(s.kind)).map((s) => `${s.kind}/${s.namespace}`));
  const pods = wide.size ? new Set(["*"]) : new Set(scopes.map((s) => s.namespace));
  return { workloads, pods };
}

export const scopesOf = (services: ServiceKey[]): WatchScope[] => services.map(({ kind, namespace }) => ({ kind, namespace }));

/** The scopes the selector entries of a config need watched (one per kind and namespace). */
export function selectorScopes(config: ConfigFile): WatchScope[] {
  const all = (config.selectors ?? []).flatMap((sel) => sel.kinds.map((kind) => ({ kind, namespace: sel.namespace })));
  return [...new Map(all.map((sc) => [`${sc.kind}/${sc.namespace}`, sc])).values()];
}

/** A pod cache for every namespace, indexed by namespace so pods(ns) stays cheap. */
class PodsByNamespace {
  readonly byNs = new Map<string, Map<string, Pod>>();
  constructor(cache: WatchCache<Pod>) {
    cache.onChange((type, p) => {
      const ns = p.metadata?.namespace ?? "";
      const key = p.metadata?.name ?? "";
      let m = this.byNs.get(ns);
      if (type === "delete") return void m?.delete(key);
      if (!m) this.byNs.set(ns, (m = new Map()));
      m.set(key, p);
    });
  }
}

export function watchCluster(o: ClusterOptions): ClusterView {
  return new View(o);
}

class View implements ClusterView {
  private readonly workloadCaches = new Map<string, WatchCache<Workload>>(); // key kind/ns
  private readonly podCaches = new Map<string, WatchCache<Pod>>(); // key ns or "*"
  private readonly detailCaches = new Map<string, WatchCache<KubeObject>>(); // key resource/ns (events, replicasets, controllerrevisions)
  private wideIndex: PodsByNamespace | undefined;
  private leases: WatchCache<Lease> | undefined;
  private locks: LockSource | undefined;
  private readonly changeHandlers: ((scope: ChangeScope) => void)[] = [];
  private readonly connHandlers: (() => void)[] = [];
  private readonly forbiddenHandlers: (() => void)[] = [];
  private started = false;
  private initialSynced = false;
  private readonly noteRecovery: ReturnType<typeof recoveryLog>;

  constructor(private readonly o: ClusterOptions) {
    this.noteRecovery = recoveryLog(o.log);
    this.leases = o.locks ? undefined : new WatchCache<Lease>(o.client, { path: leasesPath(o.lockNamespace), labelSelector: LOCK_SELECTOR, log: o.log });
    this.leases?.onChange((_t, l) => this.notify({ lease: l.metadata?.name }));
    if (this.leases) this.watchConnection(this.leases);
    this.leases?.onForbidden(() => this.forbiddenHandlers.forEach((h) => h()));
    if (o.locks) this.useLocalLocks(o.locks);
    this.setScopes([...scopesOf(o.services), ...(o.scopes ?? [])]);
  }

  private useLocalLocks(locks: LockSource): void {
    this.leases?.stop();
    this.leases = undefined;
    this.locks = locks;
    locks.onChange((name) => this.notify({ lease: name }));
  }

  private notify(scope: ChangeScope): void {
    for (const h of this.changeHandlers) h(scope);
  }

  private watchConnection<T extends KubeObject>(c: WatchCache<T>): void {
    c.onConnection((up) => (this.noteRecovery(c as unknown as WatchCache<never>, up), this.connHandlers.forEach((h) => h())));
  }

  /** What status, restarts and readiness need: workloads, pods, Leases. */
  private core(): WatchCache<never>[] {
    return [...this.workloadCaches.values(), ...this.podCaches.values(), ...(this.leases ? [this.leases] : [])] as never;
  }

  private all(): WatchCache<never>[] {
    return [...this.core(), ...(this.detailCaches.values() as Iterable<WatchCache<never>>)];
  }

  private newCache<T extends KubeObject>(path: string, namespace: string, onEvent: (t: T, prev?: T) => void, keep?: (o: T) => T): WatchCache<T> {
    const c = new WatchCache<T>(this.o.client, { path, log: this.o.log, keep });
    c.onChange((_t, obj, prev) => onEvent(obj, prev));
    this.watchConnection(c);
    c.onForbidden(() => this.forbiddenHandlers.forEach((h) => h()));
    // A cache added after start: once it has listed, everything it covers is known.
    if (this.started) void c.start().then(() => this.notify(namespace === "*" ? { all: true } : { namespace }));
    return c;
  }

  setScopes(scopes: WatchScope[]): void {
    const keys = cacheKeys(scopes);
    const details = detailKeys(scopes, this.o.missingDetails ?? []);
    const before = this.all().length;
    for (const [k, c] of this.workloadCaches) if (!keys.workloads.has(k)) (c.stop(), this.workloadCaches.delete(k));
    for (const [k, c] of this.podCaches) if (!keys.pods.has(k)) (c.stop(), this.podCaches.delete(k));
    for (const [k, c] of this.detailCaches) if (!details.has(k)) (c.stop(), this.detailCaches.delete(k));
    // Watches that went away leave the stale banner and restart_app_watch_connected (connection listeners re-read).
    if (this.started && this.all().length < before) queueMicrotask(() => this.connHandlers.forEach((h) => h()));
    this.addDetailCaches(details);
    if (!keys.pods.has("*")) this.wideIndex = undefined;
    for (const k of keys.workloads) {
      if (this.workloadCaches.has(k)) continue;
      const [kind, ns] = k.split("/") as [Kind, string];
      this.workloadCaches.set(k, this.newCache<Workload>(workloadsPath(kind, ns), ns, (w) => this.notify({ namespace: w.metadata?.namespace ?? "", workload: { kind, name: w.metadata?.name ?? "" } })));
    }
    for (const ns of keys.pods) {
      if (this.podCaches.has(ns)) continue;
      const c = this.newCache<Pod>(podsPath(ns), ns, (p, prev) =>
        this.notify({ namespace: p.metadata?.namespace ?? "", podLabels: [p.metadata?.labels ?? {}, ...(prev ? [prev.metadata?.labels ?? {}] : [])] }),
      );
      if (ns === "*") this.wideIndex = new PodsByNamespace(c);
      this.podCaches.set(ns, c);
    }
  }

  /** The optional watches behind details and history (Events, ReplicaSets, ControllerRevisions) follow the scopes too. */
  private addDetailCaches(keys: Set<string>): void {
    for (const k of keys) {
      if (this.detailCaches.has(k)) continue;
      const [resource, ns] = k.split("/") as [string, string];
      const path = resource === "events" ? eventsPath(ns) : resource === "replicasets" ? replicaSetsPath(ns) : controllerRevisionsPath(ns);
      const c = this.newCache<KubeObject>(path, ns, (o) => {
        const scope = resource === "events" ? eventScope(ns, o as KubeEvent, this.podLabels, this.rsOwner) : ownerScope(ns, o as Owned);
        if (scope) this.notify(scope);
      }, detailTrim(resource));
      this.detailCaches.set(k, c);
    }
  }

  private readonly podLabels = (ns: string, name: string) =>
    (this.podCaches.get(ns)?.get(ns, name) ?? this.wideIndex?.byNs.get(ns)?.get(name))?.metadata?.labels;

  private readonly rsOwner = (ns: string, name: string) =>
    (this.detailCaches.get(`replicasets/${ns}`)?.get(ns, name) as Owned | undefined)?.metadata?.ownerReferences?.find((o) => o.controller);

  events(namespace: string): KubeEvent[] {
    return (this.detailCaches.get(`events/${namespace}`)?.list() ?? []) as KubeEvent[];
  }

  replicaSets(namespace: string, ownerUid: string): ReplicaSet[] {
    return ownedBy((this.detailCaches.get(`replicasets/${namespace}`)?.list() ?? []) as ReplicaSet[], ownerUid);
  }

  revisions(namespace: string, ownerUid: string): ControllerRevision[] {
    return ownedBy((this.detailCaches.get(`controllerrevisions/${namespace}`)?.list() ?? []) as ControllerRevision[], ownerUid);
  }

  detailGaps(): string[] {
    return (this.o.missingDetails ?? []).map((m) => `${m.resource} in ${m.namespace}`);
  }

  private cacheFor(s: { kind: Kind; namespace: string }): WatchCache<Workload> | undefined {
    return this.workloadCaches.get(`${s.kind}/${s.namespace}`) ?? this.workloadCaches.get(`${s.kind}/*`);
  }

  workload(s: ServiceKey): Workload | undefined {
    return this.cacheFor(s)?.get(s.namespace, s.name);
  }

  workloads(kind: Kind, namespace: string): Workload[] {
    if (namespace === "*") return [...this.workloadCaches].filter(([k]) => k.startsWith(`${kind}/`)).flatMap(([, c]) => c.list());
    const own = this.workloadCaches.get(`${kind}/${namespace}`);
    if (own) return own.list();
    return (this.workloadCaches.get(`${kind}/*`)?.list() ?? []).filter((w) => w.metadata?.namespace === namespace);
  }

  pods(namespace: string): Pod[] {
    const own = this.podCaches.get(namespace);
    if (own) return own.list();
    return [...(this.wideIndex?.byNs.get(namespace)?.values() ?? [])];
  }

  lease(s: ServiceKey): Lease | undefined {
    return this.locks ? this.locks.lease(s) : this.leases?.get(this.o.lockNamespace, leaseName(s));
  }

  covers(s: ServiceKey): boolean {
    return !!this.cacheFor(s)?.synced;
  }

  onChange(h: (scope: ChangeScope) => void): void {
    this.changeHandlers.push(h);
  }

  onConnection(h: () => void): void {
    this.connHandlers.push(h);
  }

  onForbidden(h: () => void): void {
    this.forbiddenHandlers.push(h);
  }

  synced(): boolean {
    return this.initialSynced;
  }

  disconnected(): string[] {
    return this.all()
      .filter((c) => c.lost)
      .map((c) => `${c.opts.path}${c.lastError ? ` (${c.lastError})` : ""}`);
  }

  watches(): WatchState[] {
    return this.all().map(watchState);
  }

  /**
   * Resolves once the workloads, pods and Leases are synced: what status, restarts and readiness
   * need. The detail caches (Events, revisions) start after that and say so per namespace when
   * filled; at scale they outnumber the workloads several times and would hold readiness back.
   * `localLocks`: the self-check found no Lease rights, so locks are in-process after all.
   */
  async start(localLocks?: LockSource): Promise<void> {
    if (localLocks && localLocks !== this.locks) this.useLocalLocks(localLocks);
    this.started = true; // caches added from now on start as they are added (newCache)
    const details = [...this.detailCaches];
    await Promise.all(this.core().map((c) => c.start()));
    this.initialSynced = true;
    // Only then: their streams would otherwise compete for the same CPU (the app's and the API server's).
    const filling = details.filter(([k, c]) => this.detailCaches.get(k) === c).map(([k, c]) => c.start().then(() => this.notify({ namespace: k.slice(k.indexOf("/") + 1) })));
    this.filled = Promise.all(filling).then(() => {});
  }

  private filled: Promise<void> = Promise.resolve();

  detailsFilled(): Promise<void> {
    return this.filled;
  }

  stop(): void {
    for (const c of this.all()) c.stop();
  }
}

/** Detail watch keys ("events/shop") for the namespaced scopes, minus the reads the app may not do. */
export function detailKeys(scopes: WatchScope[], missing: { resource: string; namespace: string }[]): Set<string> {
  const allowed = (resource: string, ns: string) => !missing.some((m) => m.resource === resource && m.namespace === ns);
  const keys = new Set<string>();
  for (const { kind, namespace: ns } of scopes) {
    if (ns === "*") continue;
    const wanted = ["events", kind === "Deployment" ? "replicasets" : "controllerrevisions"];
    for (const r of wanted) if (allowed(r, ns)) keys.add(`${r}/${ns}`);
  }
  return keys;
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
