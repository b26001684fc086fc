// The app's named metrics (names and labels kept from the original tool) and cheap process metrics; nothing samples between scrapes.
import { Counter, Gauge, Registry, registerProcessMetrics } from "./prometheus.ts";

export function makeMetrics(version: { version: string; commit: string }) {
  const registry = new Registry();
  const labelNames = ["kind", "namespace", "name"] as const;
  const metrics = {
    registry,
    watchers: new Gauge({
      name: "restart_app_connected_status_watchers",
      help: "The number of connected status watchers (websocket clients), per service they receive",
      labelNames,
      registry,
    }),
    restarts: new Counter({
      name: "restart_app_restarts_total",
      help: "The total number of restart requests for a configured service",
      labelNames,
      registry,
    }),
    restartsFailed: new Counter({
      name: "restart_app_restarts_failed_total",
      help: "The total number of restart requests that did not restart (refused, locked or failed)",
      labelNames,
      registry,
    }),
    buildInfo: new Gauge({
      name: "restart_app_build_info",
      help: "Build information of the running binary",
      labelNames: ["version", "commit"] as const,
      registry,
    }),
    watchConnected: new Gauge({
      name: "restart_app_watch_connected",
      help: "1 when every watch on the API server is connected, 0 while any is reconnecting",
      registry,
    }),
  };
  metrics.buildInfo.set(version, 1);
  registerProcessMetrics(registry);
  return metrics;
}

export type Metrics = ReturnType<typeof makeMetrics>;
