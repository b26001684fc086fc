// The app's own rights over time: the self-check retried until it succeeds, and re-run when the API server answers 403.
//
// A self-check that fails once (the API server unreachable for a second at start) must not
// leave the app assuming full rights forever, and rights can be taken away while it runs. So
// the check is retried with backoff until one succeeds, and run again whenever a watch or a
// write is refused with 403. The report's maps are updated in place, so whoever holds them
// (the status hub, the page) sees the new state; `onChange` says when to recompute.
import type { AccessReport } from "./access.ts";
import type { Logger } from "../log.ts";
import { defaultBackoff } from "./watch.ts";

export interface PermissionMonitor {
  /** The current report; its maps are the same objects for the monitor's whole life. */
  readonly report: AccessReport;
  /** True once a check has succeeded. */
  checked(): boolean;
  /** Why the last check failed ("" when it succeeded). */
  lastError(): string;
  /** Resolves with the report once the first check has succeeded. */
  first(): Promise<AccessReport>;
  /** Run the check again (a 403 was seen); calls close together are merged into one. */
  recheck(why: string): void;
  onChange(h: (r: AccessReport) => void): () => void;
  stop(): void;
}

export interface MonitorOptions {
  check(): Promise<AccessReport>;
  backoff?: (attempt: number) => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
  /** Re-checks triggered by 403s are at least this far apart (ms), so a burst of refusals costs one check. */
  minRecheckIntervalMs?: number;
  now?: () => number;
}

function replaceMap<K, V>(target: Map<K, V>, from: Map<K, V>): void {
  target.clear();
  for (const [k, v] of from) target.set(k, v);
}

function replaceList<T>(target: T[], from: T[]): void {
  target.splice(0, target.length, ...from);
}

/** Copies `fresh` into `target` (same objects); says whether anything changed. */
function applyReport(target: AccessReport, fresh: AccessReport): boolean {
  const snapshot = () => JSON.stringify([[...target.unusable], [...target.unwatchable], target.missingLeases, target.missingEvents, target.missingDetails]);
  const before = snapshot();
  replaceMap(target.unusable, fresh.unusable);
  replaceMap(target.unwatchable, fresh.unwatchable);
  replaceList(target.missingLeases, fresh.missingLeases);
  replaceList(target.missingEvents, fresh.missingEvents);
  replaceList(target.missingDetails, fresh.missingDetails);
  const scopes = JSON.stringify([...(target.scopes ?? [])]) !== JSON.stringify([...(fresh.scopes ?? [])]);
  target.scopes = fresh.scopes;
  return before !== snapshot() || scopes;
}

class Monitor implements PermissionMonitor {
  readonly report: AccessReport = { unusable: new Map(), unwatchable: new Map(), missingLeases: [], missingEvents: [], missingDetails: [] };
  private handlers = new Set<(r: AccessReport) => void>();
  private ok = false;
  private error = "";
  private running = false;
  private again = false;
  private stopped = false;
  private lastRun = -Infinity;
  private resolveFirst!: (r: AccessReport) => void;
  private firstDone = new Promise<AccessReport>((r) => (this.resolveFirst = r));
  private backoff: (attempt: number) => number;
  private sleep: (ms: number) => Promise<void>;
  private log: NonNullable<MonitorOptions["log"]>;
  private now: () => number;

  constructor(private o: MonitorOptions) {
    this.backoff = o.backoff ?? defaultBackoff;
    this.sleep = o.sleep ?? ((ms: number) => Bun.sleep(ms));
    this.log = o.log ?? (() => {});
    this.now = o.now ?? (() => Date.now());
    void this.runUntilSuccess();
  }

  checked = () => this.ok;
  lastError = () => this.error;
  first = () => this.firstDone;
  onChange = (h: (r: AccessReport) => void) => (this.handlers.add(h), () => void this.handlers.delete(h));
  stop = () => void (this.stopped = true);

  recheck(why: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = Math.max(0, this.lastRun + (this.o.minRecheckIntervalMs ?? 5000) - this.now());
    this.log("info", "permission self-check re-run", { why, inMs: wait });
    this.running = true;
    void this.sleep(wait).then(() => this.runUntilSuccess());
  }

  /** One success ends the run, unless a 403 arrived meanwhile: then once more, without backoff. */
  private async runUntilSuccess(): Promise<void> {
    this.running = true;
    try {
      for (let attempt = 0; !this.stopped; attempt++) {
        this.lastRun = this.now();
        this.again = false;
        try {
          this.succeeded(await this.o.check());
          if (!this.again) return;
          attempt = -1;
        } catch (e) {
          this.error = (e as Error).message;
          const delay = this.backoff(attempt);
          this.log("warn", "permission self-check failed; retrying", { error: this.error, retryInMs: Math.round(delay) });
          await this.sleep(delay);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private succeeded(fresh: AccessReport): void {
    const changed = applyReport(this.report, fresh) || !this.ok;
    this.ok = true;
    this.error = "";
    this.resolveFirst(this.report);
    if (!changed) return;
    const r = this.report;
    this.log("info", "permission self-check done", { unusable: [...r.unusable.keys()], missingLeases: r.missingLeases.length, missingEvents: r.missingEvents });
    for (const h of this.handlers) h(r);
  }
}

export function makePermissionMonitor(o: MonitorOptions): PermissionMonitor {
  return new Monitor(o);
}

export interface SelfCheckStart {
  monitor: PermissionMonitor;
  /** Resolves at the first answer, or after `waitMs` without one: then Leases are assumed while the monitor keeps trying. */
  settled: Promise<void>;
}

/**
 * The permission self-check at start. It decides whether locks can live in Leases and what may be
 * watched, so the watches wait for its first answer — up to `waitMs` (10 s); the server does not:
 * it listens at once and /readyz says "not ready" until the check has answered. Problems are
 * logged whenever the report changes.
 */
export function startSelfCheck(check: () => Promise<AccessReport>, log: Logger, o: Omit<MonitorOptions, "check" | "log"> & { waitMs?: number } = {}): SelfCheckStart {
  const monitor = makePermissionMonitor({ ...o, check, log });
  monitor.onChange((access) => {
    for (const [id, missing] of access.unusable) log("error", "missing permissions: service cannot be restarted", { service: id, missing });
    if (access.missingEvents.length) log("warn", "cannot create Events; restarts are audited in this log only", { namespaces: access.missingEvents });
  });
  const sleep = o.sleep ?? ((ms: number) => Bun.sleep(ms));
  const settled = Promise.race([monitor.first(), sleep(o.waitMs ?? 10_000)]).then(() => {
    if (!monitor.checked()) log("warn", "permission self-check failed; using Leases and retrying in the background", { error: monitor.lastError() });
  });
  return { monitor, settled };
}
