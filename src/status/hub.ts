// Keeps every service's current status from the watch caches and tells subscribers what changed, once per change.
import { type ServiceKey, serviceId } from "../config/file.ts";
import type { ChangeScope, ClusterView } from "../kube/cluster.ts";
import { leaseName } from "../kube/lock.ts";
import { type ServiceDetails, serviceDetails, whyFor } from "./details.ts";
import { type ServiceStatus, serviceStatus } from "./model.ts";
import { makeOutcomeBook, type OutcomeBook } from "./outcomes.ts";
import { rolloutDeadlineMs } from "./rollout.ts";
import { matchesSelector } from "./selector.ts";
import type { RolloutState } from "./rollout.ts";
import { type RestartOutcome, restartOutcome, settledState } from "./settle.ts";
import { SLOW_MS } from "./why.ts";

export type StatusListener = (s: ServiceStatus) => void;

/** The timer seam: tests drive time by hand instead of sleeping. */
export interface Timers {
  now(): number;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const REAL_TIMERS: Timers = { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t as Timer) };

export interface HubOptions {
  view: ClusterView;
  services: ServiceKey[];
  /** ROLLOUT_TIMEOUT_SEC: when a StatefulSet/DaemonSet rollout counts as failed. */
  timeoutSec: number;
  /** Services the app may not watch (by id, with the reason): shown as such, never "not found". */
  unwatchable?: Map<string, string>;
  timers?: Timers;
}

export interface StatusHub {
  current(s: ServiceKey): ServiceStatus | undefined;
  /** Services added are computed and pushed; removed ones are forgotten and `onRemoved` is told. */
  updateServices(change: { added: ServiceKey[]; removed: ServiceKey[] }): void;
  onRemoved(l: (s: ServiceKey) => void): void;
  all(): ServiceStatus[];
  /** Calls `l` with every changed status; returns a function that stops it. */
  onStatus(l: StatusListener): () => void;
  onConnection(l: (stale: string[]) => void): void;
  stale(): string[];
  /** Where the hub's changes stand ("<run>.<count>"): a page rendered now asks its socket only for what changed after. */
  mark(): string;
  /** Whether `s` changed after `mark` (always true for a mark of another run of the app, or a malformed one). */
  changedSince(s: ServiceKey, mark: string): boolean;
  /** Detail reads the app may not do ("events in shop"): the operators' banner. */
  detailGaps(): string[];
  /** Resolves when the restart made at `restartedAt` has finished (settle.ts), or with "timeout" after `timeoutMs`. */
  waitForRestart(s: ServiceKey, restartedAt: string, timeoutMs: number): Promise<{ outcome: RestartOutcome | "timeout"; status?: ServiceStatus }>;
  /** Resolves when the current rollout of `s` has settled, whoever started it (settle.ts), at once when nothing is rolling; "timeout" after `timeoutMs`. */
  waitForSettled(s: ServiceKey, timeoutMs: number): Promise<{ outcome: RolloutState | "timeout"; status?: ServiceStatus }>;
  /** Pods, Events and history of one service, read now (for the details panel and the snapshot). */
  details(s: ServiceKey): ServiceDetails;
  /** Calls `l` with every batch of services a watch event touched, changed status or not (details may have changed). */
  onTouched(l: (services: ServiceKey[]) => void): () => void;
  /** Recompute everything now (after the caches synced). */
  refresh(): void;
  stop(): void;
}

/** Which services a watch event can affect, by namespace and by lock Lease. */
class ServiceIndex {
  readonly byNamespace = new Map<string, Map<string, ServiceKey>>();
  readonly byLease = new Map<string, ServiceKey>();
  constructor(services: ServiceKey[]) {
    for (const s of services) this.add(s);
  }

  add(s: ServiceKey): void {
    let m = this.byNamespace.get(s.namespace);
    if (!m) this.byNamespace.set(s.namespace, (m = new Map()));
    m.set(serviceId(s), s);
    this.byLease.set(leaseName(s), s);
  }

  remove(s: ServiceKey): void {
    this.byNamespace.get(s.namespace)?.delete(serviceId(s));
    this.byLease.delete(leaseName(s));
  }

