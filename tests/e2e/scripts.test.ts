// e2e for scripts and operators, against the real control plane: the JSON snapshot, ?wait for anyone's rollout, NDJSON streams, 423 details, uniform errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openApiDocument } from "../../src/http/openapi.ts";
import { type AppProcess, kubectl, openStatus, restartedAt, SAMPLE_SERVICES, startApp, waitFor, waitRollout } from "../support/harness.ts";

const LOCK_NS = "k8s-restart-app-e2e";
const NS = "k8s-restart-app-scripts";
// shop/api is configured but visible to carol only: everyone else must get the "not configured" answer.
const SERVICES = [...SAMPLE_SERVICES, { kind: "Deployment", name: "api", namespace: "shop", viewUsers: ["carol"] }, { kind: "Deployment", name: "slow", namespace: NS }];

/** One replica that rolls out normally; `stall` makes its next rollout impossible (new pod unschedulable) until `unstall`. */
const SLOW = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "slow", namespace: NS },
  spec: {
    replicas: 1,
    progressDeadlineSeconds: 10,
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    selector: { matchLabels: { app: "slow" } },
    template: {
      metadata: { labels: { app: "slow" } },
      spec: {
        nodeSelector: { type: "kwok" },
        tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
        containers: [{ name: "app", image: "example.invalid/slow:1" }],
      },
    },
  },
};
const stall = () => kubectl(["-n", NS, "patch", "deployment", "slow", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"type":"nowhere"}}}}}']);
const unstall = async () => {
  await kubectl(["-n", NS, "patch", "deployment", "slow", "-p", '{"spec":{"template":{"spec":{"nodeSelector":{"type":"kwok"}}}}}']);
  // kubectl rollout status gives up at once while the old ProgressDeadlineExceeded condition is still there.
  await waitFor(async () => (await kubectl(["-n", NS, "rollout", "status", "deployment/slow", "--timeout=30s"], { allowFail: true })).includes("successfully rolled out"), 90_000, "slow rolled out");
};

let app: AppProcess;
const as = (user: string) => ({ "X-Forwarded-User": user });
const get = (path: string, user = "alice", headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { headers: { ...as(user), ...headers } });
const post = (path: string, user = "alice", headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { method: "POST", headers: { ...as(user), ...headers } });
const parse = (m: string) => JSON.parse(m) as any;

beforeAll(async () => {
  await kubectl(["create", "namespace", LOCK_NS], { allowFail: true });
  await kubectl(["-n", LOCK_NS, "delete", "lease", "--all", "--wait=true"]);
  await kubectl(["create", "namespace", NS], { allowFail: true });
  await kubectl(["-n", NS, "delete", "deployment", "slow", "--ignore-not-found", "--wait=true"]);
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(SLOW) });
  await waitRollout("Deployment", NS, "slow", "90s");
  for (const s of SAMPLE_SERVICES.filter((s) => s.name !== "frozen")) await waitRollout(s.kind, s.namespace, s.name);
  app = await startApp({ services: SERVICES, env: { AUTH_MODE: "proxy", RATE_LIMIT_PER_MINUTE: "0" } });
}, 180_000);
afterAll(() => app?.stop());

