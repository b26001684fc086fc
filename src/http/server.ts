// Bun.serve: routes, thin handlers, the websocket status streams and graceful shutdown.
import type { Server, ServerWebSocket } from "bun";
import { ConfigError, type Env } from "../config/env.ts";
import { type ConfigFile, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { type Identity, mayRestart, mayView } from "../restart/identity.ts";
import type { RestartRequest, RestartResult } from "../restart/restart.ts";
import type { ServiceStatus } from "../status/model.ts";
import { wireStatus } from "../status/model.ts";
import type { StatusHub } from "../status/hub.ts";
import type { Authn } from "./auth.ts";
import { renderFlash, renderGroups, renderLogin, renderPage, renderState, staleBanner } from "./render.ts";
import { html, json, STATIC, STATUS, text, withHeaders } from "./respond.ts";
import { clientAddress } from "./clientaddr.ts";
import { hostRefusal } from "./hosts.ts";
import { requestUrl } from "./requrl.ts";
import { acknowledged, type FeedState, makeConnectionCap, makeRenderCache, pump } from "./wsfeed.ts";
import { makePlans, type Plan } from "./wsplan.ts";
import { makeDrain } from "./drain.ts";
import { requestIdFrom } from "./requestid.ts";
import { crossSiteRefusal } from "./security.ts";

export interface AppDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  authn: Authn;
  restart(req: RestartRequest): Promise<RestartResult>;
  ready(): { ready: boolean; detail: string[] };
  /** Permission problems found by the self-check, per service id (shown on the page). */
  accessProblems(): Map<string, string[]>;
  version: string;
  /** issue 15 #11: frees this instance's lock on a service (a restart cut short by shutdown). */
  releaseOwn?(s: ServiceKey): Promise<void>;
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}

type WsData = {
  /** issue 15 #17: shared by every socket of the same viewer (services, topics, audiences). */
  plan: Plan;
  identity: Identity;
  expire?: ReturnType<typeof setTimeout>;
  /** issue 15 #17: the client address counted against WEBSOCKET_MAX_PER_ADDRESS, and the initial-state feed position. */
  addr: string;
  feed: FeedState;
};

const RESTART_PATH = /^\/api\/v1\/service\/([^/]*)\/([^/]*)\/([^/]*)\/restart$/;
const STATUS_PATH = /^\/api\/v1\/service\/([^/]*)\/([^/]*)\/([^/]*)\/status$/;

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const isHtmx = (req: Request) => req.headers.get("hx-request") === "true";
const wantsHtml = (req: Request) => isHtmx(req) || (req.headers.get("accept") ?? "").includes("text/html");

/** Starts a listener; a port in use (or not permitted) stops the app naming the variable. */
function listening<T>(variable: string, at: { hostname: string; port: number }, start: () => T, undo?: () => void): T {
  try {
    return start();
  } catch (e) {
    undo?.();
    throw new ConfigError(`${variable}: cannot listen on ${at.hostname}:${at.port}: ${(e as Error).message}`);
  }
}