  /**
   * Only the services the event can affect: a workload event its own service, a pod event the
   * services whose selector takes the pod. Recomputing the whole namespace on every pod event
   * costs services × pods selector matches (≈ 3.7 ms per event at 200 × 200).
   */
  affected(scope: ChangeScope, view: ClusterView): ServiceKey[] {
    const out: ServiceKey[] = [];
    if (scope.namespace) {
      const inNs = [...(this.byNamespace.get(scope.namespace)?.values() ?? [])];
      const { workload, podLabels } = scope;
      if (workload) out.push(...inNs.filter((s) => s.kind === workload.kind && s.name === workload.name));
      else if (podLabels) out.push(...inNs.filter((s) => podLabels.some((l) => matchesSelector(view.workload(s)?.spec?.selector, l))));
      else out.push(...inNs);
    }
    if (scope.all) out.push(...[...this.byNamespace.values()].flatMap((m) => [...m.values()]));
    const leased = scope.lease ? this.byLease.get(scope.lease) : undefined;
    if (leased) out.push(leased);
    return out;
  }
}

class Hub implements StatusHub {
  private readonly view: ClusterView;
  private readonly services = new Map<string, ServiceKey>();
  private readonly timeoutSec: number;
  private readonly unwatchable: Map<string, string>;
  private readonly timers: Timers;
  private readonly index: ServiceIndex;
  private readonly currentById = new Map<string, { status: ServiceStatus; json: string; seq: number }>();
  private seq = 0;
  private readonly run = Math.random().toString(36).slice(2, 10);
  private readonly listeners = new Set<StatusListener>();
  private readonly touchedListeners = new Set<(services: ServiceKey[]) => void>();
  private readonly book: OutcomeBook = makeOutcomeBook();
  private readonly connListeners: ((stale: string[]) => void)[] = [];
  private readonly removedListeners: ((s: ServiceKey) => void)[] = [];
  private readonly dirty = new Set<ServiceKey>();
  private flushScheduled = false;
  private timer: unknown;
  private stopped = false;

  constructor(o: HubOptions) {
    this.view = o.view;
    for (const s of o.services) this.services.set(serviceId(s), s);
    this.timeoutSec = o.timeoutSec;
    this.unwatchable = o.unwatchable ?? new Map();
    this.timers = o.timers ?? REAL_TIMERS;
    this.index = new ServiceIndex(o.services);
    this.view.onChange((scope) => this.markDirty(this.index.affected(scope, this.view)));
    this.view.onConnection(() => {
      const stale = this.view.disconnected();
      for (const l of this.connListeners) l(stale);
    });
  }

  current(s: ServiceKey): ServiceStatus | undefined {
    return this.currentById.get(serviceId(s))?.status;
  }

  all(): ServiceStatus[] {
    return [...this.services.values()].map((s) => this.current(s)).filter((x): x is ServiceStatus => !!x);
  }

  updateServices(change: { added: ServiceKey[]; removed: ServiceKey[] }): void {
    for (const s of change.removed) {
      const id = serviceId(s);
      const known = this.services.get(id);
      if (!known) continue;
      this.services.delete(id);
      this.index.remove(known);
      this.dirty.delete(known);
      this.currentById.delete(id);
      for (const l of this.removedListeners) l(known);
    }
    const added = change.added.filter((s) => !this.services.has(serviceId(s)));
    for (const s of added) (this.services.set(serviceId(s), s), this.index.add(s));
    this.markDirty(added);
  }

  onRemoved(l: (s: ServiceKey) => void): void {
    this.removedListeners.push(l);
  }

  onStatus(l: StatusListener): () => void {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  }

  onConnection(l: (stale: string[]) => void): void {
    this.connListeners.push(l);
  }

  details(s: ServiceKey): ServiceDetails {
    return serviceDetails(s, this.view, this.timers.now(), this.book, this.current(s));
  }

  onTouched(l: (services: ServiceKey[]) => void): () => void {
    this.touchedListeners.add(l);
    return () => void this.touchedListeners.delete(l);
  }

  stale(): string[] {
    return this.view.disconnected();
  }

  mark(): string {
    return `${this.run}.${this.seq}`;
  }