describe("GET /api/v1/service/{kind}/{namespace}/{name}: the JSON snapshot", () => {
  test("is the service's status websocket message plus its details (pods, Events, history: issue 11)", async () => {
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/Deployment/shop/web/status`, as("alice"));
    const message = parse(await ws.until(() => true, 10_000));
    ws.close();
    const res = await get("/api/v1/service/Deployment/shop/web");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json();
    const { pods, events, history, missing_permissions, ...status } = body;
    expect(status).toEqual(message);
    expect(pods).toHaveLength(3);
    expect(pods.every((p: { phase: string; ready: boolean; current: boolean | null }) => p.phase === "Running" && p.ready && p.current === true)).toBe(true);
    expect(Array.isArray(events) && Array.isArray(history)).toBe(true);
    expect(missing_permissions).toEqual([]);
    expect(body.kind_namespace_name).toEqual({ kind: "Deployment", namespace: "shop", name: "web" });
    expect(body.status.rollout).toBe("complete");
    expect(body.status.ready).toBe(3);
    expect(body.is_locked).toBe(false);
  });

  test("follows the list's visibility: unknown and hidden answer the same 404; a bad path is 400", async () => {
    const unknown = await get("/api/v1/service/Deployment/shop/nope");
    const hidden = await get("/api/v1/service/Deployment/shop/api");
    expect([unknown.status, hidden.status]).toEqual([404, 404]);
    expect((await hidden.json()).message).toBe("Deployment shop/api is not in the list of restartable services");
    expect((await unknown.json()).message).toBe("Deployment shop/nope is not in the list of restartable services");
    const carol = await get("/api/v1/service/Deployment/shop/api", "carol");
    expect(carol.status).toBe(200);
    expect((await carol.json()).kind_namespace_name.name).toBe("api");
    const bad = await get("/api/v1/service/Pod/shop/web");
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toContain("unknown kind");
    expect((await get("/api/v1/service/Deployment/shop/web?wait=0")).status).toBe(400);
  });
});

describe("GET …?wait=<seconds>: kubectl rollout status for people without kubectl", () => {
  test("answers at once when nothing is rolling", async () => {
    const t0 = Date.now();
    const res = await get("/api/v1/service/Deployment/shop/web?wait=60");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("complete");
    expect(body.rollout.status.rollout).toBe("complete");
    expect(Date.now() - t0).toBeLessThan(5000);
    const paused = await get("/api/v1/service/Deployment/shop/frozen?wait=60");
    expect([paused.status, (await paused.json()).status]).toEqual([409, "paused"]);
  });

  test("waits for a rollout someone else started (kubectl rollout restart) and answers when it has settled", async () => {
    await kubectl(["-n", "billing", "rollout", "restart", "deployment/worker"]);
    const at = await restartedAt("Deployment", "billing", "worker");
    // Once the app has seen the restart, ?wait must cover the rest of its rollout.
    await waitFor(async () => (await (await get("/api/v1/service/Deployment/billing/worker")).json()).status.last_restart === at, 10_000, "worker restart seen");
    const res = await get("/api/v1/service/Deployment/billing/worker?wait=120");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.status).toBe("complete");
    expect(body.rollout.status.last_restart).toBe(at);
    // When it answered, the cluster agrees: every replica updated and available.
    const d = JSON.parse(await kubectl(["-n", "billing", "get", "deployment", "worker", "-o", "json"]));
    expect(d.status.observedGeneration).toBe(d.metadata.generation);
    expect(d.status.updatedReplicas).toBe(d.spec.replicas);
    expect(d.status.availableReplicas).toBe(d.spec.replicas);
  }, 150_000);

  test("504 rollout-timeout while it still rolls when the wait ends; 502 rollout-failed once the Deployment's progress deadline passes", async () => {
    await stall();
    await waitFor(async () => (await (await get(`/api/v1/service/Deployment/${NS}/slow`)).json()).status.rollout === "progressing", 20_000, "slow progressing");
    const res = await get(`/api/v1/service/Deployment/${NS}/slow?wait=1`);
    expect(res.status).toBe(504);
    const body = await res.json();
    expect([body.status, body.error, body.rollout.status.rollout]).toEqual(["timeout", "rollout-timeout", "progressing"]);
    expect(body.request_id).toBe(res.headers.get("x-request-id"));
    const failed = await get(`/api/v1/service/Deployment/${NS}/slow?wait=60`);
    expect(failed.status).toBe(502);
    const f = await failed.json();
    expect([f.status, f.error]).toEqual(["failed", "rollout-failed"]);
    expect(f.message).toContain("exceeded its progress deadline");
    await unstall();
  }, 150_000);
});

describe("423 says who and until when", () => {
  test("every refused concurrent restart names the holder, since and expiry, with Retry-After", async () => {
    await waitRollout("Deployment", "shop", "web");
    await waitFor(async () => (await (await get("/api/v1/service/Deployment/shop/web")).json()).is_locked === false, 60_000, "web unlocked");
    const answers = await Promise.all(["alice", "bob", "bob", "bob"].map((u) => post("/api/v1/service/Deployment/shop/web/restart", u)));
    const first = answers.find((r) => r.status === 200)!;
    const winner = (await first.json()) as any;
    const locked = answers.filter((r) => r.status === 423);
    expect(locked.length).toBe(3);
    const holder = answers.indexOf(first) === 0 ? "alice" : "bob";
    for (const r of locked) {
      const body = (await r.json()) as any;
      expect(body.error).toBe("locked");
      expect(body.lock.user).toBe(holder);
      expect(Date.parse(body.lock.since)).toBeGreaterThan(Date.parse(winner.restarted_at) - 5000);
      // FORCE_UNLOCK_SEC (300 s by default) after it was taken.
      expect(Date.parse(body.lock.expires_at) - Date.parse(body.lock.since)).toBe(300_000);
      expect(body.message).toContain(`by ${holder} since`);
      const retry = Number(r.headers.get("retry-after"));
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
    }
    await waitRollout("Deployment", "shop", "web");
  }, 90_000);
});

describe("uniform errors", () => {
  test("every non-2xx API answer is {error,message,request_id} JSON with X-Request-Id; a proxy-mode 401 has no Bearer challenge", async () => {
    const cases: [string, RequestInit, number, string][] = [
      ["/api/v1/service/Pod/shop/web/restart", { method: "POST", headers: as("alice") }, 400, "bad-request"],
      ["/api/v1/service/status", { headers: as("alice") }, 400, "bad-request"],
      ["/api/v1/service/Deployment/shop/web", {}, 401, "unauthenticated"],
      ["/api/v1/service/Deployment/shop/web/restart", { method: "POST", headers: { ...as("alice"), Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" } }, 403, "forbidden"],
      ["/api/v2/nothing", { headers: as("alice") }, 404, "not-found"],
      ["/api/v1/service/Deployment/shop/web/restart", { headers: as("alice") }, 405, "method-not-allowed"],
      ["/api/v1/service/Deployment/shop/web/restart", { method: "POST", headers: as("alice"), body: "x".repeat(100_000) }, 413, "payload-too-large"],
    ];
    for (const [path, init, status, error] of cases) {
      const res = await fetch(`${app.url}${path}`, init);
      expect([path, res.status]).toEqual([path, status]);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(["error", "message", "request_id"]);
      expect([path, body.error]).toEqual([path, error]);
      expect(body.message.length).toBeGreaterThan(0);
      expect(body.request_id).toBe(res.headers.get("x-request-id"));
      if (status === 401) expect(res.headers.get("www-authenticate")).toBeNull();
      if (status === 405) expect(res.headers.get("allow")).toBe("POST");
    }
  });

  test("the page's own (htmx) requests still get HTML fragments", async () => {
    const res = await post("/api/v1/service/Pod/shop/web/restart", "alice", { "HX-Request": "true" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("readiness that tells the truth", () => {
  test("a configured service absent from the cluster: degraded (200) with the reason, logged at sync and when it comes and goes", async () => {
    await kubectl(["-n", NS, "delete", "deployment", "ghost", "--ignore-not-found", "--wait=true"]);
    const ghostApp = await startApp({ services: [{ kind: "Deployment", name: "web", namespace: "shop" }, { kind: "Deployment", name: "ghost", namespace: NS }] });
    const res = await fetch(`${ghostApp.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`degraded\n- configured but absent from the cluster: Deployment/${NS}/ghost\n`);
    const json = await fetch(`${ghostApp.url}/readyz?format=json`);
    expect([json.status, await json.json()]).toEqual([200, { status: "degraded", reasons: [`configured but absent from the cluster: Deployment/${NS}/ghost`] }]);
    await waitFor(() => ghostApp.entries().some((e) => e.msg === "configured services absent from the cluster"), 5000, "absence logged at sync");
    expect(ghostApp.entries().find((e) => e.msg === "configured services absent from the cluster")!.services).toEqual([`Deployment/${NS}/ghost`]);

    await kubectl(["apply", "-f", "-"], { input: JSON.stringify({ ...SLOW, metadata: { name: "ghost", namespace: NS }, spec: { ...SLOW.spec, selector: { matchLabels: { app: "ghost" } }, template: { ...SLOW.spec.template, metadata: { labels: { app: "ghost" } } } } }) });
    await waitFor(() => ghostApp.entries().some((e) => e.msg === "configured service is present in the cluster again"), 10_000, "comeback logged");
    await waitRollout("Deployment", NS, "ghost", "60s");
    expect(await (await fetch(`${ghostApp.url}/readyz`)).text()).toBe("ok\n");
    await kubectl(["-n", NS, "delete", "deployment", "ghost", "--wait=true"]);
    await waitFor(() => ghostApp.entries().some((e) => e.msg === "configured service is absent from the cluster" && e.service === `Deployment/${NS}/ghost`), 10_000, "going logged");
    await ghostApp.stop();
  }, 90_000);
});