export function startServer(deps: AppDeps): { server: Server<WsData>; monitoring: Server<undefined> | undefined; shutdown(): Promise<void> } {
  const { env, config, hub, metrics } = deps;
  const sockets = new Set<ServerWebSocket<WsData>>();
  const visible = (who: Identity): ServiceEntry[] => config.services.filter((e) => mayView(config, e, who));
  const deniedText = "You are not allowed to restart this service.";
  const unusableText = "Unavailable: the app lacks permissions for this service (see the banner).";

  function denialFor(entry: ServiceEntry, who: Identity): string | undefined {
    if (mayRestart(config, entry, who)) return deniedText;
    return deps.accessProblems().has(serviceId(entry)) ? unusableText : undefined;
  }

  function accessBanner(who: Identity): string {
    // issue 15 #5: name only services this viewer may see.
    const mine = new Set(visible(who).map(serviceId));
    const problems = [...deps.accessProblems()].filter(([id]) => mine.has(id));
    if (problems.length === 0) return "";
    const items = problems.map(([id, missing]) => `<li><strong>${id}</strong>: missing ${missing.join("; ")}</li>`);
    return `<div id="banner-access" class="banner banner-warn">The app's own permissions are incomplete; affected services cannot be restarted:<ul>${items.join("")}</ul></div>`;
  }

  async function onlyMetrics(req: Request): Promise<Response> {
    if (req.method !== "GET" && req.method !== "HEAD") return text("method not allowed\n", 405, { Allow: "GET, HEAD" });
    for (const [s, n] of plans.watchers(singles)) metrics.watchers.set({ kind: s.kind, namespace: s.namespace, name: s.name }, n);
    return withHeaders(new Response(await metrics.registry.metrics(), { headers: { "Content-Type": metrics.registry.contentType } }));
  }

  function identify(req: Request): Identity | Response {
    const who = deps.authn(req, server.requestIP(req)?.address ?? ""); // issue 15: the peer decides whether identity headers count
    if ("error" in who) {
      if (who.status === 400) return json({ error: "bad-request", message: who.error }, 400); // issue 15: repeated/undecodable identity header
      if (wantsHtml(req) && !isHtmx(req)) return withHeaders(html(renderLogin(who.error), 401));
      return json({ error: "unauthenticated", message: who.error }, 401, { "WWW-Authenticate": 'Bearer realm="k8s-restart-app"' });
    }
    return who;
  }

  function upgrade(req: Request, server: Server<WsData>, mode: "json" | "html", only?: ServiceEntry & { unknown?: true }): Response | undefined {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json({ error: "bad-request", message: "this endpoint is a websocket: connect with Upgrade: websocket" }, 400);
    }
    const refusal = crossSiteRefusal(req, env.trustedOrigins);
    if (refusal) return json({ error: "forbidden", message: refusal }, 403);
    const who = identify(req);
    if (who instanceof Response) return who;
    // A service the caller may not see answers exactly like one that is not configured.
    if (only && (only.unknown || !mayView(config, only, who))) {
      return json({ error: "not-found", message: `${only.kind}/${only.namespace}/${only.name} is not in the list of restartable services` }, 404);
    }
    const plan = plans.planFor(mode, who, only); // issue 15 #17
    // issue 15 #17: a per-address cap on open websockets.
    const addr = clientAddress(server.requestIP(req)?.address ?? "", req.headers.get("x-forwarded-for"), env.trustedProxies);
    if (!wsCap.admit(addr)) return json({ error: "rate-limited", message: `too many open websockets from ${addr} (WEBSOCKET_MAX_PER_ADDRESS=${env.websocketMaxPerAddress})` }, 429);
    const feed = { next: 0, total: plan.services.length + (mode === "html" ? 1 : 0) };
    if (server.upgrade(req, { data: { plan, identity: who, addr, feed } })) return undefined;
    wsCap.release(addr);
    return json({ error: "bad-request", message: "websocket upgrade failed" }, 400);
  }

  // issue 15 #17: the full state goes out one message per service, each rendered once per
  // status version and shared, and only as fast as the client takes it (see wsfeed.ts).
  const rendered = makeRenderCache();
  const drain = makeDrain({
    graceMs: env.shutdownGraceSec * 1000,
    release: async (f) => {
      await deps.releaseOwn?.(f.service as ServiceKey).catch((e) => deps.log("error", "lock release at shutdown failed", { error: String(e) }));
      deps.log("warn", "restart", { audit: true, user: f.user, groups: f.groups, source: f.source, service: f.service, outcome: "interrupted",
        detail: "the app shut down before this restart finished; its lock was released", request_id: f.requestId });
    },
  });
  const wsCap = makeConnectionCap(env.websocketMaxPerAddress);
  const plans = makePlans({ services: config.services, visible, refused: (s, who) => mayRestart(config, s, who) !== undefined });
  const singles = new Set<Plan>();
  function initialPiece(ws: ServerWebSocket<WsData>, i: number): string | undefined {
    const { mode, services, denied } = ws.data.plan;
    if (i === services.length) return staleBanner(hub.stale(), true);
    const s = services[i]!;
    const k = plans.keys(s);
    const st = hub.current(s);
    if (mode === "json") return st ? rendered.get(k.json, st, () => JSON.stringify(wireStatus(st))) : undefined;
    if (denied[i]) return rendered.get(k.html.denied, st, () => renderState(st, s, { denied: deniedText }, true));
    if (deps.accessProblems().has(k.id)) return rendered.get(k.html.unusable, st, () => renderState(st, s, { denied: unusableText }, true));
    return rendered.get(k.html.allowed, st, () => renderState(st, s, {}, true));
  }
  function sendFullState(ws: ServerWebSocket<WsData>): void {
    // The page may have been open for a while (or the tab hidden): resend everything on every open.
    pump(ws, ws.data.feed, (i) => initialPiece(ws, i), env.websocketBufferBytes);
  }

  /**
   * Resolves when the restarted rollout has settled: the status shows this restart, the lock is
   * released (which happens once the controller observed the new generation) and the rollout is
   * complete or failed — or when `timeoutMs` passes first.
   */
  function settled(s: ServiceKey, restartedAt: string, timeoutMs: number): Promise<{ outcome: "complete" | "failed" | "timeout" | "draining"; status?: ServiceStatus }> {
    const done = (st: ServiceStatus | undefined) =>
      st !== undefined && st.lastRestart === restartedAt && st.lock === null && (st.rollout === "complete" || st.rollout === "failed");
    const now = hub.current(s);
    if (done(now)) return Promise.resolve({ outcome: now!.rollout as "complete" | "failed", status: now });
    if (drain.draining()) return Promise.resolve({ outcome: "draining", status: now }); // issue 15 #11
    return new Promise((resolve) => {
      const end = () => (clearTimeout(timer), stop(), unDrain());
      const timer = setTimeout(() => (end(), resolve({ outcome: "timeout", status: hub.current(s) })), timeoutMs);
      const stop = hub.onStatus((st) => {
        if (serviceId(st.service) !== serviceId(s) || !done(st)) return;
        end();
        resolve({ outcome: st.rollout as "complete" | "failed", status: st });
      });
      const unDrain = drain.onDrain(() => (end(), resolve({ outcome: "draining", status: hub.current(s) }))); // issue 15 #11
    });
  }

  async function handleRestart(req: Request, m: RegExpExecArray, server: Server<WsData>): Promise<Response> {
    const refusal = crossSiteRefusal(req, env.trustedOrigins);
    const requestId = requestIdFrom(req.headers.get("x-request-id")); // issue 15 #8
    const [kind, namespace, name] = [m[1]!, m[2]!, m[3]!].map(decodeSegment);
    const source = clientAddress(server.requestIP(req)?.address ?? "", req.headers.get("x-forwarded-for"), env.trustedProxies); // issue 15 #18
    const reply = (r: RestartResult): Response => {
      const status = r.ok ? 200 : (STATUS[r.reason] ?? 500);
      const extra: Record<string, string> = { "X-Request-Id": requestId };
      if (!r.ok && r.retryAfterSec) extra["Retry-After"] = String(r.retryAfterSec);
      if (isHtmx(req)) return withHeaders(html(renderFlash(r, new Date()), status), extra);
      if (r.ok) {
        return json({ status: "restarting", service: r.service, restarted_at: r.restartedAt, generation: r.generation, request_id: requestId }, 200, extra);
      }
      return json({ error: r.reason, message: r.detail, request_id: requestId }, status, extra);
    };
    const audit = (r: RestartResult, who: Identity) =>
      deps.log(r.ok ? "info" : "warn", "restart", {
        audit: true,
        user: who.user,
        groups: who.groups,
        source,
        service: { kind, namespace, name },
        outcome: r.ok ? "restarted" : r.reason,
        detail: r.ok ? `generation ${r.generation}` : r.detail,
        request_id: requestId,
      });
    if (refusal) {
      const r: RestartResult = { ok: false, reason: "forbidden", detail: refusal };
      audit(r, { user: "", groups: [], authenticated: false });
      return reply(r);
    }
    const who = identify(req);
    if (who instanceof Response) {
      audit({ ok: false, reason: "unauthenticated", detail: "no valid identity" }, { user: "", groups: [], authenticated: false });
      who.headers.set("X-Request-Id", requestId);
      return who;
    }
    if (kind === undefined || namespace === undefined || name === undefined) {
      const r: RestartResult = { ok: false, reason: "bad-request", detail: "malformed percent-encoding in the path" };
      audit(r, who);
      return reply(r);
    }
    // ?wait=<seconds>: answer only once the rollout has settled (for scripts and CI jobs).
    const waitParam = requestUrl(req).searchParams.get("wait"); // issue 15 #16
    let waitSec = 0;
    if (waitParam !== null && !isHtmx(req)) {
      waitSec = waitParam === "" ? Math.min(env.rolloutTimeoutSec, 3600) : /^\d{1,4}$/.test(waitParam) ? Number(waitParam) : NaN;
      if (!(waitSec >= 1 && waitSec <= 3600)) {
        const bad: RestartResult = { ok: false, reason: "bad-request", detail: `wait: expected seconds from 1 to 3600, got ${JSON.stringify(waitParam)}` };
        audit(bad, who);
        return reply(bad);
      }
    }
    // issue 15 #11: restarts run under the drain, so SIGTERM lets them finish or frees their lock.
    const tracked = drain.track({ service: { kind, namespace, name }, requestId, user: who.user, groups: who.groups, source }, () =>
      deps.restart({ kind, namespace, name, identity: who, requestId, source }),
    );
    const r: RestartResult = tracked ? await tracked : { ok: false, reason: "unavailable", detail: "the app is shutting down; try again (another replica will answer)", retryAfterSec: 1 };
    if (r.service) {
      const labels = { kind: r.service.kind, namespace: r.service.namespace, name: r.service.name };
      metrics.restarts.inc(labels);
      if (!r.ok) metrics.restartsFailed.inc(labels);
    }
    audit(r, who);
    if (!r.ok || waitSec === 0) return reply(r);
    // Bun would close a connection idle this long; the caller asked to wait.
    server.timeout(req, waitSec + 30);
    const w = await settled(r.service, r.restartedAt, waitSec * 1000);
    if (w.outcome === "draining") {
      // issue 15 #11: the restart was applied; this instance just cannot watch it to the end.
      return json(
        { status: "restarting", error: "unavailable", message: "the app is shutting down; the restart was applied, its rollout goes on", service: r.service, restarted_at: r.restartedAt, generation: r.generation, request_id: requestId },
        503,
        { "X-Request-Id": requestId, "Retry-After": "1" },
      );
    }
    const code = w.outcome === "complete" ? 200 : w.outcome === "failed" ? 502 : 504;
    return json(
      {
        status: w.outcome,
        service: r.service,
        restarted_at: r.restartedAt,
        generation: r.generation,
        request_id: requestId,
        ...(w.status ? { rollout: wireStatus(w.status) } : {}),
        ...(w.outcome === "complete" ? {} : { error: w.outcome === "failed" ? "rollout-failed" : "rollout-timeout", message: w.status?.message ?? "" }),
      },
      code,
      { "X-Request-Id": requestId },
    );
  }

  async function route(req: Request, server: Server<WsData>): Promise<Response | undefined> {
    const url = requestUrl(req); // issue 15 #16: HTTP/1.0 without Host has no absolute URL
    const p = url.pathname;
    const method = req.method;
    const badHost = hostRefusal(req, env.allowedHosts); // issue 15 #4: DNS rebinding
    if (badHost) return json({ error: "forbidden", message: badHost }, 403);
    const onlyGet = () => (method === "GET" || method === "HEAD" ? undefined : text("method not allowed\n", 405, { Allow: "GET, HEAD" }));

    if (p === "/healthz") return onlyGet() ?? text("ok\n", 200);
    if (p === "/readyz") {
      const r = deps.ready();
      return onlyGet() ?? text(`${r.ready ? "ok" : "not ready"}\n${r.detail.map((d) => `- ${d}\n`).join("")}`, r.ready ? 200 : 503);
    }
    if (p === "/metrics") {
      // issue 15 #5: with AUTH_MODE≠none the main port's metrics need an identity too.
      const who = env.auth.mode === "none" ? undefined : identify(req);
      if (who instanceof Response) return who;
      return onlyGet() ?? (await onlyMetrics(req));
    }
    const asset = STATIC[p];
    if (asset) {
      return (
        onlyGet() ??
        withHeaders(new Response(Bun.file(asset.path), { headers: { "Content-Type": asset.type, "Cache-Control": "public, max-age=300" } }))
      );
    }
    if (p === "/") {
      const bad = onlyGet();
      if (bad) return bad;
      const who = identify(req);
      if (who instanceof Response) return who;
      const items = visible(who).map((e) => ({ key: e, status: hub.current(e), viewer: { denied: denialFor(e, who) } }));
      const banners = staleBanner(hub.stale(), false) + accessBanner(who);
      return html(
        renderPage({
          groups: renderGroups(items),
          banners,
          who: who.authenticated ? `Signed in as ${who.user}` : "",
          version: deps.version,
        }),
      );
    }
    if (p === "/api/v1/service" || p === "/api/v1/service/") {
      const bad = onlyGet();
      if (bad) return bad;
      const who = identify(req);
      if (who instanceof Response) return who;
      return json({ services: visible(who).map((e) => ({ kind: e.kind, name: e.name, namespace: e.namespace })) });
    }
    if (p === "/api/v1/service/status") return onlyGet() ?? upgrade(req, server, "json");
    if (p === "/ui/status") return onlyGet() ?? upgrade(req, server, "html");
    let m = STATUS_PATH.exec(p);
    if (m) {
      const bad = onlyGet();
      if (bad) return bad;
      const [kind, namespace, name] = [m[1]!, m[2]!, m[3]!].map(decodeSegment);
      const entry = config.services.find((e) => e.kind === kind && e.namespace === namespace && e.name === name);
      // issue 15 #5: an unknown service goes through the same checks as a hidden one, so both answer alike.
      return upgrade(req, server, "json", entry ?? { kind: kind as never, namespace: namespace ?? "", name: name ?? "", unknown: true });
    }
    m = RESTART_PATH.exec(p);
    if (m) {
      if (method !== "POST") return text("method not allowed\n", 405, { Allow: "POST" });
      return handleRestart(req, m, server);
    }
    return json({ error: "not-found", message: `no route for ${method} ${p}` }, 404);
  }

  const idleTimeout = Math.min(960, Math.max(4, env.watchIntervalSec * 2));
  const server = listening("LISTEN_ADDRESS", env.listen, () => Bun.serve<WsData>({
    hostname: env.listen.hostname,
    port: env.listen.port,
    maxRequestBodySize: 64 * 1024,
    // Bun closes idle HTTP connections after this many seconds; long enough for slow clients.
    idleTimeout: 30,
    async fetch(req, server) {
      try {
        return await route(req, server);
      } catch (e) {
        // A bug must never leak a stack trace or take the process down.
        deps.log("error", "request failed", { method: req.method, url: req.url, error: String((e as Error)?.stack ?? e) });
        return json({ error: "internal", message: "internal error" }, 500);
      }
    },
    error(e) {
      deps.log("error", "server error", { error: String(e) });
      return json({ error: "internal", message: "internal error" }, 500);
    },
    websocket: {
      // Heartbeat: WATCH_INTERVAL paces pings; a peer silent for two intervals is closed as dead.
      idleTimeout,
      sendPings: true,
      // Clients have nothing to say: a tiny limit, and messages are ignored.
      maxPayloadLength: 1024,
      // issue 15 #17: a client that does not read is closed once this much waits for it, never buffered without bound.
      backpressureLimit: env.websocketBufferBytes,
      closeOnBackpressureLimit: true,
      drain(ws) {
        sendFullState(ws);
      },
      pong(ws, data) {
        if (acknowledged(ws.data.feed, String(data))) sendFullState(ws);
      },
      open(ws) {
        sockets.add(ws);
        // issue 15 #6: behind a proxy a socket lives at most this long, so a reconnect passes the proxy's session check again (1001: htmx reconnects).
        if (env.auth.mode === "proxy") ws.data.expire = setTimeout(() => ws.close(1001, "session check due: reconnect"), env.auth.websocketLifetimeSec * 1000);
        for (const t of ws.data.plan.topics) ws.subscribe(t);
        plans.opened(ws.data.plan); // issue 15 #17: counted per plan, summed when /metrics is read
        if (ws.data.plan.single) singles.add(ws.data.plan);
        // issue 15 #17: outside the open handler, where sends would pile up in a userspace buffer.
        setTimeout(() => ws.readyState === 1 && sendFullState(ws), 0);
      },
      message() {},
      close(ws) {
        sockets.delete(ws);
        clearTimeout(ws.data.expire);
        wsCap.release(ws.data.addr);
        plans.closed(ws.data.plan);
        if (ws.data.plan.sockets === 0) singles.delete(ws.data.plan);
      },
    },
  }));

  // The monitoring listener (LISTEN_MONITORING_ADDRESS) answers only the operational endpoints.
  const mon = env.monitoring;
  const monitoring = mon
    ? listening("LISTEN_MONITORING_ADDRESS", mon, () => Bun.serve({
        hostname: mon.hostname,
        port: mon.port,
        maxRequestBodySize: 1024,
        async fetch(req) {
          const p = requestUrl(req).pathname; // issue 15 #16
          // issue 15 #5: /metrics here stays open for Prometheus (the main port may require an identity).
          if (p === "/metrics") return onlyMetrics(req);
          if (p === "/healthz" || p === "/readyz") return (await route(req, server as never)) ?? text("not found\n", 404);
          return text("not found: this listener serves /metrics, /healthz and /readyz only\n", 404);
        },
      }), () => void server.stop(true))
    : undefined;

  hub.onStatus((s: ServiceStatus) => {
    const id = serviceId(s.service);
    // issue 15 #17: sockets that see everything share "json:*" / "html:*".
    for (const t of [`json:${id}`, "json:*"]) if (server.subscriberCount(t) > 0) server.publish(t, rendered.get(`json:${id}`, s, () => JSON.stringify(wireStatus(s))));
    const allowedHtml = () => renderState(s, s.service, { denied: deps.accessProblems().has(id) ? unusableText : undefined }, true);
    for (const t of [`html:${id}:allowed`, "html:*"]) if (server.subscriberCount(t) > 0) server.publish(t, allowedHtml());
    if (server.subscriberCount(`html:${id}:denied`) > 0) {
      server.publish(`html:${id}:denied`, renderState(s, s.service, { denied: deniedText }, true));
    }
  });
  // issue 15 #6: a revoked token's sockets are closed (1008: htmx does not reconnect).
  const unwatchTokens = deps.authn.onChange(() => {
    for (const ws of sockets) if (!deps.authn.stillValid(ws.data.identity)) ws.close(1008, "credential revoked");
  });
  hub.onConnection((stale) => {
    metrics.watchConnected.set(stale.length ? 0 : 1);
    server.publish("html:banner", staleBanner(stale, true));
  });

  return {
    server,
    monitoring,
    async shutdown() {
      unwatchTokens();
      deps.authn.stop();
      // Stop accepting, then close websockets with 1001 so htmx reconnects to the next instance.
      void server.stop(false);
      void monitoring?.stop(true);
      for (const ws of sockets) ws.close(1001, "server shutting down");
      // issue 15 #11: in-flight restarts finish or free their lock; ?wait callers get 503.
      const report = await drain.drain();
      deps.log("info", "drained", { finished: report.finished, interrupted: report.interrupted.length, waitersAnswered: report.waitersAnswered });
      // Let the answers of requests that just finished (restarts, ?wait 503s) go out, then close the rest.
      await Promise.race([server.stop(false), Bun.sleep(3000)]);
      await Promise.race([server.stop(true), Bun.sleep(1000)]);
    },
  };
}

