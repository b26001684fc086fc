// Bun.serve: the route table, the monitoring listener's own small table, and shutdown.
import type { Server } from "bun";
import { ConfigError, type Env } from "../config/env.ts";
import type { ConfigFile } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import type { RestartFlow } from "../restart/wiring.ts";
import type { StatusHub } from "../status/hub.ts";
import type { Readiness } from "../status/readiness.ts";
import type { Authn } from "./auth.ts";
import { logAccess } from "./access-log.ts";
import { MAX_BODY_BYTES, tooLarge, uniform } from "./errors.ts";
import { makeHandlers } from "./handlers.ts";
import { makeIdentify } from "./identify.ts";
import { makeLive, type WsData } from "./live.ts";
import { json, text } from "./respond.ts";
import { openApiDocument } from "./openapi.ts";
import { makeRestartHandler } from "./restart.ts";
import { makeSnapshotHandler } from "./snapshot.ts";
import { type Handler, type Route, router } from "./router.ts";

export interface AppDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  authn: Authn;
  flow: RestartFlow;
  ready(): Readiness;
  /** The permissions the app itself lacks, per service id (the self-check's `unusable`). */
  unusable(): Map<string, string[]>;
  version: string;
  log(level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
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

/** A bug must never leak a stack trace or take the process down; every error answer leaves in the uniform shape (errors.ts). */
function guarded(log: AppDeps["log"], answer: (req: Request, server: Server<never>) => Promise<Response | undefined>) {
  return async (req: Request, server: Server<never>) => {
    const started = performance.now();
    try {
      const res = await uniform(req, tooLarge(req) ?? (await answer(req, server)));
      logAccess(log, req, res, started);
      return res;
    } catch (e) {
      log("error", "request failed", { method: req.method, url: req.url, error: String((e as Error)?.stack ?? e) });
      return uniform(req, json({ error: "internal", message: "internal error" }, 500));
    }
  };
}

/** The main listener's table: every route the app answers. */
function routeTable(h: ReturnType<typeof makeHandlers>, live: ReturnType<typeof makeLive>, restart: Handler, snapshot: Handler, openapi: Handler): Route[] {
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
    { path: "/api/v1/openapi.json", GET: openapi },
    { path: "/ui/status", GET: stream("html") },
    { path: "/api/v1/service/:kind/:namespace/:name", GET: snapshot },
    { path: "/api/v1/service/:kind/:namespace/:name/status", GET: h.serviceStream },
    { path: "/api/v1/service/:kind/:namespace/:name/restart", POST: restart },
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
        return res && res.status !== 404 ? res : ((await uniform(req, notServed())) as Response);
      },
    });
  return listening("LISTEN_MONITORING_ADDRESS", mon, serve, undo);
}

export function startServer(deps: AppDeps): App {
  const { env, config, hub, metrics } = deps;
  const identify = makeIdentify(deps.authn, env.auth.mode);
  const live = makeLive({ env, config, hub, metrics, identify, unusable: deps.unusable });
  const restart = makeRestartHandler({ env, flow: deps.flow, hub, metrics, identify });
  const h = makeHandlers({ config, hub, metrics, identify, version: deps.version, unusable: deps.unusable, ready: deps.ready, upgrade: live.upgrade });
  const snapshot = makeSnapshotHandler({ env, config, hub, identify });
  const openapi = openApiDocument(deps.version);
  const answer = guarded(deps.log, router(routeTable(h, live, restart, snapshot, () => json(openapi))));
  const server = listening("LISTEN_ADDRESS", env.listen, () =>
    Bun.serve<WsData>({
      hostname: env.listen.hostname,
      port: env.listen.port,
      // Bun answers a larger declared body with an empty 413 itself; below this, errors.ts answers JSON (MAX_BODY_BYTES).
      maxRequestBodySize: 16 * MAX_BODY_BYTES,
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
