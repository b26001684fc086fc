// Covers src/http/server.ts startServer on port 0 with fake deps: pages, API, restart reason→status mapping, CSRF, websockets, metrics, health.
import { afterEach, describe, expect, test } from "bun:test";
import { parseEnv } from "../../src/config/env.ts";
import { type ConfigFile, type ServiceKey, serviceId } from "../../src/config/file.ts";
import { makeAuthn } from "../../src/http/auth.ts";
import { type AppDeps, startServer } from "../../src/http/server.ts";
import { makeMetrics } from "../../src/metrics.ts";
import type { RestartRequest, RestartResult } from "../../src/restart/restart.ts";
import type { StatusHub, StatusListener } from "../../src/status/hub.ts";
import { wireStatus } from "../../src/http/render.ts";
import { auditRecord } from "../../src/restart/audit.ts";
import type { ServiceStatus } from "../../src/status/model.ts";
import { makeServiceSet } from "../../src/status/service-set.ts";
import { restartOutcome, settledState } from "../../src/status/settle.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };
const DB: ServiceKey = { kind: "StatefulSet", namespace: "shop", name: "db" };
const AGENT: ServiceKey = { kind: "DaemonSet", namespace: "ops", name: "agent" };
// AGENT is visible to carol only: anonymous and bob must not learn about it.
const CONFIG: ConfigFile = { services: [{ ...WEB }, { ...DB }, { ...AGENT, viewUsers: ["carol"] }] };

const status = (service: ServiceKey, o: Partial<ServiceStatus> = {}): ServiceStatus => ({
  service,
  rollout: "complete",
  message: `${service.kind.toLowerCase()} "${service.name}" successfully rolled out`,
  desired: 2,
  ready: 2,
  updated: 2,
  podStatus: { Running: 2 },
  podsReady: 2,
  lastRestart: "2025-03-01T10:00:00Z",
  restartedBy: "",
  lock: null,
  ...o,
});

function fakeHub(initial: ServiceStatus[]) {
  const current = new Map(initial.map((s) => [serviceId(s.service), s]));
  const listeners = new Set<StatusListener>();
  const touched = new Set<(services: ServiceKey[]) => void>();
  // As the real hub's marks: "<run>.<count>", a service changed after a mark when its count is higher.
  let seq = 0;
  const changedAt = new Map<string, number>();
  const hub: StatusHub = {
    current: (s) => current.get(serviceId(s)),
    all: () => [...current.values()],
    onStatus: (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    onConnection: () => {},
    stale: () => [],
    details: () => ({ pods: [], events: [], history: [], gaps: [] }),
    detailGaps: () => [],
    mark: () => `test.${seq}`,
    changedSince: (s, mark) => !mark.startsWith("test.") || (changedAt.get(serviceId(s)) ?? 0) > Number(mark.slice(5)),
    onTouched: (l) => (touched.add(l), () => void touched.delete(l)),
    // As the real hub: resolves on the first status that shows this restart finished.
    waitForRestart: (s, at, ms) =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve({ outcome: "timeout", status: current.get(serviceId(s)) }), ms);
        const l: StatusListener = (st) => {
          const outcome = restartOutcome(st, at);
          if (!outcome) return;
          clearTimeout(t);
          listeners.delete(l);
          resolve({ outcome, status: st });
        };
        listeners.add(l);
      }),
    waitForSettled: (s, ms) =>
      new Promise((resolve) => {
        const now = settledState(current.get(serviceId(s)));
        if (now) return resolve({ outcome: now, status: current.get(serviceId(s)) });
        const t = setTimeout(() => resolve({ outcome: "timeout", status: current.get(serviceId(s)) }), ms);
        const l: StatusListener = (st) => {
          const outcome = serviceId(st.service) === serviceId(s) ? settledState(st) : undefined;
          if (!outcome) return;
          clearTimeout(t);
          listeners.delete(l);
          resolve({ outcome, status: st });
        };
        listeners.add(l);
      }),
    refresh: () => {},
    updateServices: () => {},
    onRemoved: () => {},
    stop: () => {},
  };
  const push = (s: ServiceStatus) => {
    current.set(serviceId(s.service), s);
    changedAt.set(serviceId(s.service), ++seq);
    listeners.forEach((l) => l(s));
  };
  const touch = (batch: ServiceKey[]) => touched.forEach((l) => l(batch));
  return { hub, push, touch };
}

const running: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.shutdown()));
});

async function start(o: { result?: RestartResult; ready?: boolean; env?: Record<string, string>; problems?: Map<string, string[]>; stale?: string[]; gaps?: string[] } = {}) {
  const env = parseEnv({ LISTEN_ADDRESS: "127.0.0.1:0", LISTEN_MONITORING_ADDRESS: "", ...o.env });
  const { hub, push, touch } = fakeHub([status(WEB), status(DB), status(AGENT)]);
  if (o.stale) hub.stale = () => o.stale!;
  if (o.gaps) hub.detailGaps = () => o.gaps!;
  const metrics = makeMetrics({ version: "test", commit: "abc123" });
  const restarts: RestartRequest[] = [];
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const services = makeServiceSet(CONFIG);
  const deps: AppDeps = {
    env,
    services,
    clusterName: "test-cluster",
    hub,
    metrics,
    authn: await makeAuthn(env.auth, { trustedProxies: env.trustedProxies }),
    flow: {
      restart: async (req) => {
        restarts.push(req);
        return o.result ?? { ok: true, service: WEB, restartedAt: "2025-03-01T10:00:00Z", generation: 7, user: req.identity.user };
      },
      refuse: (req, r) => (logs.push({ level: "warn", msg: "restart", fields: { ...auditRecord(req, r) } }), r),
    },
    ready: () => (o.ready === false ? { state: "not ready", reasons: ["watch caches have not synced yet"] } : { state: "ok", reasons: [] }),
    unusable: () => o.problems ?? new Map(),
    version: "test",
    log: (level, msg, fields) => void logs.push({ level, msg, fields }),
  };
  const app = startServer(deps);
  running.push(app);
  const base = `http://127.0.0.1:${app.server.port}`;
  return { base, ws: base.replace("http", "ws"), push, touch, restarts, logs, app, services, hub };
}