describe("drop-in where the original's clients notice", () => {
  test("the JSON stream re-sends every service's status every WATCH_INTERVAL (a read loop with a deadline between messages never blocks); the page's stream stays change-only", async () => {
    const services = [{ kind: "Deployment", name: "web", namespace: "shop" }, { kind: "StatefulSet", name: "db", namespace: "shop" }];
    const a = await startApp({ services, env: { WATCH_INTERVAL: "1" } });
    const json = await openStatus(`${a.wsUrl}/api/v1/service/status`);
    const html = await openStatus(`${a.wsUrl}/ui/status`);
    await waitFor(() => json.messages.length >= 2 && html.messages.length >= 1, 10_000, "full state");
    const [jsonAt, htmlAt] = [json.messages.length, html.messages.length];
    // The original's e2e test: read in a loop, checking a 2 s deadline only between messages.
    const deadline = Date.now() + 2500;
    const seen = new Set<string>();
    while (Date.now() < deadline) {
      const m = await json.until(() => true, 3000, "a re-sent status", json.messages.length);
      seen.add(parse(m).kind_namespace_name.name);
      json.messages.length = 0;
    }
    expect([...seen].sort()).toEqual(["db", "web"]);
    expect(html.messages.length).toBe(htmlAt);
    expect(jsonAt).toBe(2);
    json.close();
    html.close();
    await a.stop();

    const quiet = await startApp({ services, env: { WATCH_INTERVAL: "0" } });
    const q = await openStatus(`${quiet.wsUrl}/api/v1/service/status`);
    await waitFor(() => q.messages.length >= 2, 10_000, "full state");
    await Bun.sleep(2500);
    expect(q.messages.length).toBe(2);
    q.close();
    await quiet.stop();
  }, 60_000);

  test("status.message is empty when all is well, the error otherwise; rollout_message has kubectl's text", async () => {
    const web = await (await get("/api/v1/service/Deployment/shop/web")).json();
    expect(web.status.message).toBe("");
    expect(web.status.rollout_message).toBe('deployment "web" successfully rolled out');
    await stall();
    await waitFor(async () => (await (await get(`/api/v1/service/Deployment/${NS}/slow`)).json()).status.rollout === "progressing", 20_000, "slow progressing");
    const failed = await (await get(`/api/v1/service/Deployment/${NS}/slow?wait=60`)).json();
    expect(failed.rollout.status.message).toContain("exceeded its progress deadline");
    expect(failed.rollout.status.rollout_message).toBe(failed.rollout.status.message);
    await unstall();
  }, 120_000);
});

