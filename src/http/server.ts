// Bun.serve: the route table, the monitoring listener's own small table, and shutdown.
import type { Server } from "bun";
import { ConfigError, type Env } from "../config/env.ts";
import type { ServiceKey } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import type { RestartFlow } from "../restart/wiring.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { Readiness } from "../status/readiness.ts";
import type { Authn } from "./auth.ts";
import { logAccess } from "./access-log.ts";
import { makeDetailsHandlers } from "./details.ts";
import { type Drain, makeDrain } from "./drain.ts";
import { MAX_BODY_BYTES, tooLarge, uniform } from "./errors.ts";
import { makeHandlers } from "./handlers.ts";
import { hostRefusal } from "./hosts.ts";
import { makeIdentify } from "./identify.ts";
import { makeLive, type Notice, type WsData } from "./live.ts";
import { json, text } from "./respond.ts";
import { makeRestartHandler } from "./restart.ts";
import { makeSnapshotHandler } from "./snapshot.ts";
import { type Handler, type Route, router } from "./router.ts";

export interface AppDeps {
  env: Env;
  /** The services offered now (changes on reload and as selector entries match). */
  services: ServiceSet;
  hub: StatusHub;
  metrics: Metrics;
  authn: Authn;
  flow: RestartFlow;
  ready(): Readiness;
  /** The permissions the app itself lacks, per service id (the self-check's `unusable`). */
  unusable(): Map<string, string[]>;
  /** Why the last config reload was refused ("" when it was not). */
  configProblem?: Notice;
  version: string;
  /** CLUSTER_NAME, shown in the header and title ("" shows none). */
  clusterName: string;
  log(level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
  /** Frees this instance's lock on a service: a restart cut short by shutdown (issue 15 #11). */
  releaseOwn?(s: ServiceKey): Promise<void>;
}

export interface App {
  server: Server<WsData>;
  monitoring: Server<undefined> | undefined;
  /** The app's own rights changed: push every service's card again (issue 15 #9). */
  refreshCards(): void;
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
type Extra = { restart: Handler; snapshot: Handler; openapi: Handler; details: ReturnType<typeof makeDetailsHandlers> };
function routeTable(h: ReturnType<typeof makeHandlers>, live: ReturnType<typeof makeLive>, { restart, snapshot, openapi, details }: Extra): Route[] {
  // issue 15 #5: metrics on the main port need an identity when AUTH_MODE≠none (the monitoring port stays open).
  const stream = (kind: "json" | "html"): Handler => (req, _p, server) => live.upgrade(req, server as Server<WsData>, kind);
  return [
    { path: "/", GET: h.page },
    { path: "/healthz", GET: h.healthz },
    { path: "/readyz", GET: h.readyz },
    { path: "/metrics", GET: h.metricsWithIdentity },
    ...h.assets,
    { path: "/api/v1/service", GET: h.list },
    { path: "/api/v1/service/", GET: h.list },
    { path: "/api/v1/service/status", GET: stream("json") },
    { path: "/api/v1/openapi.json", GET: openapi },
    { path: "/ui/status", GET: stream("html") },
    { path: "/api/v1/service/:kind/:namespace/:name", GET: snapshot },
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
        return res && res.status !== 404 ? res : ((await uniform(req, notServed())) as Response);
      },
    });
  return listening("LISTEN_MONITORING_ADDRESS", mon, serve, undo);
}

/** issue 15 #11: restarts cut short by shutdown free their lock and are audited as interrupted. */
function shutdownDrain(deps: AppDeps): Drain {
  return makeDrain({
    graceMs: deps.env.shutdownGraceSec * 1000,
    release: async (f) => {
      await deps.releaseOwn?.(f.service as ServiceKey).catch((e) => deps.log("error", "lock release at shutdown failed", { error: String(e) }));
      const detail = "the app shut down before this restart finished; its lock was released";
      deps.log("warn", "restart", { audit: true, user: f.user, groups: f.groups, source: f.source, service: f.service, outcome: "interrupted", detail, request_id: f.requestId });
    },
  });
}

export function startServer(deps: AppDeps): App {
  const { env, services, hub, metrics, configProblem } = deps;
  let server: Server<WsData> | undefined;
  const peerOf = (req: Request) => server?.requestIP(req)?.address ?? "";
  const identify = makeIdentify(deps.authn, peerOf, env.auth.mode);
  const drain = shutdownDrain(deps);
  const live = makeLive({ env, services, hub, metrics, identify, authn: deps.authn, unusable: deps.unusable, configProblem, peerOf });
  const restart = makeRestartHandler({ env, flow: deps.flow, hub, metrics, identify, drain });
  const shared = { services, hub, identify, version: deps.version, clusterName: deps.clusterName, unusable: deps.unusable, upgrade: live.upgrade };
  const h = makeHandlers({ ...shared, env, configProblem, metrics, ready: deps.ready, beforeMetrics: live.countWatchers });
  const snapshot = makeSnapshotHandler({ env, services, hub, identify, drain });
  // The OpenAPI document (every body's TypeBox schema) is built at its first request, from its own chunk: nothing at start.
  let doc: Promise<object> | undefined;
  const openapi = async () => json(await (doc ??= import("./openapi.ts").then((m) => m.openApiDocument(deps.version))));
  const routes = router(routeTable(h, live, { restart, snapshot, openapi, details: makeDetailsHandlers(shared) }));
  // issue 15 #4: a browser request for a host not in ALLOWED_HOSTS is refused (DNS rebinding); in the uniform error shape like every other refusal.
  const answer = guarded(deps.log, async (req, s) => {
    const badHost = hostRefusal(req, env.allowedHosts);
    return badHost ? json({ error: "forbidden", message: badHost }, 403) : routes(req, s);
  });
  server = listening("LISTEN_ADDRESS", env.listen, () =>
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
  const main = server;
  const monitoring = startMonitoring(deps, h, () => void main.stop(true));
  live.publishFrom(main);

  return {
    server: main,
    monitoring,
    refreshCards: live.refreshCards,
    async shutdown() {
      // Stop accepting, then close websockets with 1001 so htmx reconnects to the next instance.
      void main.stop(false);
      void monitoring?.stop(true);
      live.closeAll(1001, "server shutting down");
      // issue 15 #11: in-flight restarts finish or free their lock; ?wait callers get 503.
      const report = await drain.drain();
      deps.log("info", "drained", { finished: report.finished, interrupted: report.interrupted.length, waitersAnswered: report.waitersAnswered });
      // Let the answers of requests that just finished go out, then close the rest.
      await Promise.race([main.stop(false), Bun.sleep(3000)]);
      await Promise.race([main.stop(true), Bun.sleep(1000)]);
    },
  };
}