describe("monitoring listener (LISTEN_MONITORING_ADDRESS)", () => {
  test("serves /metrics, /healthz and /readyz only", async () => {
    const { app } = await start({ env: { LISTEN_MONITORING_ADDRESS: "127.0.0.1:0" } });
    const mon = `http://127.0.0.1:${app.monitoring!.port}`;
    expect(await (await fetch(`${mon}/metrics`)).text()).toContain('restart_app_build_info{version="test",commit="abc123"} 1');
    expect((await fetch(`${mon}/healthz`)).status).toBe(200);
    expect((await fetch(`${mon}/readyz`)).status).toBe(200);
    expect((await fetch(`${mon}/`)).status).toBe(404);
    expect((await fetch(`${mon}${RESTART}`, { method: "POST" })).status).toBe(404);
  });
  test("a port already in use stops start-up with an error naming the variable", async () => {
    const { app } = await start();
    const busy = `127.0.0.1:${app.server.port}`;
    await expect(start({ env: { LISTEN_ADDRESS: busy } })).rejects.toThrow(/^LISTEN_ADDRESS: cannot listen on 127\.0\.0\.1:\d+/);
    await expect(start({ env: { LISTEN_MONITORING_ADDRESS: busy } })).rejects.toThrow(/^LISTEN_MONITORING_ADDRESS: cannot listen/);
  });

  test("is off when set to an empty value", async () => {
    const { app } = await start();
    expect(app.monitoring).toBeUndefined();
  });
});

const RESTART = "/api/v1/service/Deployment/shop/web/restart";

describe("pages and API", () => {
  test("GET / is HTML with the security headers and the configured services", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const body = await res.text();
    expect(body).toContain('id="state-deployment_shop_web"');
    expect(body).toContain('hx-post="/api/v1/service/StatefulSet/shop/db/restart"');
  });

  test("GET /api/v1/service lists the services in the original shape", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/api/v1/service`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ services: [{ kind: "Deployment", name: "web", namespace: "shop" }, { kind: "StatefulSet", name: "db", namespace: "shop" }] });
  });

  test("a plain GET of the websocket endpoint is 400", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/api/v1/service/status`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "bad-request" });
  });

  test("GET on a restart path is 405; an unknown path is a JSON 404", async () => {
    const { base, restarts } = await start();
    const res = await fetch(`${base}${RESTART}`);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    const nf = await fetch(`${base}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: "not-found", message: "no route for GET /nope", request_id: nf.headers.get("x-request-id")! });
    expect(restarts).toHaveLength(0);
  });

  test("uniform errors: 405 with Allow, 413, the websocket 400 and 404 are {error,message,request_id} JSON with X-Request-Id", async () => {
    const { base } = await start();
    const shape = async (res: Response, status: number, error: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(["error", "message", "request_id"]);
      expect(body.error).toBe(error);
      expect(body.request_id).toBe(res.headers.get("x-request-id")!);
      return body;
    };
    const m = await shape(await fetch(`${base}${RESTART}`), 405, "method-not-allowed");
    expect(m.message).toContain("allowed: POST");
    await shape(await fetch(`${base}/api/v1/service`, { method: "POST" }), 405, "method-not-allowed");
    await shape(await fetch(`${base}${RESTART}`, { method: "POST", body: "x".repeat(70_000) }), 413, "payload-too-large");
    await shape(await fetch(`${base}/api/v1/service/status`), 400, "bad-request");
    const mine = await fetch(`${base}/nope`, { headers: { "X-Request-Id": "trace-42" } });
    expect((await shape(mine, 404, "not-found")).request_id).toBe("trace-42");
    // A request id that is not safe to echo is replaced.
    const odd = await fetch(`${base}/nope`, { headers: { "X-Request-Id": "<script>" } });
    expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("401: proxy mode does not advertise a Bearer challenge, token mode does", async () => {
    const proxy = await start({ env: { AUTH_MODE: "proxy" } });
    const p = await fetch(`${proxy.base}/api/v1/service`);
    expect(p.status).toBe(401);
    expect(p.headers.get("www-authenticate")).toBeNull();
    expect(Object.keys(await p.json()).sort()).toEqual(["error", "message", "request_id"]);
  });

  test("/healthz is 200; /readyz follows ready()", async () => {
    const a = await start();
    expect((await fetch(`${a.base}/healthz`)).status).toBe(200);
    const ok = await fetch(`${a.base}/readyz`);
    expect([ok.status, await ok.text()]).toEqual([200, "ok\n"]);
    const b = await start({ ready: false });
    const notReady = await fetch(`${b.base}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, "not ready\n- watch caches have not synced yet\n"]);
    const json = await fetch(`${b.base}/readyz?format=json`);
    expect([json.status, await json.json()]).toEqual([503, { status: "not ready", reasons: ["watch caches have not synced yet"] }]);
    expect(await (await fetch(`${a.base}/readyz?format=json`)).json()).toEqual({ status: "ok", reasons: [] });
  });
});

