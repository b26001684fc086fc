// The app's own rights over time: the self-check retried until it succeeds, and re-run when the API server answers 403.
//
// A self-check that fails once (the API server unreachable for a second at start) must not
// leave the app assuming full rights forever, and rights can be taken away while it runs. So
// the check is retried with backoff until one succeeds, and run again whenever a watch or a
// write is refused with 403. The report's maps are updated in place, so whoever holds them
// (the status hub, the page) sees the new state; `onChange` says when to recompute.
import type { AccessReport } from "./access.ts";
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

export function makePermissionMonitor(o: MonitorOptions): PermissionMonitor {
  const backoff = o.backoff ?? defaultBackoff;
  const sleep = o.sleep ?? ((ms: number) => Bun.sleep(ms));
  const log = o.log ?? (() => {});
  const now = o.now ?? (() => Date.now());
  const minGap = o.minRecheckIntervalMs ?? 5000;
  const report: AccessReport = { unusable: new Map(), unwatchable: new Map(), missingLeases: [], missingEvents: [] };
  const handlers = new Set<(r: AccessReport) => void>();
  let ok = false;
  let error = "";
  let running = false;
  let again = false;
  let stopped = false;
  let lastRun = -Infinity;
  let resolveFirst!: (r: AccessReport) => void;
  const firstDone = new Promise<AccessReport>((r) => (resolveFirst = r));

  async function runUntilSuccess(): Promise<void> {
    running = true;
    try {
      for (let attempt = 0; !stopped; attempt++) {
        lastRun = now();
        again = false;
        try {
          const fresh = await o.check();
          const before = JSON.stringify(snapshot());
          replaceMap(report.unusable, fresh.unusable);
          replaceMap(report.unwatchable, fresh.unwatchable);
          replaceList(report.missingLeases, fresh.missingLeases);
          replaceList(report.missingEvents, fresh.missingEvents);
          const changed = before !== JSON.stringify(snapshot()) || !ok;
          ok = true;
          error = "";
          resolveFirst(report);
          if (changed) {
            log("info", "permission self-check done", { unusable: [...report.unusable.keys()], missingLeases: report.missingLeases.length, missingEvents: report.missingEvents });
            for (const h of handlers) h(report);
          }
          if (!again) return;
          attempt = -1; // a 403 arrived during the check: run once more, no backoff needed
          continue;
        } catch (e) {
          error = (e as Error).message;
          const delay = backoff(attempt);
          log("warn", "permission self-check failed; retrying", { error, retryInMs: Math.round(delay) });
          await sleep(delay);
        }
      }
    } finally {
      running = false;
    }
  }

  function snapshot() {
    return [[...report.unusable], [...report.unwatchable], report.missingLeases, report.missingEvents];
  }

  void runUntilSuccess();

  return {
    report,
    checked: () => ok,
    lastError: () => error,
    first: () => firstDone,
    recheck(why) {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      const wait = Math.max(0, lastRun + minGap - now());
      log("info", "permission self-check re-run", { why, inMs: wait });
      running = true;
      void sleep(wait).then(() => runUntilSuccess());
    },
    onChange: (h) => (handlers.add(h), () => void handlers.delete(h)),
    stop: () => void (stopped = true),
  };
}
