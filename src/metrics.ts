// The Prometheus registry and the app's named metrics (names and labels kept from the original tool).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function makeMetrics(version: { version: string; commit: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