describe("POST restart?wait=<seconds>", () => {
  const AT = "2025-03-01T11:00:00Z";
  const result: RestartResult = { ok: true, service: WEB, restartedAt: AT, generation: 8, user: "" };

  test("answers once the rollout of this restart has settled: 200 complete, 502 failed", async () => {
    for (const [rollout, code] of [["complete", 200], ["failed", 502]] as const) {
      const { base, push } = await start({ result });
      const pending = fetch(`${base}${RESTART}?wait=5`, { method: "POST" });
      await Bun.sleep(50);
      // Still rolling, or settled but still locked: not yet.
      push(status(WEB, { lastRestart: AT, rollout: "progressing" }));
      push(status(WEB, { lastRestart: AT, rollout, lock: { holder: "h", since: AT, expiresAt: AT } }));
      const early = await Promise.race([pending.then(() => "answered"), Bun.sleep(100).then(() => "waiting")]);
      expect(early).toBe("waiting");
      push(status(WEB, { lastRestart: AT, rollout, lock: null }));
      const res = await pending;
      expect(res.status).toBe(code);
      const body = await res.json();
      expect(body.status).toBe(rollout);
      expect(body.rollout.status.rollout).toBe(rollout);
      expect(body.restarted_at).toBe(AT);
    }
  });

  test("a rollout that does not settle in time is 504 with its last status", async () => {
    const { base, push } = await start({ result });
    push(status(WEB, { lastRestart: AT, rollout: "progressing" }));
    const t0 = Date.now();
    const res = await fetch(`${base}${RESTART}?wait=1`, { method: "POST" });
    expect(res.status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const body = await res.json();
    expect(body).toMatchObject({ status: "timeout", error: "rollout-timeout" });
    expect(body.rollout.status.rollout).toBe("progressing");
  });

  test("a malformed wait is 400 and restarts nothing", async () => {
    for (const w of ["abc", "0", "3601", "-1", "1.5"]) {
      const { base, restarts } = await start({ result });
      const res = await fetch(`${base}${RESTART}?wait=${w}`, { method: "POST" });
      expect(res.status, w).toBe(400);
      expect((await res.json()).message).toContain("wait: expected seconds from 1 to 3600");
      expect(restarts).toHaveLength(0);
    }
  });
});

describe("POST restart", () => {
  test("ok → 200 JSON; the request is parsed from the path and headers", async () => {
    const { base, restarts } = await start();
    const res = await fetch(`${base}${RESTART}`, { method: "POST", headers: { "X-Request-Id": "abc-123" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    expect(await res.json()).toEqual({ status: "restarting", service: WEB, restarted_at: "2025-03-01T10:00:00Z", generation: 7, request_id: "abc-123" });
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ kind: "Deployment", namespace: "shop", name: "web", requestId: "abc-123", source: "127.0.0.1" });
    expect(restarts[0]!.identity).toEqual({ user: "", groups: [], authenticated: false });
  });

  test("a client X-Request-Id that is long or not plain is replaced before it reaches the restart flow (and so the audit log) (issue 15 #8)", async () => {
    const { base, restarts } = await start();
    const forged = `x"}\u2028${"a".repeat(70)}`;
    const res = await fetch(`${base}${RESTART}`, { method: "POST", headers: { "X-Request-Id": encodeURIComponent(forged).slice(0, 80) + "%20" } });
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(restarts[0]!.requestId).toBe(id);
  });

  test.each([
    ["bad-request", 400], ["unauthenticated", 401], ["forbidden", 403], ["not-found", 404], ["missing", 404],
    ["paused", 409], ["locked", 423], ["rate-limited", 429], ["upstream", 502], ["unavailable", 503],
  ] as const)("%s → %d", async (reason, code) => {
    const retry = reason === "rate-limited" || reason === "unavailable";
    const result: RestartResult = { ok: false, reason, detail: `because ${reason}`, service: WEB, ...(retry ? { retryAfterSec: 17 } : {}) };
    const { base } = await start({ result });
    const res = await fetch(`${base}${RESTART}`, { method: "POST" });
    expect(res.status).toBe(code);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: reason, message: `because ${reason}` });
    expect(res.headers.get("retry-after")).toBe(retry ? "17" : null);
  });

  test("HX-Request gets an HTML flash fragment, escaped, with the same status", async () => {
    const ok = await start();
    const res = await fetch(`${ok.base}${RESTART}`, { method: "POST", headers: { "HX-Request": "true", "Sec-Fetch-Site": "same-origin" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html).toContain('class="flash flash-ok" role="status"');
    // Names its restart, so the page drops it once the card shows how that very restart ended.
    expect(html).toContain('data-restarted-at="2025-03-01T10:00:00Z"');
    expect(html).toContain("Restart of Deployment shop/web started");
    const locked = await start({ result: { ok: false, reason: "locked", detail: "a restart of <web> is already in progress", service: WEB } });
    const lr = await fetch(`${locked.base}${RESTART}`, { method: "POST", headers: { "HX-Request": "true" } });
    expect(lr.status).toBe(423);
    const lh = await lr.text();
    expect(lh).toContain('class="flash flash-warn" role="alert"');
    expect(lh).toContain("a restart of &lt;web&gt; is already in progress");
  });

  test.each([
    ["Sec-Fetch-Site: cross-site", { "Sec-Fetch-Site": "cross-site" }],
    ["Origin http://evil.example", { Origin: "http://evil.example" }],
  ])("cross-site (%s) → 403 and restart() is not called", async (_label, headers) => {
    const { base, restarts, logs } = await start();
    const res = await fetch(`${base}${RESTART}`, { method: "POST", headers });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "forbidden" });
    expect(restarts).toHaveLength(0);
    expect(logs.find((l) => l.msg === "restart")?.fields).toMatchObject({ audit: true, outcome: "forbidden" });
  });

  test("a trusted origin may POST", async () => {
    const { base, restarts } = await start({ env: { TRUSTED_ORIGINS: "https://portal.example.com" } });
    const res = await fetch(`${base}${RESTART}`, { method: "POST", headers: { Origin: "https://portal.example.com", "Sec-Fetch-Site": "cross-site" } });
    expect(res.status).toBe(200);
    expect(restarts).toHaveLength(1);
  });

  test("proxy auth without an identity → 401 and restart() is not called", async () => {
    const { base, restarts } = await start({ env: { AUTH_MODE: "proxy" } });
    const res = await fetch(`${base}${RESTART}`, { method: "POST", headers: { "X-Request-Id": "trace-401" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toBe("trace-401");
    expect(restarts).toHaveLength(0);
    const ok = await fetch(`${base}${RESTART}`, { method: "POST", headers: { "X-Forwarded-User": "alice", "X-Forwarded-Groups": "ops,sre" } });
    expect(ok.status).toBe(200);
    expect(restarts[0]!.identity).toEqual({ user: "alice", groups: ["ops", "sre"], authenticated: true });
  });

  test("/metrics counts restarts and failed restarts per service", async () => {
    const ok = await start();
    await fetch(`${ok.base}${RESTART}`, { method: "POST" });
    await fetch(`${ok.base}${RESTART}`, { method: "POST" });
    const text = await (await fetch(`${ok.base}/metrics`)).text();
    expect(text).toContain('restart_app_restarts_total{kind="Deployment",namespace="shop",name="web"} 2');
    expect(text).toContain('restart_app_build_info{version="test",commit="abc123"} 1');
    expect(text).not.toContain('restart_app_restarts_failed_total{kind="Deployment"');
    expect(text).toContain('restart_app_restart_requests_total{kind="Deployment",namespace="shop",name="web",outcome="restarted"} 2');
    // A refusal (423) is not a failed restart, as in the original; it is counted by outcome.
    const locked = await start({ result: { ok: false, reason: "locked", detail: "busy", service: WEB } });
    await fetch(`${locked.base}${RESTART}`, { method: "POST" });
    const text2 = await (await fetch(`${locked.base}/metrics`)).text();
    expect(text2).not.toContain('restart_app_restarts_failed_total{kind="Deployment"');
    expect(text2).toContain('restart_app_restart_requests_total{kind="Deployment",namespace="shop",name="web",outcome="locked"} 1');
    const failed = await start({ result: { ok: false, reason: "upstream", detail: "patch failed", service: WEB } });
    await fetch(`${failed.base}${RESTART}`, { method: "POST" });
    const text3 = await (await fetch(`${failed.base}/metrics`)).text();
    expect(text3).toContain('restart_app_restarts_failed_total{kind="Deployment",namespace="shop",name="web"} 1');
    expect(text3).toContain('restart_app_restart_requests_total{kind="Deployment",namespace="shop",name="web",outcome="upstream"} 1');
    // A request refused before the flow names no configured service: empty labels, bounded cardinality.
    await fetch(`${failed.base}${RESTART}`, { method: "POST", headers: { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" } });
    expect(await (await fetch(`${failed.base}/metrics`)).text()).toContain('restart_app_restart_requests_total{kind="",namespace="",name="",outcome="forbidden"} 1');
  });

  test("/metrics times a restart's rollout until it settles; the connected watchers gauge has no labels", async () => {
    const a = await start();
    await fetch(`${a.base}${RESTART}`, { method: "POST" });
    a.push(status(WEB, { lastRestart: "2025-03-01T10:00:00Z", rollout: "complete", message: "done" }));
    const c = await connect(`${a.ws}/api/v1/service/status`);
    await c.opened;
    const text = await (await fetch(`${a.base}/metrics`)).text();
    expect(text).toContain('restart_app_rollout_duration_seconds_count{kind="Deployment",outcome="complete"} 1');
    expect(text).toMatch(/^restart_app_connected_status_watchers 1$/m);
    expect(text).toContain('restart_app_service_status_watchers{kind="Deployment",namespace="shop",name="web"} 1');
    c.ws.close();
  });
});

type WsOptions = { headers?: Record<string, string> };
const openSocket = (url: string, opts: WsOptions = {}) => new (WebSocket as unknown as new (u: string, o: WsOptions) => WebSocket)(url, opts);

/** Opens a websocket and collects its messages; resolves once open or rejects on error/close. */
function connect(url: string, opts: WsOptions = {}) {
  const messages: string[] = [];
  const ws = openSocket(url, opts);
  ws.addEventListener("message", (e) => messages.push(String((e as MessageEvent).data)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error("websocket error")));
    ws.addEventListener("close", (e) => reject(new Error(`websocket closed ${(e as CloseEvent).code}`)));
  });
  return { ws, messages, opened };
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await Bun.sleep(2)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describe("websockets", () => {
  test("the status socket sends the full state on open, then pushed changes", async () => {
    const { ws: wsBase, push } = await start();
    const c = connect(`${wsBase}/api/v1/service/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 2);
    const first = c.messages.map((m) => JSON.parse(m));
    expect(first).toEqual([wireStatus(status(WEB)), wireStatus(status(DB))]);
    expect(Object.keys(first[0]).slice(0, 3)).toEqual(["kind_namespace_name", "status", "is_locked"]);
    expect(first[0].status).toMatchObject({ message: "", rollout_message: 'deployment "web" successfully rolled out', pod_status: { Running: 2 }, last_restart: "2025-03-01T10:00:00Z" });

    const changed = status(WEB, { rollout: "progressing", message: "Waiting for 1 pods", podStatus: { Running: 2, Pending: 1 } });
    push(changed);
    await until("pushed change", () => c.messages.length === 3);
    expect(JSON.parse(c.messages[2]!)).toEqual(wireStatus(changed));
    c.ws.close();
  });

  test("a per-service socket only receives that service", async () => {
    const { ws: wsBase, push } = await start();
    const c = connect(`${wsBase}/api/v1/service/StatefulSet/shop/db/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 1);
    push(status(WEB, { message: "web changed" }));
    push(status(DB, { message: "db changed" }));
    await until("db change", () => c.messages.length === 2);
    await Bun.sleep(20);
    expect(c.messages.map((m) => JSON.parse(m).status.rollout_message)).toEqual(['statefulset "db" successfully rolled out', "db changed"]);
    c.ws.close();
  });

  test("the HTML socket sends out-of-band fragments for the page", async () => {
    const { ws: wsBase } = await start();
    const c = connect(`${wsBase}/ui/status`);
    await c.opened;
    // One message per service, then the banner (issue 15 #17: fed as fast as the client reads).
    await until("full state", () => c.messages.length === 3);
    expect(c.messages[0]).toMatch(/id="state-deployment_shop_web" data-rollout="complete" data-locked="false"[^>]* hx-swap-oob="true"/);
    expect(c.messages[1]).toContain('id="state-statefulset_shop_db"');
    expect(c.messages[2]).toContain('id="banner-stale"');
    c.ws.close();
  });

  test("view lists apply to the status sockets", async () => {
    const { ws: wsBase, base } = await start({ env: { AUTH_MODE: "proxy" } });
    const carol = connect(`${wsBase}/api/v1/service/status`, { headers: { "X-Forwarded-User": "carol" } });
    await carol.opened;
    await until("carol's full state", () => carol.messages.length === 3);
    const bob = connect(`${wsBase}/api/v1/service/status`, { headers: { "X-Forwarded-User": "bob" } });
    await bob.opened;
    await until("bob's full state", () => bob.messages.length === 2);
    await Bun.sleep(20);
    expect(bob.messages.map((m) => JSON.parse(m).kind_namespace_name.name)).toEqual(["web", "db"]);
    carol.ws.close();
    bob.ws.close();
    // A hidden service's own socket answers like an unconfigured one.
    const upgrade = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" };
    const hidden = await fetch(`${base}/api/v1/service/DaemonSet/ops/agent/status`, { headers: { ...upgrade, "X-Forwarded-User": "bob" } });
    const unknown = await fetch(`${base}/api/v1/service/DaemonSet/ops/nope/status`, { headers: { ...upgrade, "X-Forwarded-User": "bob" } });
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect((await hidden.json()).error).toBe("not-found");
  });

  test("a websocket with a foreign Origin is refused", async () => {
    const { ws: wsBase, base } = await start();
    const c = connect(`${wsBase}/api/v1/service/status`, { headers: { Origin: "http://evil.example" } });
    await expect(c.opened).rejects.toThrow();
    expect(c.messages).toEqual([]);
    // The same refusal seen as plain HTTP.
    const res = await fetch(`${base}/api/v1/service/status`, {
      headers: { Upgrade: "websocket", Connection: "Upgrade", Origin: "http://evil.example", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: "forbidden" });
  });
});

/** Sends raw bytes to a listener and returns the status code of the answer. */
async function rawStatus(port: number, bytes: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 40))}`)), 3000);
    void Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(sock, d) {
          got += new TextDecoder().decode(d);
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
          if (m) {
            clearTimeout(timer);
            sock.end();
            resolve(Number(m[1]));
          }
        },
        open: (sock) => void sock.write(bytes),
      },
    });
  });
}

describe("HTTP/1.0 without Host (issue 15 #16)", () => {
  test("every route of both listeners answers, never 500", async () => {
    const { app, logs } = await start({ env: { LISTEN_MONITORING_ADDRESS: "127.0.0.1:0" } });
    const main = app.server.port!;
    const mon = app.monitoring!.port!;
    const routes = ["GET /", "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/service", "GET /api/v1/service/status", "GET /ui/status", "GET /static/app.css", `POST ${RESTART}`, `POST ${RESTART}?wait=abc`, "GET /api/v1/service/Deployment/shop/web/status", "GET /?q=web", "GET /ui/status?since=x.1", "GET /service/Deployment/shop/web", "GET /ui/service/Deployment/shop/web/details", "GET /ui/service/Deployment/shop/web/details/live", "GET /ui/service/Deployment/shop/web/status", "GET /nope"];
    const seen: string[] = [];
    for (const r of routes) {
      for (const [name, port] of [["main", main], ["monitoring", mon]] as const) {
        const code = await rawStatus(port, `${r} HTTP/1.0\r\n\r\n`);
        seen.push(`${name} ${r} ${code}`);
        expect(code, `${name} ${r}`).toBeLessThan(500);
      }
    }
    expect(seen).toContain("main GET /healthz 200");
    expect(seen).toContain("monitoring GET /metrics 200");
    expect(seen).toContain(`main POST ${RESTART} 200`);
    expect(logs.filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("ALLOWED_HOSTS on the listener (issue 15 #4)", () => {
  test("a browser request with a foreign Host gets 403 naming ALLOWED_HOSTS for the page, the API, a restart and a websocket; curl is unaffected", async () => {
    const { app, restarts } = await start();
    const port = app.server.port!;
    const evil = "Host: evil.example:8080\r\nOrigin: http://evil.example:8080\r\n";
    expect(await rawStatus(port, `GET / HTTP/1.1\r\n${evil}\r\n`)).toBe(403);
    expect(await rawStatus(port, `GET /api/v1/service HTTP/1.1\r\n${evil}Sec-Fetch-Site: same-origin\r\n\r\n`)).toBe(403);
    expect(await rawStatus(port, `POST ${RESTART} HTTP/1.1\r\n${evil}Sec-Fetch-Site: same-origin\r\nContent-Length: 0\r\n\r\n`)).toBe(403);
    expect(await rawStatus(port, `GET /ui/status HTTP/1.1\r\n${evil}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`)).toBe(403);
    expect(restarts).toHaveLength(0);
    // Without browser headers (curl): not checked.
    expect(await rawStatus(port, "GET /api/v1/service HTTP/1.1\r\nHost: evil.example\r\n\r\n")).toBe(200);
    // The app's own names pass.
    expect(await rawStatus(port, `GET / HTTP/1.1\r\nHost: localhost:${port}\r\nSec-Fetch-Site: none\r\n\r\n`)).toBe(200);
    const body = await (await fetch(`http://127.0.0.1:${port}/api/v1/service`, { headers: { Host: "evil.example", Origin: "http://evil.example" } })).json();
    expect(body).toMatchObject({ error: "forbidden", message: expect.stringContaining("ALLOWED_HOSTS") });
  });
});

