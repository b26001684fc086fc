// Bun.serve: the route table, the monitoring listener's own small table, and shutdown.
import type { Server } from "bun";
import { ConfigError, type Env } from "../config/env.ts";
import type { ConfigFile } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import type { RestartFlow } from "../restart/wiring.ts";
import type { StatusHub } from "../status/hub.ts";
import type { Authn } from "./auth.ts";
import { makeDetailsHandlers } from "./details.ts";
import { makeHandlers } from "./handlers.ts";
import { makeIdentify } from "./identify.ts";
import { makeLive, type WsData } from "./live.ts";
import { json, text } from "./respond.ts";
import { makeRestartHandler } from "./restart.ts";
import { type Handler, type Route, router } from "./router.ts";

export interface AppDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  authn: Authn;
  flow: RestartFlow;
  ready(): { ready: boolean; detail: string[] };
  /** The permissions the app itself lacks, per service id (the self-check's `unusable`). */
  unusable(): Map<string, string[]>;
  version: string;
  /** CLUSTER_NAME, shown in the header and title ("" shows none). */
  clusterName: string;
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

export interface App {
  server: Server<WsData>;
  monitoring: Server<undefined> | undefined;
  shutdown(): Promise<void>;
}

/** Starts a listener; a port in use (or not permitted) stops the app naming the variable. */
function listening<T>(variable: string, at: { hostname: string; port: number }, start: () => T, undo?: () => void): T {
  try {
    return start();
  } catch (e) {
    undo?.();
    throw new ConfigError(`${variable}: cannot listen on ${at.hostname}:${at.port}: ${(e as Error).message}`);
  }
}

/** A bug must never leak a stack trace or take the process down. */
function guarded(log: AppDeps["log"], answer: (req: Request, server: Server<never>) => Promise<Response | undefined>) {
  return async (req: Request, server: Server<never>) => {
    try {
      return await answer(req, server);
    } catch (e) {
      log("error", "request failed", { method: req.method, url: req.url, error: String((e as Error)?.stack ?? e) });
      return json({ error: "internal", message: "internal error" }, 500);
    }
  };
}

/** The main listener's table: every route the app answers. */
function routeTable(h: ReturnType<typeof makeHandlers>, live: ReturnType<typeof makeLive>, restart: Handler, details: ReturnType<typeof makeDetailsHandlers>): Route[] {
  const stream = (kind: "json" | "html"): Handler => (req, _p, server) => live.upgrade(req, server as Server<WsData>, kind);
  return [
    { path: "/", GET: h.page },
    { path: "/healthz", GET: h.healthz },
    { path: "/readyz", GET: h.readyz },
    { path: "/metrics", GET: h.metrics },
    ...h.assets,
    { path: "/api/v1/service", GET: h.list },
    { path: "/api/v1/service/", GET: h.list },
    { path: "/api/v1/service/status", GET: stream("json") },
    { path: "/ui/status", GET: stream("html") },
    { path: "/api/v1/service/:kind/:namespace/:name/status", GET: h.serviceStream },
    { path: "/api/v1/service/:kind/:namespace/:name/restart", POST: restart },
    { path: "/service/:kind/:namespace/:name", GET: details.page },
    { path: "/ui/service/:kind/:namespace/:name/status", GET: details.stream },
    { path: "/ui/service/:kind/:namespace/:name/details", GET: details.fragment },
    { path: "/ui/service/:kind/:namespace/:name/details/live", GET: details.live },
  ];
}

/** The monitoring listener (LISTEN_MONITORING_ADDRESS) answers only the operational endpoints, from its own table. */
function startMonitoring(deps: AppDeps, h: ReturnType<typeof makeHandlers>, undo: () => void): Server<undefined> | undefined {
  const mon = deps.env.monitoring;
  if (!mon) return undefined;
  const routes: Route[] = [
    { path: "/healthz", GET: h.healthz },
    { path: "/readyz", GET: h.readyz },
    { path: "/metrics", GET: h.metrics },
  ];
  const answer = guarded(deps.log, router(routes));
  const notServed = () => text("not found: this listener serves /metrics, /healthz and /readyz only\n", 404);
  const serve = () =>
    Bun.serve({
      hostname: mon.hostname,
      port: mon.port,
      maxRequestBodySize: 1024,
      fetch: async (req, s) => {
        const res = await answer(req, s as Server<never>);
        return res && res.status !== 404 ? res : notServed();
      },
    });
  return listening("LISTEN_MONITORING_ADDRESS", mon, serve, undo);
}

export function startServer(deps: AppDeps): App {
  const { env, config, hub, metrics } = deps;
  const identify = makeIdentify(deps.authn);
  const live = makeLive({ env, config, hub, metrics, identify, unusable: deps.unusable });
  const restart = makeRestartHandler({ env, flow: deps.flow, hub, metrics, identify });
  const shared = { config, hub, identify, version: deps.version, clusterName: deps.clusterName, unusable: deps.unusable, upgrade: live.upgrade };
  const h = makeHandlers({ ...shared, metrics, ready: deps.ready });
  const answer = guarded(deps.log, router(routeTable(h, live, restart, makeDetailsHandlers(shared))));
  const server = listening("LISTEN_ADDRESS", env.listen, () =>
    Bun.serve<WsData>({
      hostname: env.listen.hostname,
      port: env.listen.port,
      maxRequestBodySize: 64 * 1024,
      // Bun closes idle HTTP connections after this many seconds; long enough for slow clients.
      idleTimeout: 30,
      fetch: (req, server) => answer(req, server as Server<never>),
      error(e) {
        deps.log("error", "server error", { error: String(e) });
        return json({ error: "internal", message: "internal error" }, 500);
      },
      websocket: live.websocket,
    }),
  );
  const monitoring = startMonitoring(deps, h, () => void server.stop(true));
  live.publishFrom(server);

  return {
    server,
    monitoring,
    async shutdown() {
      // Stop accepting, then close websockets with 1001 so htmx reconnects to the next instance.
      void server.stop(false);
      void monitoring?.stop(true);
      live.closeAll(1001, "server shutting down");
      await Promise.race([server.stop(true), Bun.sleep(3000)]);
    },
  };
}
