// The Prometheus registry and the app's named metrics (names and labels kept from the original tool).
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export function makeMetrics(version: { version: string; commit: string }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ["kind", "namespace", "name"] as const;
  return {
    registry,
    watchers: new Gauge({
      name: "restart_app_connected_status_watchers",
      help: "The number of connected status watchers (websocket clients), per service they receive",
      labelNames,
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
      help: "The total number of restart requests that did not restart (refused, locked or failed)",
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
    watchConnected: new Gauge({
      name: "restart_app_watch_connected",
      help: "1 when every watch on the API server is connected, 0 while any is reconnecting",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof makeMetrics>;
