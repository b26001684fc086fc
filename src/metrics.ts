// The Prometheus registry, the app's named metrics (names and labels kept from the original tool) and cheap process metrics.
//
// No collectDefaultMetrics: its event-loop-lag histogram runs a timer and its collectors read
// /proc asynchronously on every scrape (Bun drops a pending response when the client half-closes:
// fuzz.test.ts caught that with an async /proc read). The process metrics below are computed at
// scrape time, synchronously, under the usual names; nothing runs between scrapes.
//
// prom-client's classes come from their own files: its index also loads the Pushgateway
// (node:http, https, zlib), the cluster aggregator (node:cluster), Summary (tdigest) and the
// default collectors (@opentelemetry/api), ≈ 7 MiB of RSS that nothing here uses (bench footprint).
import Counter from "prom-client/lib/counter";
import Gauge from "prom-client/lib/gauge";
import Histogram from "prom-client/lib/histogram";
import Registry from "prom-client/lib/registry";

export function makeMetrics(version: { version: string; commit: string }) {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const labelNames = ["kind", "namespace", "name"] as const;
  return {
    registry,
    // As the original: no labels, the number of connected status clients (websockets of every stream).
    watchers: new Gauge({
      name: "restart_app_connected_status_watchers",
      help: "The number of connected status watchers (websocket clients)",
      registers: [registry],
    }),
    restarts: new Counter({
      name: "restart_app_restarts_total",
      help: "The total number of restart requests for a configured service",
      labelNames,
      registers: [registry],
    }),
    restartsFailed: new Counter({
      name: "restart_app_restarts_failed_total",
      help: "The total number of restarts that were attempted and failed (the API server refused or failed the PATCH, or the workload is gone); refusals are in restart_app_restart_requests_total",
      labelNames,
      registers: [registry],
    }),
    buildInfo: (() => {
      const g = new Gauge({
        name: "restart_app_build_info",
        help: "Build information of the running binary",
        labelNames: ["version", "commit"] as const,
        registers: [registry],
      });
      g.set(version, 1);
      return g;
    })(),
    configReloadFailures: new Counter({
      name: "restart_app_config_reload_failures_total",
      help: "Reloads of the services file that were refused (invalid file); the previous config kept serving",
      registers: [registry],
    }),
    ...operatorMetrics(registry),
  };
}

/** The metrics for operators beyond the original's: outcomes, rollout timing and state, watch health, per-service watchers. */
function operatorMetrics(registry: Registry) {
  const labelNames = ["kind", "namespace", "name"] as const;
  return {
    serviceWatchers: new Gauge({
      name: "restart_app_service_status_watchers",
      help: "Websocket clients receiving a service's status, per service",
      labelNames,
      registers: [registry],
    }),
    watchConnected: new Gauge({
      name: "restart_app_watch_connected",
      help: "1 while the watch of this resource in this namespace is connected, 0 while it is reconnecting",
      labelNames: ["resource", "namespace"] as const,
      registers: [registry],
    }),
    restartRequests: new Counter({
      name: "restart_app_restart_requests_total",
      help: "Restart requests by outcome: restarted, or the reason it was refused or failed (kind/namespace/name empty when the request named no configured service)",
      labelNames: [...labelNames, "outcome"] as const,
      registers: [registry],
    }),
    rolloutDuration: new Histogram({
      name: "restart_app_rollout_duration_seconds",
      help: "From a restart to its rollout settling (complete or failed), or timeout after FORCE_UNLOCK_SEC",
      labelNames: ["kind", "outcome"] as const,
      buckets: [5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    rolloutState: new Gauge({
      name: "restart_app_service_rollout_state",
      help: "1 for the service's current rollout state (complete, progressing, failed, paused, missing, unknown), 0 for the others",
      labelNames: [...labelNames, "state"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;

/** A counter whose value is read from `value` at scrape time (counters only go up: reset, then add the total). */
function sampledCounter(registry: Registry, name: string, help: string, value: () => number): void {
  new Counter({ name, help, registers: [registry], collect() {
    this.reset();
    this.inc(value());
  } });
}

/** A gauge read from `value` at scrape time; left without a sample when `value` has none (no /proc). */
function sampledGauge(registry: Registry, name: string, help: string, value: () => number | undefined): void {
  new Gauge({ name, help, registers: [registry], collect() {
    const v = value();
    if (v === undefined) this.reset();
    else this.set(v);
  } });
}

/** Open descriptors: the entries of /proc/self/fd, less the one open while it is listed (Bun.Glob: node:fs would cost ≈ 5 MiB of RSS). */
function openFds(): number | undefined {
  try {
    return [...new Bun.Glob("*").scanSync({ cwd: "/proc/self/fd", onlyFiles: false })].length - 1;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user, system, total), resident memory, open and maximum descriptors, start time. */
export function registerProcessMetrics(registry: Registry): void {
  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  const cpu = () => process.cpuUsage();
  sampledCounter(registry, "process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", () => cpu().user / 1e6);
  sampledCounter(registry, "process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", () => cpu().system / 1e6);
  sampledCounter(registry, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => {
    const c = cpu();
    return (c.user + c.system) / 1e6;
  });
  sampledGauge(registry, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => startTime);
  sampledGauge(registry, "process_resident_memory_bytes", "Resident memory size in bytes.", () => process.memoryUsage.rss());
  sampledGauge(registry, "process_open_fds", "Number of open file descriptors.", openFds);
  // The limit is fixed before the process starts: read once, in the background (absent without /proc).
  let maxFds: number | undefined;
  void Bun.file("/proc/self/limits")
    .text()
    .then((t) => {
      const m = /^Max open files\s+(\d+)/m.exec(t);
      if (m) maxFds = Number(m[1]);
    })
    .catch(() => {});
  sampledGauge(registry, "process_max_fds", "Maximum number of open file descriptors.", () => maxFds);
}
