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
import { restartOutcome } from "../../src/status/settle.ts";

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
    mark: () => "test.0",
    // Nothing changed since the mark pages are rendered at.
    changedSince: (_s, mark) => mark !== "test.0",
    onTouched: () => () => {},
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
    refresh: () => {},
    stop: () => {},
  };
  const push = (s: ServiceStatus) => (current.set(serviceId(s.service), s), listeners.forEach((l) => l(s)));
  return { hub, push };
}

const running: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.shutdown()));
});

async function start(o: { result?: RestartResult; ready?: boolean; env?: Record<string, string> } = {}) {
  const env = parseEnv({ LISTEN_ADDRESS: "127.0.0.1:0", LISTEN_MONITORING_ADDRESS: "", ...o.env });
  const { hub, push } = fakeHub([status(WEB), status(DB), status(AGENT)]);
  const metrics = makeMetrics({ version: "test", commit: "abc123" });
  const restarts: RestartRequest[] = [];
  const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const deps: AppDeps = {
    env,
    clusterName: "test-cluster",
    config: CONFIG,
    hub,
    metrics,
    authn: await makeAuthn(env.auth),
    flow: {
      restart: async (req) => {
        restarts.push(req);
        return o.result ?? { ok: true, service: WEB, restartedAt: "2025-03-01T10:00:00Z", generation: 7, user: req.identity.user };
      },
      refuse: (req, r) => (logs.push({ level: "warn", msg: "restart", fields: { ...auditRecord(req, r) } }), r),
    },
    ready: () => (o.ready === false ? { ready: false, detail: ["watch caches have not synced yet"] } : { ready: true, detail: [] }),
    unusable: () => new Map(),
    version: "test",
    log: (level, msg, fields) => void logs.push({ level, msg, fields }),
  };
  const app = startServer(deps);
  running.push(app);
  const base = `http://127.0.0.1:${app.server.port}`;
  return { base, ws: base.replace("http", "ws"), push, restarts, logs, app };
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
    expect(await nf.json()).toEqual({ error: "not-found", message: "no route for GET /nope" });
    expect(restarts).toHaveLength(0);
  });

  test("/healthz is 200; /readyz follows ready()", async () => {
    const a = await start();
    expect((await fetch(`${a.base}/healthz`)).status).toBe(200);
    const ok = await fetch(`${a.base}/readyz`);
    expect([ok.status, await ok.text()]).toEqual([200, "ok\n"]);
    const b = await start({ ready: false });
    const notReady = await fetch(`${b.base}/readyz`);
    expect([notReady.status, await notReady.text()]).toEqual([503, "not ready\n- watch caches have not synced yet\n"]);
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

  test.each([
    ["bad-request", 400], ["unauthenticated", 401], ["forbidden", 403], ["not-found", 404], ["missing", 404],
    ["paused", 409], ["locked", 423], ["rate-limited", 429], ["upstream", 502],
  ] as const)("%s → %d", async (reason, code) => {
    const result: RestartResult = { ok: false, reason, detail: `because ${reason}`, service: WEB, ...(reason === "rate-limited" ? { retryAfterSec: 17 } : {}) };
    const { base } = await start({ result });
    const res = await fetch(`${base}${RESTART}`, { method: "POST" });
    expect(res.status).toBe(code);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: reason, message: `because ${reason}` });
    expect(res.headers.get("retry-after")).toBe(reason === "rate-limited" ? "17" : null);
  });

  test("HX-Request gets an HTML flash fragment, escaped, with the same status", async () => {
    const ok = await start();
    const res = await fetch(`${ok.base}${RESTART}`, { method: "POST", headers: { "HX-Request": "true", "Sec-Fetch-Site": "same-origin" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const html = await res.text();
    expect(html).toContain('class="flash flash-ok" role="status"');
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
    const bad = await start({ result: { ok: false, reason: "locked", detail: "busy", service: WEB } });
    await fetch(`${bad.base}${RESTART}`, { method: "POST" });
    const text2 = await (await fetch(`${bad.base}/metrics`)).text();
    expect(text2).toContain('restart_app_restarts_failed_total{kind="Deployment",namespace="shop",name="web"} 1');
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
    expect(first[0].status).toMatchObject({ message: 'deployment "web" successfully rolled out', pod_status: { Running: 2 }, last_restart: "2025-03-01T10:00:00Z" });

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
    expect(c.messages.map((m) => JSON.parse(m).status.message)).toEqual(['statefulset "db" successfully rolled out', "db changed"]);
    c.ws.close();
  });

  test("the HTML socket sends out-of-band fragments for the page", async () => {
    const { ws: wsBase } = await start();
    const c = connect(`${wsBase}/ui/status`);
    await c.opened;
    await until("full state", () => c.messages.length === 1);
    expect(c.messages[0]).toMatch(/id="state-deployment_shop_web" data-rollout="complete" data-locked="false"[^>]* hx-swap-oob="true"/);
    expect(c.messages[0]).toContain('id="state-statefulset_shop_db"');
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

describe("details, permalink and the cluster name", () => {
  const DETAILS = "/ui/service/Deployment/shop/web/details";

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
    await until("first message", () => old.messages.length === 1);
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
});
