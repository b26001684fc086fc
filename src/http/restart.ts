// The HTTP side of a restart: parse the path and ?wait, authenticate, run the restart flow, count it, reply (HTML flash or JSON), wait for the rollout when asked.
import type { Server } from "bun";
import type { Env } from "../config/env.ts";
import type { Metrics } from "../metrics.ts";
import { ANONYMOUS } from "../restart/identity.ts";
import type { RestartFailure, RestartRequest, RestartResult } from "../restart/outcome.ts";
import type { RestartFlow } from "../restart/wiring.ts";
import type { StatusHub } from "../status/hub.ts";
import { clientAddress } from "./clientaddr.ts";
import type { Drain } from "./drain.ts";
import { type Identify, isHtmx } from "./identify.ts";
import { renderFlash } from "./render.ts";
import { requestIdOf } from "./request-id.ts";
import { countRestart } from "./restart-metrics.ts";
import { html, json, STATUS, withHeaders } from "./respond.ts";
import type { Params } from "./router.ts";
import type { ApiErrorBody, RestartAcceptedBody } from "./schemas.ts";
import { crossSiteRefusal } from "./security.ts";
import { replyAfterWait, waitSeconds } from "./wait.ts";

export interface RestartHttpDeps {
  env: Env;
  flow: RestartFlow;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  /** Restarts in flight and ?wait callers, for a graceful shutdown (issue 15 #11). */
  drain: Drain;
}

function reply(req: Request, r: RestartResult, requestId: string): Response {
  const status = r.ok ? 200 : STATUS[r.reason];
  const extra: Record<string, string> = { "X-Request-Id": requestId };
  if (!r.ok && r.retryAfterSec) extra["Retry-After"] = String(r.retryAfterSec);
  if (isHtmx(req)) return withHeaders(html(renderFlash(r, new Date()), status), extra);
  if (r.ok) return json({ status: "restarting", service: r.service, restarted_at: r.restartedAt, generation: r.generation, request_id: requestId } satisfies RestartAcceptedBody, 200, extra);
  const lock = r.lock ? { lock: { user: r.lock.user, since: r.lock.since, expires_at: r.lock.expiresAt } } : {};
  return json({ error: r.reason, message: r.detail, request_id: requestId, ...lock } satisfies ApiErrorBody, status, extra);
}

/** Runs the flow under the drain: refused while shutting down (issue 15 #11). */
async function run(flow: RestartFlow, drain: Drain, request: RestartRequest): Promise<RestartResult> {
  const f = { service: { kind: request.kind, namespace: request.namespace, name: request.name }, requestId: request.requestId, user: request.identity.user, groups: request.identity.groups, source: request.source };
  const tracked = drain.track(f, () => flow.restart(request));
  if (tracked) return tracked;
  return flow.refuse(request, { ok: false, reason: "unavailable", detail: "the app is shutting down; try again (another replica will answer)", retryAfterSec: 1 });
}

export function makeRestartHandler({ env, flow, hub, metrics, identify, drain }: RestartHttpDeps) {
  return async (req: Request, params: Params, server: Server<never>): Promise<Response> => {
    // issue 15 #8: a client-chosen id only when short and plain (request-id.ts); #18: the client address, via X-Forwarded-For only from a trusted proxy.
    const requestId = requestIdOf(req);
    const { kind, namespace, name } = params;
    const source = clientAddress(server.requestIP(req)?.address ?? "", req.headers.get("x-forwarded-for"), env.trustedProxies);
    const request: RestartRequest = { kind: kind ?? "", namespace: namespace ?? "", name: name ?? "", identity: ANONYMOUS, requestId, source };
    const refuse = (reason: RestartFailure["reason"], detail: string) => {
      const r = flow.refuse(request, { ok: false, reason, detail });
      countRestart(metrics, hub, r, env.forceUnlockSec);
      return reply(req, r, requestId);
    };

    const crossSite = crossSiteRefusal(req, env.trustedOrigins);
    if (crossSite) return refuse("forbidden", crossSite);
    const who = identify(req);
    if (who instanceof Response) {
      countRestart(metrics, hub, flow.refuse(request, { ok: false, reason: "unauthenticated", detail: "no valid identity" }), env.forceUnlockSec);
      who.headers.set("X-Request-Id", requestId);
      return who;
    }
    request.identity = who;
    if (kind === undefined || namespace === undefined || name === undefined) return refuse("bad-request", "malformed percent-encoding in the path");
    const waitSec = waitSeconds(req, env.rolloutTimeoutSec);
    if (typeof waitSec === "string") return refuse("bad-request", waitSec);

    const r = await run(flow, drain, request);
    countRestart(metrics, hub, r, env.forceUnlockSec);
    if (!r.ok || waitSec === 0) return reply(req, r, requestId);
    // Bun would close a connection idle this long; the caller asked to wait.
    server.timeout(req, waitSec + 30);
    const wait = () => hub.waitForRestart(r.service, r.restartedAt, waitSec * 1000);
    const extra = { restarted_at: r.restartedAt, generation: r.generation };
    return replyAfterWait(req, { hub, service: r.service, wait, requestId, extra, heartbeatSec: env.heartbeatSec, drain });
  };
}
