// The HTTP side of a restart: parse the path and ?wait, authenticate, run the restart flow, count it, reply (HTML flash or JSON), wait for the rollout when asked.
import type { Server } from "bun";
import type { Env } from "../config/env.ts";
import type { Metrics } from "../metrics.ts";
import { ANONYMOUS } from "../restart/identity.ts";
import type { RestartFailure, RestartRequest, RestartResult } from "../restart/outcome.ts";
import type { RestartFlow } from "../restart/wiring.ts";
import type { StatusHub } from "../status/hub.ts";
import { type Identify, isHtmx } from "./identify.ts";
import { renderFlash, wireStatus } from "./render.ts";
import { html, json, STATUS, withHeaders } from "./respond.ts";
import type { Params } from "./router.ts";
import { clientAddress } from "./clientaddr.ts";
import type { Drain } from "./drain.ts";
import { requestIdFrom } from "./requestid.ts";
import { requestUrl } from "./requrl.ts";
import { crossSiteRefusal } from "./security.ts";

export interface RestartHttpDeps {
  env: Env;
  flow: RestartFlow;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  /** Restarts in flight and ?wait callers, for a graceful shutdown (issue 15 #11). */
  drain: Drain;
}

/** ?wait=<seconds> (1–3600; empty = ROLLOUT_TIMEOUT_SEC capped at 3600): 0 when absent or asked by the page. */
function waitSeconds(req: Request, rolloutTimeoutSec: number): number | string {
  const raw = requestUrl(req).searchParams.get("wait"); // issue 15 #16
  if (raw === null || isHtmx(req)) return 0;
  const sec = raw === "" ? Math.min(rolloutTimeoutSec, 3600) : /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  return sec >= 1 && sec <= 3600 ? sec : `wait: expected seconds from 1 to 3600, got ${JSON.stringify(raw)}`;
}

type Applied = Extract<RestartResult, { ok: true }>;

function reply(req: Request, r: RestartResult, requestId: string): Response {
  const status = r.ok ? 200 : STATUS[r.reason];
  const extra: Record<string, string> = { "X-Request-Id": requestId };
  if (!r.ok && r.retryAfterSec) extra["Retry-After"] = String(r.retryAfterSec);
  if (isHtmx(req)) return withHeaders(html(renderFlash(r, new Date()), status), extra);
  if (r.ok) return json({ status: "restarting", service: r.service, restarted_at: r.restartedAt, generation: r.generation, request_id: requestId }, 200, extra);
  return json({ error: r.reason, message: r.detail, request_id: requestId }, status, extra);
}

/** The hub's answer, or "draining" once shutdown begins (issue 15 #11). */
function untilSettledOrDraining(hub: StatusHub, drain: Drain, r: Applied, waitSec: number) {
  if (drain.draining()) return Promise.resolve("draining" as const);
  let off = () => {};
  const draining = new Promise<"draining">((resolve) => (off = drain.onDrain(() => resolve("draining"))));
  return Promise.race([hub.waitForRestart(r.service, r.restartedAt, waitSec * 1000), draining]).finally(() => off());
}

/** Shutting down: the restart was applied, this instance just cannot follow it to the end. */
function replyDraining(r: Applied, requestId: string): Response {
  const body = { status: "restarting", error: "unavailable", message: "the app is shutting down; the restart was applied, its rollout goes on", service: r.service, restarted_at: r.restartedAt };
  return json({ ...body, generation: r.generation, request_id: requestId }, 503, { "X-Request-Id": requestId, "Retry-After": "1" });
}

/** Answers once the rollout this restart started has settled: 200 complete, 502 failed, 504 timeout (503 when shutting down). */
async function replyWhenSettled(hub: StatusHub, drain: Drain, r: Applied, waitSec: number, requestId: string): Promise<Response> {
  const w = await untilSettledOrDraining(hub, drain, r, waitSec);
  if (w === "draining") return replyDraining(r, requestId);
  const code = w.outcome === "complete" ? 200 : w.outcome === "failed" ? 502 : 504;
  const failure = w.outcome === "complete" ? {} : { error: w.outcome === "failed" ? "rollout-failed" : "rollout-timeout", message: w.status?.message ?? "" };
  const body = { status: w.outcome, service: r.service, restarted_at: r.restartedAt, generation: r.generation, request_id: requestId };
  return json({ ...body, ...(w.status ? { rollout: wireStatus(w.status) } : {}), ...failure }, code, { "X-Request-Id": requestId });
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
    // issue 15 #8: a client-chosen id only when short and plain; #18: the client address, via X-Forwarded-For only from a trusted proxy.
    const requestId = requestIdFrom(req.headers.get("x-request-id"));
    const { kind, namespace, name } = params;
    const source = clientAddress(server.requestIP(req)?.address ?? "", req.headers.get("x-forwarded-for"), env.trustedProxies);
    const request: RestartRequest = { kind: kind ?? "", namespace: namespace ?? "", name: name ?? "", identity: ANONYMOUS, requestId, source };
    const refuse = (reason: RestartFailure["reason"], detail: string) => reply(req, flow.refuse(request, { ok: false, reason, detail }), requestId);

    const crossSite = crossSiteRefusal(req, env.trustedOrigins);
    if (crossSite) return refuse("forbidden", crossSite);
    const who = identify(req);
    if (who instanceof Response) {
      flow.refuse(request, { ok: false, reason: "unauthenticated", detail: "no valid identity" });
      who.headers.set("X-Request-Id", requestId);
      return who;
    }
    request.identity = who;
    if (kind === undefined || namespace === undefined || name === undefined) return refuse("bad-request", "malformed percent-encoding in the path");
    const waitSec = waitSeconds(req, env.rolloutTimeoutSec);
    if (typeof waitSec === "string") return refuse("bad-request", waitSec);

    const r = await run(flow, drain, request);
    if (r.service) {
      const labels = { kind: r.service.kind, namespace: r.service.namespace, name: r.service.name };
      metrics.restarts.inc(labels);
      if (!r.ok) metrics.restartsFailed.inc(labels);
    }
    if (!r.ok || waitSec === 0) return reply(req, r, requestId);
    // Bun would close a connection idle this long; the caller asked to wait.
    server.timeout(req, waitSec + 30);
    return replyWhenSettled(hub, drain, r, waitSec, requestId);
  };
}