describe("hidden services do not leak (issue 15 #5)", () => {
  test("the permission banner names only services the viewer may see; the stale banner names no watch path", async () => {
    const problems = new Map([
      ["DaemonSet/ops/agent", ["patch daemonsets.apps/agent in namespace ops"]],
      ["Deployment/shop/web", ["patch deployments.apps/web in namespace shop"]],
    ]);
    const { base } = await start({ env: { AUTH_MODE: "proxy" }, problems, stale: ["/apis/apps/v1/namespaces/ops/daemonsets (connection refused)"] });
    const bob = await (await fetch(`${base}/`, { headers: { "X-Forwarded-User": "bob", Accept: "text/html" } })).text();
    expect(bob).toContain("Deployment/shop/web");
    expect(bob).not.toContain("agent");
    expect(bob).not.toContain("namespaces/ops");
    expect(bob).toContain("Lost the connection to the Kubernetes API; retrying");
    const carol = await (await fetch(`${base}/`, { headers: { "X-Forwarded-User": "carol", Accept: "text/html" } })).text();
    expect(carol).toContain("DaemonSet/ops/agent");
  });

  test("with AUTH_MODE≠none /metrics on the main port needs an identity; the monitoring listener stays open", async () => {
    const { base, app } = await start({ env: { AUTH_MODE: "proxy", LISTEN_MONITORING_ADDRESS: "127.0.0.1:0" } });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { "X-Forwarded-User": "prometheus" } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${app.monitoring!.port}/metrics`)).status).toBe(200);
    const open = await start();
    expect((await fetch(`${open.base}/metrics`)).status).toBe(200);
  });

  test("GET …/status answers the same for an unknown and a hidden service, with or without Upgrade", async () => {
    const { base } = await start({ env: { AUTH_MODE: "proxy" } });
    const bob = { "X-Forwarded-User": "bob" };
    const upgrade = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" };
    for (const h of [bob, { ...bob, ...upgrade }]) {
      const hidden = await fetch(`${base}/api/v1/service/DaemonSet/ops/agent/status`, { headers: h });
      const unknown = await fetch(`${base}/api/v1/service/DaemonSet/ops/nope/status`, { headers: h });
      expect(hidden.status).toBe(unknown.status);
      const [a, b] = [(await hidden.json()) as { message: string }, (await unknown.json()) as { message: string }];
      expect(a.message.replace("agent", "X")).toBe(b.message.replace("nope", "X"));
    }
  });
});

describe("websocket lifetimes (issue 15 #6)", () => {
  test("AUTH_MODE=proxy: a socket is closed with 1001 after AUTH_PROXY_WEBSOCKET_LIFETIME_SEC so htmx reconnects through the proxy", async () => {
    const { ws } = await start({ env: { AUTH_MODE: "proxy", AUTH_PROXY_WEBSOCKET_LIFETIME_SEC: "1" } });
    const c = connect(`${ws}/api/v1/service/status`, { headers: { "X-Forwarded-User": "bob" } });
    await c.opened;
    const code = await new Promise<number>((r) => c.ws.addEventListener("close", (e) => r((e as CloseEvent).code)));
    expect(code).toBe(1001);
  });

  test("AUTH_MODE=token: removing a token from the file closes its sockets (1008); others stay open", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "routes-tokens-"));
    const file = join(dir, "tokens.yaml");
    const A = "token-alice-0123456789abcdef";
    const B = "token-bob-0123456789abcdefgh";
    writeFileSync(file, `- {token: ${A}, user: alice}\n- {token: ${B}, user: bob}\n`);
    const { ws } = await start({ env: { AUTH_MODE: "token", AUTH_TOKENS_FILE: file } });
    const alice = connect(`${ws}/api/v1/service/status`, { headers: { Authorization: `Bearer ${A}` } });
    const bob = connect(`${ws}/api/v1/service/status`, { headers: { Authorization: `Bearer ${B}` } });
    await Promise.all([alice.opened, bob.opened]);
    const bobClosed = new Promise<number>((r) => bob.ws.addEventListener("close", (e) => r((e as CloseEvent).code)));
    let aliceClosed = false;
    alice.ws.addEventListener("close", () => (aliceClosed = true));
    writeFileSync(file, `- {token: ${A}, user: alice}\n`);
    expect(await bobClosed).toBe(1008);
    expect(aliceClosed).toBe(false);
    alice.ws.close();
  });
});

describe("websocket memory bounds on the listener (issue 15 #17)", () => {
  test("WEBSOCKET_MAX_PER_ADDRESS caps open sockets per client address (429), and closing one frees a slot", async () => {
    const { ws: wsBase, base } = await start({ env: { WEBSOCKET_MAX_PER_ADDRESS: "2" } });
    const a = connect(`${wsBase}/api/v1/service/status`);
    const b = connect(`${wsBase}/api/v1/service/status`);
    await Promise.all([a.opened, b.opened]);
    const upgrade = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" };
    const third = await fetch(`${base}/api/v1/service/status`, { headers: upgrade });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { message: string }).message).toContain("WEBSOCKET_MAX_PER_ADDRESS=2");
    a.ws.close();
    await Bun.sleep(50);
    const again = connect(`${wsBase}/api/v1/service/status`);
    await again.opened;
    again.ws.close();
    b.ws.close();
  });

  test("sockets that see everything share one topic; a change reaches them once each", async () => {
    const { ws: wsBase, push } = await start();
    const c = connect(`${wsBase}/api/v1/service/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 2);
    push(status(WEB, { ready: 1 }));
    await until("the change", () => c.messages.length === 3);
    await Bun.sleep(20);
    expect(c.messages).toHaveLength(3);
    expect(JSON.parse(c.messages[2]!).status.ready).toBe(1);
    c.ws.close();
  });
});

