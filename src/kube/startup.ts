// Start-up behind a listening server: the permission monitor's first self-check decides the lock store and what to watch, then the watches sync.
//
// The server answers (page, list, /healthz) as soon as the configuration is parsed; only what
// needs the cluster waits: /readyz says "not ready" and a restart answers 503 `unavailable`
// (the view is not synced) until the self-check has chosen the lock store and every watch cache
// has synced once. The self-check is the permission monitor's (./permissions.ts): retried with
// backoff until it succeeds, re-run on a 403; start waits up to `firstCheckWaitMs` for its first
// answer, then goes on with Leases while it keeps trying.
import { type ServiceKey, serviceId } from "../config/file.ts";
import { type AccessReport, accessDetail, checkAccess, readiness } from "./access.ts";
import type { KubeClient } from "./api.ts";
import { type ChangeScope, type ClusterView, watchCluster } from "./cluster.ts";
import type { LockStore } from "./lock.ts";
import { chooseLocks, type Locks } from "./lock-store.ts";
import { makePermissionMonitor, type MonitorOptions, type PermissionMonitor } from "./permissions.ts";

type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface StartupOptions {
  client: KubeClient;
  services: ServiceKey[];
  lockNamespace: string;
  log: Log;
  /** How long start waits for the first self-check answer before it goes on with Leases (10 s). */
  firstCheckWaitMs?: number;
  /** Seams for unit tests (the monitor's backoff and sleep). */
  monitor?: Partial<MonitorOptions>;
}

export interface ClusterStartup {
  /** The watch caches: empty and not synced until the self-check has said what may be watched. `start()` runs it all. */
  view: ClusterView;
  /** Lease locks, or in-process ones when Leases are not permitted; chosen after the first self-check. */
  locks: LockStore;
  /** The app's own rights over time (retried, re-run on 403); its report's maps are the same objects for its whole life. */
  monitor: PermissionMonitor;
  /** What the self-check found (nothing missing until it has run); `monitor.report`. */
  access: AccessReport;
  /** /readyz: ready, and what is missing or degraded. */
  readiness(): { ready: boolean; detail: string[] };
}

function logProblems(log: Log, access: AccessReport): void {
  for (const [id, missing] of access.unusable) log("error", "missing permissions: service cannot be restarted", { service: id, missing });
  if (access.missingEvents.length) log("warn", "cannot create Events; restarts are audited in this log only", { namespaces: access.missingEvents });
}

/** Before the self-check has chosen the store, acquiring refuses (restarts are 503 until then) and releasing has nothing to release. */
function lateLocks(chosen: () => Locks | undefined): LockStore {
  const store = (): LockStore => {
    const c = chosen();
    if (!c) throw new Error("restart locks are not available before the permission self-check has finished");
    return c.store;
  };
  return {
    acquire: async (...a) => store().acquire(...a),
    setGeneration: async (...a) => store().setGeneration(...a),
    release: async (...a) => void (chosen() ? await store().release(...a) : undefined),
  };
}

/** Waits for the first self-check (bounded), picks the lock store and starts watching what may be watched. */
async function chooseAndWatch(o: StartupOptions, monitor: PermissionMonitor, stopped: () => boolean): Promise<{ locks: Locks; view: ClusterView } | undefined> {
  const { client, services, lockNamespace, log } = o;
  const access = monitor.report;
  await Promise.race([monitor.first(), Bun.sleep(o.firstCheckWaitMs ?? 10_000)]);
  if (stopped()) return undefined;
  if (!monitor.checked()) log("warn", "permission self-check failed; using Leases and retrying in the background", { error: monitor.lastError() });
  const locks = chooseLocks(client, lockNamespace, access.missingLeases);
  if (locks.local) {
    log("warn", "cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)", { lockNamespace, missing: access.missingLeases });
  }
  // A service the app may not even list/watch is left out of the watches: one forbidden
  // namespace must not keep every other service from syncing.
  const watched = services.filter((s) => !access.unwatchable.has(serviceId(s)));
  const view = watchCluster({ client, services: watched, lockNamespace, log: (msg, f) => log("warn", msg, f), locks: locks.local });
  // issue 15 #9: a 403 from a watch re-runs the self-check; its report changes in place.
  view.onForbidden(() => monitor.recheck("a watch was refused (403)"));
  return { locks, view };
}

export function prepareCluster(o: StartupOptions): ClusterStartup {
  const { client, services, lockNamespace, log } = o;
  // The monitor's first check starts now, while the server begins to listen.
  const monitor = makePermissionMonitor({ check: () => checkAccess(client, services, lockNamespace), log, ...o.monitor });
  monitor.onChange((r) => logProblems(log, r));
  const access = monitor.report;
  let stopped = false;
  let inner: ClusterView | undefined;
  let chosen: Locks | undefined;
  const changeHandlers: ((scope: ChangeScope) => void)[] = [];
  const connHandlers: (() => void)[] = [];
  const forbiddenHandlers: (() => void)[] = [];

  async function begin(): Promise<ClusterView | undefined> {
    const started = await chooseAndWatch(o, monitor, () => stopped);
    if (!started) return undefined;
    chosen = started.locks;
    started.view.onChange((scope) => changeHandlers.forEach((h) => h(scope)));
    started.view.onConnection(() => connHandlers.forEach((h) => h()));
    started.view.onForbidden(() => forbiddenHandlers.forEach((h) => h()));
    return started.view;
  }

  const view: ClusterView = {
    workload: (s) => inner?.workload(s),
    pods: (ns) => inner?.pods(ns) ?? [],
    lease: (s) => inner?.lease(s),
    onChange: (h) => void changeHandlers.push(h),
    onConnection: (h) => void connHandlers.push(h),
    onForbidden: (h) => void forbiddenHandlers.push(h),
    synced: () => inner?.synced() ?? false,
    disconnected: () => inner?.disconnected() ?? [],
    async start() {
      inner = await begin();
      if (!inner || stopped) return;
      await inner.start();
      // Start-up leaves garbage the idle app would keep for good (the YAML tree, the first lists'
      // JSON, the self-check): one full collection once the first statuses are out returns
      // ≈ 6 MiB of RSS with 200 services (measured with bench footprint).
      setTimeout(() => Bun.gc(true), 0);
    },
    stop() {
      stopped = true;
      monitor.stop();
      inner?.stop();
    },
  };

  const accessLines = () => {
    const error = monitor.checked() ? "" : monitor.lastError();
    const pending = !monitor.checked() && !error ? ["permission self-check has not finished yet"] : [];
    return [...pending, ...accessDetail(access, error, !!chosen?.local)];
  };
  return { view, locks: lateLocks(() => chosen), monitor, access, readiness: () => readiness(view, accessLines(), monitor.checked()) };
}