/** Reads an NDJSON response line by line as it arrives; returns the lines with their arrival times. */
async function ndjsonLines(res: Response): Promise<{ line: any; at: number }[]> {
  const out: { line: any; at: number }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      out.push({ line: JSON.parse(buf.slice(0, i)), at: Date.now() });
      buf = buf.slice(i + 1);
    }
  }
  expect(buf).toBe("");
  return out;
}

describe("Accept: application/x-ndjson: long waits that proxies see moving", () => {
  test("POST …/restart?wait streams one status line per change and ends with the outcome line", async () => {
    await waitRollout("Deployment", "shop", "web");
    await waitFor(async () => (await (await get("/api/v1/service/Deployment/shop/web")).json()).is_locked === false, 60_000, "web unlocked");
    const res = await post("/api/v1/service/Deployment/shop/web/restart?wait=120", "alice", { Accept: "application/x-ndjson" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = (await ndjsonLines(res)).map((l) => l.line);
    const last = lines.at(-1);
    expect(last.status).toBe("complete");
    expect(last.rollout.status.last_restart).toBe(last.restarted_at);
    expect(last.request_id).toBe(res.headers.get("x-request-id"));
    const statuses = lines.slice(0, -1);
    expect(statuses.length).toBeGreaterThan(2);
    for (const s of statuses) expect(s.kind_namespace_name).toEqual({ kind: "Deployment", namespace: "shop", name: "web" });
    // The rollout was followed: it was seen locked and progressing on the way.
    expect(statuses.some((s) => s.is_locked)).toBe(true);
    expect(statuses.some((s) => s.status.rollout === "progressing" || s.status.ready < s.status.desired || s.status.updated < s.status.desired)).toBe(true);
  }, 150_000);

  test("GET …?wait streams someone else's failing rollout, ending with the rollout-failed line", async () => {
    await stall();
    await waitFor(async () => (await (await get(`/api/v1/service/Deployment/${NS}/slow`)).json()).status.rollout === "progressing", 20_000, "slow progressing");
    const res = await get(`/api/v1/service/Deployment/${NS}/slow?wait=60`, "alice", { Accept: "application/x-ndjson" });
    expect(res.status).toBe(200);
    const lines = (await ndjsonLines(res)).map((l) => l.line);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0].kind_namespace_name.name).toBe("slow");
    expect(lines.at(-1)).toMatchObject({ status: "failed", error: "rollout-failed" });
    await unstall();
  }, 150_000);
});

describe("OpenAPI 3.1 at GET /api/v1/openapi.json", () => {
  test("is the document generated from the schemas the handlers use (every answer in these suites is checked against it)", async () => {
    const res = await get("/api/v1/openapi.json");
    expect(res.status).toBe(200);
    const served = (await res.json()) as any;
    expect(served.openapi).toBe("3.1.0");
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument(served.info.version))));
    expect(Object.keys(served.paths)).toContain("/api/v1/service/{kind}/{namespace}/{name}");
  });
});