describe("restart_app_service_status_watchers with shared plans (issue 15 #17)", () => {
  test("counts every socket per service, shared-plan and single-service alike, and goes down on close", async () => {
    const { ws: wsBase, base } = await start();
    const value = async (name: string) => Number(new RegExp(`restart_app_service_status_watchers\\{[^}]*name="${name}"[^}]*\\} (\\d+)`).exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? -1);
    const a = connect(`${wsBase}/api/v1/service/status`);
    const b = connect(`${wsBase}/ui/status`);
    const c = connect(`${wsBase}/api/v1/service/Deployment/shop/web/status`);
    await Promise.all([a.opened, b.opened, c.opened]);
    expect(await value("web")).toBe(3);
    expect(await value("db")).toBe(2);
    c.ws.close();
    a.ws.close();
    await until("closed", () => a.ws.readyState === WebSocket.CLOSED && c.ws.readyState === WebSocket.CLOSED);
    await Bun.sleep(30);
    expect(await value("web")).toBe(1);
    b.ws.close();
  });
});

describe("rights lost while running are shown live (issue 15 #9)", () => {
  test("refreshCards pushes every card again, now marked unusable", async () => {
    const problems = new Map<string, string[]>();
    const { ws: wsBase, app } = await start({ problems });
    const c = connect(`${wsBase}/ui/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 3);
    problems.set("Deployment/shop/web", ["patch deployments.apps/web in namespace shop"]);
    app.refreshCards();
    await until("the pushed card", () => c.messages.length > 3);
    expect(c.messages.slice(3).join("\n")).toContain("Unavailable: the app lacks permissions for this service");
    c.ws.close();
  });
});

describe("open sockets follow the service set (shared plans rebuilt, issue 12 × issue 15)", () => {
  const CACHE: ServiceKey = { kind: "Deployment", namespace: "shop", name: "cache" };
  const NEXT: ConfigFile = { services: [{ ...WEB }, { ...CACHE }, { ...AGENT, viewUsers: ["carol"] }] };

  test("JSON sockets get a removal for a service gone and a status for one added; the per-service socket of the removed one is closed", async () => {
    const { ws: wsBase, push, services } = await start();
    const all = connect(`${wsBase}/api/v1/service/status`);
    const same = connect(`${wsBase}/api/v1/service/status`);
    const db = connect(`${wsBase}/api/v1/service/StatefulSet/shop/db/status`);
    await Promise.all([all.opened, same.opened, db.opened]);
    await until("full state", () => all.messages.length === 2 && same.messages.length === 2 && db.messages.length === 1);
    let closed = 0;
    db.ws.addEventListener("close", (e) => void (closed = (e as CloseEvent).code));
    push(status(CACHE));
    services.replace(NEXT);
    await until("removal and addition", () => all.messages.length === 4 && same.messages.length === 4);
    for (const c of [all, same]) {
      const [gone, added] = c.messages.slice(2).map((m) => JSON.parse(m));
      expect(gone).toMatchObject({ kind_namespace_name: { name: "db" }, removed: true, status: { rollout: "removed" } });
      expect(added).toEqual(wireStatus(status(CACHE)));
    }
    await until("db socket closed", () => closed !== 0);
    expect(closed).toBe(1000);
    expect(JSON.parse(db.messages.at(-1)!)).toMatchObject({ removed: true });
    // The moved sockets are subscribed to the new service and no longer to the old one.
    push(status(CACHE, { ready: 1 }));
    push(status(DB, { ready: 0 }));
    await until("cache change", () => all.messages.length === 5);
    await Bun.sleep(20);
    expect(all.messages.slice(4).map((m) => JSON.parse(m).kind_namespace_name.name)).toEqual(["cache"]);
    all.ws.close();
    same.ws.close();
  });

  test("the page's socket gets its card list re-rendered (no out-of-band markers) with the new service, then the banners", async () => {
    const { ws: wsBase, push, services } = await start();
    const c = connect(`${wsBase}/ui/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 3);
    push(status(CACHE));
    services.replace(NEXT);
    await until("re-render", () => c.messages.length === 5);
    const groups = c.messages[3]!;
    expect(groups).toContain("state-deployment_shop_cache");
    expect(groups).not.toContain("state-statefulset_shop_db");
    expect(groups).not.toContain("agent");
    expect(groups).not.toContain("hx-swap-oob");
    expect(c.messages[4]).toContain('id="banner-stale"');
    c.ws.close();
  });

  test("a viewer who may no longer see a service loses it; the watcher gauge follows", async () => {
    const { ws: wsBase, base, services } = await start({ env: { AUTH_MODE: "proxy" } });
    const value = async (name: string) => Number(new RegExp(`restart_app_service_status_watchers\\{[^}]*name="${name}"[^}]*\\} (\\d+)`).exec(await (await fetch(`${base}/metrics`, { headers: { "X-Forwarded-User": "carol" } })).text())?.[1] ?? -1);
    const carol = connect(`${wsBase}/api/v1/service/status`, { headers: { "X-Forwarded-User": "carol" } });
    await carol.opened;
    await until("carol's full state", () => carol.messages.length === 3);
    expect(await value("agent")).toBe(1);
    services.replace({ services: [{ ...WEB }, { ...DB }, { ...AGENT, viewUsers: ["dave"] }] });
    await until("agent hidden", () => carol.messages.length === 4);
    expect(JSON.parse(carol.messages[3]!)).toMatchObject({ kind_namespace_name: { name: "agent" }, removed: true });
    expect(await value("agent")).toBe(0);
    expect(await value("web")).toBe(1);
    carol.ws.close();
  });
});