  changedSince(s: ServiceKey, mark: string): boolean {
    const [run, n] = mark.split(".");
    if (run !== this.run || !/^\d+$/.test(n ?? "")) return true;
    return (this.currentById.get(serviceId(s))?.seq ?? Infinity) > Number(n);
  }

  detailGaps(): string[] {
    return this.view.detailGaps();
  }

  waitForRestart(s: ServiceKey, restartedAt: string, timeoutMs: number): Promise<{ outcome: RestartOutcome | "timeout"; status?: ServiceStatus }> {
    return this.until(s, (st) => restartOutcome(st, restartedAt), timeoutMs);
  }

  waitForSettled(s: ServiceKey, timeoutMs: number): Promise<{ outcome: RolloutState | "timeout"; status?: ServiceStatus }> {
    return this.until(s, settledState, timeoutMs);
  }

  /** Resolves with the first status of `s` that `judge` calls finished (the current one included), or "timeout". */
  private until<T>(s: ServiceKey, judge: (st: ServiceStatus | undefined) => T | undefined, timeoutMs: number): Promise<{ outcome: T | "timeout"; status?: ServiceStatus }> {
    const now = this.current(s);
    const done = judge(now);
    if (done !== undefined) return Promise.resolve({ outcome: done, status: now });
    return new Promise((resolve) => {
      const t = this.timers.setTimeout(() => (off(), resolve({ outcome: "timeout", status: this.current(s) })), timeoutMs);
      const off = this.onStatus((st) => {
        const outcome = serviceId(st.service) === serviceId(s) ? judge(st) : undefined;
        if (outcome === undefined) return;
        this.timers.clearTimeout(t);
        off();
        resolve({ outcome, status: st });
      });
    });
  }

  refresh(): void {
    this.markDirty(this.services.values());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
  }

  private markDirty(list: Iterable<ServiceKey>): void {
    for (const s of list) this.dirty.add(s);
    if (!this.flushScheduled && this.view.synced()) {
      this.flushScheduled = true;
      // A burst of watch events (a pod and its ReplicaSet's Deployment) becomes one push.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const t = this.timers.now();
    // Take the batch first: a listener may mark services dirty again (an in-process lock
    // released synchronously), and those marks must survive into the next flush.
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const s of batch) {
      const v = this.view;
      // Removed meanwhile, or in a cache added at runtime that has not listed yet (its listing marks it again).
      if (!this.services.has(serviceId(s)) || (!this.unwatchable.has(serviceId(s)) && !v.covers(s))) continue;
      const status = serviceStatus(s, v.workload(s), v.pods(s.namespace), v.lease(s), t, this.timeoutSec, this.unwatchable.get(serviceId(s)));
      status.why = whyFor(status, v, t);
      status.outcome = this.book.observe(status, t) ?? null;
      const json = JSON.stringify(status);
      if (this.currentById.get(serviceId(s))?.json === json) continue;
      this.currentById.set(serviceId(s), { status, json, seq: ++this.seq });
      for (const l of this.listeners) l(status);
    }
    for (const l of this.touchedListeners) l(batch);
    this.scheduleTimer();
  }

  // Time alone changes a status when a lock expires or a StatefulSet/DaemonSet rollout times out:
  // one timer for the earliest such moment replaces any polling.
  private scheduleTimer(): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const t = this.timers.now();
    let next = Infinity;
    for (const { status } of this.currentById.values()) {
      if (status.lock) next = Math.min(next, Date.parse(status.lock.expiresAt));
      if (status.rollout === "progressing") {
        const d = rolloutDeadlineMs(status.service.kind, this.view.workload(status.service), this.timeoutSec);
        if (d !== undefined && d > t) next = Math.min(next, d);
        // A rollout turning slow gets its "why" line then, without waiting for the next event.
        const slow = status.lastRestart ? Date.parse(status.lastRestart) + SLOW_MS : NaN;
        if (slow > t) next = Math.min(next, slow);
      }
    }
    if (next === Infinity) return;
    this.timer = this.timers.setTimeout(() => this.markDirty(this.services.values()), Math.max(0, next - t) + 50);
  }
}

export function makeStatusHub(o: HubOptions): StatusHub {
  return new Hub(o);
}