describe("?wait with Accept: application/x-ndjson", () => {
  test("a quiet rollout still sends a line every WATCH_INTERVAL, then the outcome line", async () => {
    const a = await start({ env: { WATCH_INTERVAL: "1" } });
    a.push(status(WEB, { rollout: "progressing", message: "Waiting" }));
    const res = await fetch(`${a.base}/api/v1/service/Deployment/shop/web?wait=3`, { headers: { Accept: "application/x-ndjson" } });
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    // The current status at once, a repeat each quiet second, the outcome last.
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.slice(0, -1).every((l) => l.status.rollout === "progressing")).toBe(true);
    expect(lines.at(-1)).toMatchObject({ status: "timeout", error: "rollout-timeout", service: WEB });
  });
});

describe("LOG_LEVEL=debug access lines", () => {
  test("one debug line per API request with method, path, status, duration and the request id; none for the page's assets or health", async () => {
    const a = await start();
    const res = await fetch(`${a.base}/api/v1/service/Deployment/shop/nope`, { headers: { "X-Request-Id": "abc-1" } });
    await fetch(`${a.base}/healthz`);
    const lines = a.logs.filter((l) => l.msg === "request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "debug", fields: { method: "GET", path: "/api/v1/service/Deployment/shop/nope", status: res.status, request_id: "abc-1" } });
    expect(typeof lines[0]!.fields!.ms).toBe("number");
  });
});

describe("the JSON stream's WATCH_INTERVAL re-send through the shared topics (issue 10 × issue 15 #17)", () => {
  test("every JSON socket, shared-plan and single-service alike, gets each status again each interval; the page's stream stays change-only", async () => {
    const { ws: wsBase } = await start({ env: { WATCH_INTERVAL: "1" } });
    const all = connect(`${wsBase}/api/v1/service/status`);
    const one = connect(`${wsBase}/api/v1/service/Deployment/shop/web/status`);
    const page = connect(`${wsBase}/ui/status`);
    await Promise.all([all.opened, one.opened, page.opened]);
    await until("full state", () => all.messages.length === 2 && one.messages.length === 1 && page.messages.length > 0);
    const pageAt = page.messages.length;
    await until("two re-sends", () => all.messages.length >= 6 && one.messages.length >= 3, 4000);
    expect(all.messages.slice(2, 4).map((m) => JSON.parse(m).kind_namespace_name.name).sort()).toEqual(all.messages.slice(0, 2).map((m) => JSON.parse(m).kind_namespace_name.name).sort());
    expect(one.messages.every((m) => m === one.messages[0])).toBe(true);
    expect(page.messages.length).toBe(pageAt);
    for (const c of [all, one, page]) c.ws.close();
  });
});

describe("issue 10's JSON features follow issue 12's service set", () => {
  const CACHE: ServiceKey = { kind: "Deployment", namespace: "shop", name: "cache" };
  const NEXT: ConfigFile = { services: [{ ...WEB }, { ...CACHE }, { ...AGENT }] };

  test("the WATCH_INTERVAL re-send follows a service-set change: the added service is re-sent, the removed one no longer", async () => {
    const { ws: wsBase, push, services } = await start({ env: { WATCH_INTERVAL: "1" } });
    const all = connect(`${wsBase}/api/v1/service/status`);
    await all.opened;
    await until("full state", () => all.messages.length >= 2);
    push(status(CACHE));
    services.replace(NEXT);
    await until("removal and addition", () => all.messages.some((m) => JSON.parse(m).removed) && all.messages.some((m) => JSON.parse(m).kind_namespace_name.name === "cache"));
    await Bun.sleep(1200);
    const at = all.messages.length;
    await until("a whole re-send round after the change", () => all.messages.length >= at + 6, 4000);
    const resent = all.messages.slice(at).map((m) => JSON.parse(m));
    expect(new Set(resent.map((m) => m.kind_namespace_name.name))).toEqual(new Set(["web", "cache", "agent"]));
    expect(resent.some((m) => m.kind_namespace_name.name === "db" || m.removed)).toBe(false);
    all.ws.close();
  });

  test("the snapshot reads the current set: an added service answers, a removed one is not found", async () => {
    const { base, push, services } = await start();
    expect((await fetch(`${base}/api/v1/service/Deployment/shop/cache`)).status).toBe(404);
    push(status(CACHE));
    services.replace(NEXT);
    const added = await fetch(`${base}/api/v1/service/Deployment/shop/cache`);
    expect(added.status).toBe(200);
    expect(await added.json()).toEqual({ ...wireStatus(status(CACHE)), pods: [], events: [], history: [], missing_permissions: [] });
    const gone = await fetch(`${base}/api/v1/service/StatefulSet/shop/db`);
    expect(gone.status).toBe(404);
    expect((await gone.json()).error).toBe("not-found");
  });
});

describe("details, permalink and the cluster name", () => {
  const DETAILS = "/ui/service/Deployment/shop/web/details";

  test("a details socket follows the service set (issue 12): closed, without a JSON removal, when its service is removed or hidden from its viewer", async () => {
    const { ws: wsBase, services } = await start({ env: { AUTH_MODE: "proxy" } });
    const carol = { headers: { "X-Forwarded-User": "carol" } };
    const db = connect(`${wsBase}/ui/service/StatefulSet/shop/db/details/live`, carol);
    const agent = connect(`${wsBase}/ui/service/DaemonSet/ops/agent/details/live`, carol);
    const web = connect(`${wsBase}/ui/service/Deployment/shop/web/details/live`, carol);
    await Promise.all([db.opened, agent.opened, web.opened]);
    await until("details bodies", () => db.messages.length === 1 && agent.messages.length === 1 && web.messages.length === 1);
    const closed = new Map<string, number>();
    for (const [name, c] of [["db", db], ["agent", agent], ["web", web]] as const) c.ws.addEventListener("close", (e) => void closed.set(name, (e as CloseEvent).code));
    // db leaves the list; agent stays but carol may no longer see it; web is untouched.
    services.replace({ services: [{ ...WEB }, { ...AGENT, viewUsers: ["dave"] }] });
    await until("db and agent panels closed", () => closed.has("db") && closed.has("agent"));
    expect([closed.get("db"), closed.get("agent")]).toEqual([1000, 1000]);
    expect([db.messages.length, agent.messages.length]).toEqual([1, 1]);
    await Bun.sleep(30);
    expect(closed.has("web")).toBe(false);
    web.ws.close();
  });

  test("the details fragment opens in place with its own live socket; JSON when asked for", async () => {
    const { base } = await start();
    const res = await fetch(`${base}${DETAILS}`, { headers: { "HX-Request": "true" } });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('hx-ws:connect="/ui/service/Deployment/shop/web/details/live"');
    expect(body).toContain("No pods.");
    expect(body).not.toContain("<html");
    const j = await fetch(`${base}${DETAILS}`, { headers: { Accept: "application/json" } });
    expect(await j.json()).toEqual({ pods: [], events: [], history: [], missing_permissions: [] });
  });

  test("a service that is not configured, or hidden from the caller, is a 404 everywhere; a bad kind is 400", async () => {
    const { base } = await start({ env: { AUTH_MODE: "proxy" } });
    const bob = { "X-Forwarded-User": "bob" };
    for (const path of ["/ui/service/DaemonSet/ops/agent/details", "/service/DaemonSet/ops/agent", "/ui/service/Deployment/shop/api/details", "/service/Deployment/shop/api"]) {
      expect((await fetch(`${base}${path}`, { headers: bob })).status, path).toBe(404);
    }
    expect((await fetch(`${base}/ui/service/DaemonSet/ops/agent/details`, { headers: { "X-Forwarded-User": "carol" } })).status).toBe(200);
    expect((await fetch(`${base}/ui/service/Pod/shop/web/details`, { headers: bob })).status).toBe(400);
  });

  test("the permalink page shows the one service with its details open, on its own stream, titled with the cluster", async () => {
    const { base } = await start();
    const page = await (await fetch(`${base}/service/Deployment/shop/web`)).text();
    expect(page).toContain("<title>Deployment shop/web · test-cluster · k8s-restart-app</title>");
    expect(page).toContain('hx-ws:connect="/ui/service/Deployment/shop/web/status?since=test.0"');
    expect(page).toContain('id="details-panel-deployment_shop_web"');
    expect(page).not.toContain('id="svc-statefulset_shop_db"');
    const home = await (await fetch(`${base}/?q=shop%20we`)).text();
    expect(home).toContain("<title>Restart services · test-cluster · k8s-restart-app</title>");
    expect(home).toContain('value="shop we"');
  });

  test("a page's socket sends only the cards changed since the page's mark, plus the banner", async () => {
    const { ws: wsBase } = await start();
    const fresh = connect(`${wsBase}/ui/status?since=test.0`);
    await fresh.opened;
    await until("first message", () => fresh.messages.length === 1);
    expect(fresh.messages[0]).toContain('id="banner-stale"');
    expect(fresh.messages[0]).not.toContain('id="state-');
    const old = connect(`${wsBase}/ui/status?since=otherrun.5`);
    await old.opened;
    // One message per card (issue 15 #17), then the banner.
    await until("every card", () => old.messages.length === 3);
    expect(old.messages[0]).toContain('id="state-deployment_shop_web"');
    fresh.ws.close();
    old.ws.close();
  });

  test("the details socket sends the panel body on open and is not counted as a status watcher", async () => {
    const { base, ws: wsBase } = await start();
    const c = connect(`${wsBase}${DETAILS}/live`);
    await c.opened;
    await until("details body", () => c.messages.length === 1);
    expect(c.messages[0]).toContain("Restart history");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/restart_app_connected_status_watchers\{[^}]*name="web"[^}]*\} 1/);
    c.ws.close();
  });

  test("the page's socket from its render mark sends only the cards changed since, then the banner", async () => {
    const { base, ws: wsBase, push } = await start();
    const page = await (await fetch(`${base}/`)).text();
    const since = /hx-ws:connect="\/ui\/status\?since=([^"]+)"/.exec(page)?.[1];
    expect(since).toBe("test.0");
    const quiet = connect(`${wsBase}/ui/status?since=${since}`);
    await quiet.opened;
    await until("banner", () => quiet.messages.length === 1);
    expect(quiet.messages[0]).toContain('id="banner-stale"');
    push(status(DB, { ready: 1 }));
    const later = connect(`${wsBase}/ui/status?since=${since}`);
    await later.opened;
    await until("db card and banner", () => later.messages.length === 2);
    expect(later.messages[0]).toContain('id="state-statefulset_shop_db"');
    expect(later.messages[1]).toContain('id="banner-stale"');
    // A mark of another run, or none, gets every card.
    const other = connect(`${wsBase}/ui/status?since=elsewhere.9`);
    await other.opened;
    await until("everything", () => other.messages.length === 3);
    for (const c of [quiet, later, other]) c.ws.close();
  });

  test("a details socket is one more socket under the per-address cap, and gets the body again when its service is touched", async () => {
    const { base, ws: wsBase, touch, hub } = await start({ env: { WEBSOCKET_MAX_PER_ADDRESS: "2" } });
    const a = connect(`${wsBase}/ui/service/Deployment/shop/web/details/live`);
    const b = connect(`${wsBase}/ui/status`);
    await Promise.all([a.opened, b.opened]);
    await until("details body", () => a.messages.length === 1);
    const upgrade = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" };
    const third = await fetch(`${base}/ui/service/Deployment/shop/web/details/live`, { headers: upgrade });
    expect(third.status).toBe(429);
    hub.details = () => ({ pods: [], events: [], history: [], gaps: ["events in shop"] });
    touch([WEB]);
    await until("new body", () => a.messages.length === 2);
    expect(a.messages[1]).not.toBe(a.messages[0]);
    // Touching another service sends nothing to this panel.
    touch([DB]);
    await Bun.sleep(30);
    expect(a.messages).toHaveLength(2);
    a.ws.close();
    b.ws.close();
  });

  test("a details socket answers the same for an unknown and a hidden service, and refuses a cross-site origin", async () => {
    const { base } = await start({ env: { AUTH_MODE: "proxy" } });
    const bob = { "X-Forwarded-User": "bob" };
    const upgrade = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" };
    for (const route of ["details/live", "status"]) {
      const hidden = await fetch(`${base}/ui/service/DaemonSet/ops/agent/${route}`, { headers: { ...bob, ...upgrade } });
      const unknown = await fetch(`${base}/ui/service/DaemonSet/ops/nope/${route}`, { headers: { ...bob, ...upgrade } });
      expect(hidden.status).toBe(404);
      expect(unknown.status).toBe(404);
      const [x, y] = [(await hidden.json()) as { message: string }, (await unknown.json()) as { message: string }];
      expect(x.message.replace("agent", "X")).toBe(y.message.replace("nope", "X"));
    }
    const evil = await fetch(`${base}/ui/service/Deployment/shop/web/details/live`, { headers: { ...bob, ...upgrade, Origin: "http://evil.example" } });
    expect(evil.status).toBe(403);
  });

  test("the details banner names only namespaces of services the viewer may see", async () => {
    const { base } = await start({ env: { AUTH_MODE: "proxy" }, gaps: ["events in shop", "replicasets in ops"] });
    const bob = await (await fetch(`${base}/`, { headers: { "X-Forwarded-User": "bob" } })).text();
    expect(bob).toContain("events in shop");
    expect(bob).not.toContain("in ops");
    const carol = await (await fetch(`${base}/`, { headers: { "X-Forwarded-User": "carol" } })).text();
    expect(carol).toContain("replicasets in ops");
  });
});
