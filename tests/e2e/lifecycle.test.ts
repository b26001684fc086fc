// e2e: locks that outlive the app process, rollout failure release, SIGTERM handling.
import { beforeAll, describe, expect, test } from "bun:test";
import { type AuditEvent, auditEvents, auditFlushed } from "../support/audit.ts";
import { getJson, kubectl, openStatus, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { kwokDeployment } from "../support/workloads.ts";

const NS = "k8s-restart-app-lock";
const SERVICES = [
  { kind: "Deployment", name: "stuck", namespace: NS },
  { kind: "Deployment", name: "web", namespace: "shop" },
];

/**
 * A Deployment whose restart can never finish: one pod fills each fake node, and the surge pod
 * of a rollout (maxUnavailable 0) has nowhere to go, so the rollout stays in progress until its
 * 20 s progress deadline passes — a real controller-driven failure, not a simulated one.
 */
async function stuckDeployment(): Promise<void> {
  // Only the nodes the pods may land on (type=kwok: the fake nodes, or kind's labelled workers).
  const nodes = (await getJson(["get", "nodes"])).items.filter((n: any) => n.metadata.labels.type === "kwok");
  const cpus = nodes.map((n: any) => Number.parseInt(n.status.allocatable.cpu, 10));
  const request = Math.floor(Math.min(...cpus) * 0.6);
  const replicas = nodes.length;
  const manifest = kwokDeployment(NS, "stuck", {
    spec: { replicas, progressDeadlineSeconds: 20, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
    pod: {
      affinity: {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "stuck" } }, topologyKey: "kubernetes.io/hostname" }] },
      },
      containers: [{ name: "app", image: "example.invalid/stuck:1", resources: { requests: { cpu: String(request) } } }],
    },
  });
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) });
  await waitRollout("Deployment", NS, "stuck", "90s");
}

beforeAll(async () => {
  await kubectl(["create", "namespace", NS], { allowFail: true });
  await kubectl(["-n", NS, "delete", "deployment", "stuck", "--ignore-not-found", "--wait=true"]);
  await kubectl(["-n", NS, "delete", "lease", "--all"]);
  await stuckDeployment();
}, 150_000);

const parse = (m: string) => JSON.parse(m) as any;

describe("locks in the cluster", () => {
  test("the lock survives an app restart and is released when the rollout fails (ProgressDeadlineExceeded)", async () => {
    await kubectl(["-n", NS, "delete", "lease", "--all"]);
    const env = { LOCK_NAMESPACE: NS, RATE_LIMIT_PER_MINUTE: "0" };
    const first = await startApp({ services: SERVICES, env });
    const res = await fetch(`${first.url}/api/v1/service/Deployment/${NS}/stuck/restart`, { method: "POST" });
    expect(res.status).toBe(200);
    // Killed hard: nothing in the process gets a chance to clean up.
    await first.stop("SIGKILL");

    const lease = await getJson(["-n", NS, "get", "lease", `restart.deployment.${NS}.stuck`]);
    expect(lease.spec.holderIdentity).toBeTruthy();

    const second = await startApp({ services: SERVICES, env });
    const again = await fetch(`${second.url}/api/v1/service/Deployment/${NS}/stuck/restart`, { method: "POST" });
    expect(again.status).toBe(423);

    const ws = await openStatus(`${second.wsUrl}/api/v1/service/Deployment/${NS}/stuck/status`);
    const m = parse(await ws.until(() => true));
    expect(m.is_locked).toBe(true);
    expect(m.status.rollout).toBe("progressing");
    const failed = parse(
      await ws.until((x) => parse(x).status.rollout === "failed" && parse(x).is_locked === false, 60_000, "failed and unlocked"),
    );
    expect(failed.status.message).toContain("exceeded its progress deadline");
    const after = await getJson(["-n", NS, "get", "lease", `restart.deployment.${NS}.stuck`]);
    expect(after.spec.holderIdentity ?? "").toBe("");
    ws.close();
    await second.stop();
  }, 120_000);

  test("?wait gives up with 504 and the last status when the rollout does not settle in time", async () => {
    await kubectl(["-n", NS, "delete", "lease", "--all"]);
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS, RATE_LIMIT_PER_MINUTE: "0" } });
    const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/stuck/restart?wait=3`, { method: "POST" });
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body).toMatchObject({ status: "timeout", error: "rollout-timeout" });
    expect(body.rollout.status.rollout).toBe("progressing");
    expect(body.rollout.is_locked).toBe(true);
    await app.stop();
  }, 60_000);

  test("FORCE_UNLOCK_SEC frees a lock whose rollout never settles", async () => {
    // No lock from an earlier restart: this one must be taken by the restart below.
    await kubectl(["-n", NS, "delete", "lease", "--all"]);
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS, FORCE_UNLOCK_SEC: "3", ROLLOUT_TIMEOUT_SEC: "600", RATE_LIMIT_PER_MINUTE: "0" } });
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/Deployment/${NS}/stuck/status`);
    await ws.until(() => true);
    const from = ws.messages.length;
    const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/stuck/restart`, { method: "POST" });
    expect(res.status).toBe(200);
    const t0 = Date.now();
    const lockedMsg = await ws.until((x) => parse(x).is_locked === true && parse(x).status.rollout === "progressing", 10_000, "locked", from);
    // Unlocked while the rollout is still in progress (its deadline is 20 s): only the force-unlock can do that.
    const freed = parse(await ws.until((x) => parse(x).is_locked === false, 10_000, "force-unlocked", ws.messages.indexOf(lockedMsg)));
    expect(freed.status.rollout).toBe("progressing");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    ws.close();
    await app.stop();
  }, 60_000);
});

describe("shutdown", () => {
  test("SIGTERM closes websockets with 1001 (htmx reconnects) and exits within 5 s", async () => {
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS } });
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    await ws.until(() => true);
    const t0 = performance.now();
    const code = await app.stop("SIGTERM");
    const elapsed = performance.now() - t0;
    const closed = await ws.closedP;
    expect(closed.code).toBe(1001);
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan(5000);
  }, 30_000);
});

describe("shutdown drains (issue 15 #11)", () => {
  test("SIGTERM during a ?wait restart: the waiting caller gets 503 with Retry-After (the restart was applied and audited), sockets close 1001, the app exits 0", async () => {
    await kubectl(["-n", NS, "delete", "lease", "--all"]);
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS, RATE_LIMIT_PER_MINUTE: "0" } });
    const ws = await openStatus(`${app.wsUrl}/api/v1/service/Deployment/${NS}/stuck/status`);
    await ws.until(() => true);
    const from = ws.messages.length;
    const waiting = fetch(`${app.url}/api/v1/service/Deployment/${NS}/stuck/restart?wait=60`, { method: "POST", headers: { "X-Request-Id": "drain-wait-1" } });
    await ws.until((x) => parse(x).is_locked === true, 15_000, "the restart under way", from);
    const t0 = performance.now();
    const exited = app.stop("SIGTERM");
    const res = await waiting;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ error: "unavailable", status: "restarting", request_id: "drain-wait-1" });
    expect((await ws.closedP).code).toBe(1001);
    expect(await exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(15_000);
    const audit = app.entries().filter((e) => e.audit && e.request_id === "drain-wait-1");
    expect(audit.map((e) => e.outcome)).toEqual(["restarted"]);
    // Depending on the moment SIGTERM hit, the restart itself or only its ?wait was in flight.
    const drained = app.entries().find((e) => e.msg === "drained");
    expect(drained?.finished + drained?.waitersAnswered).toBeGreaterThanOrEqual(1);
    expect(drained?.interrupted).toBe(0);
  }, 60_000);
});

describe("a workload deleted or re-created during its restart (issue 15 #14)", () => {
  const manifest = (name: string) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          nodeSelector: { type: "kwok" },
          tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
          containers: [{ name: "app", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "10m" } } }],
        },
      },
    },
  });

  test("re-created while its restart rolls out: the lock is released at once, not after FORCE_UNLOCK_SEC", async () => {
    await kubectl(["-n", NS, "delete", "deployment", "phoenix", "--ignore-not-found", "--wait=true"]);
    await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest("phoenix")) });
    await waitRollout("Deployment", NS, "phoenix", "60s");
    const app = await startApp({ services: [{ kind: "Deployment", name: "phoenix", namespace: NS }], env: { LOCK_NAMESPACE: NS, FORCE_UNLOCK_SEC: "600", RATE_LIMIT_PER_MINUTE: "0" } });
    try {
      const ws = await openStatus(`${app.wsUrl}/api/v1/service/Deployment/${NS}/phoenix/status`);
      await ws.until(() => true);
      const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/phoenix/restart`, { method: "POST" });
      expect(res.status).toBe(200);
      const from = ws.messages.length;
      await kubectl(["-n", NS, "delete", "deployment", "phoenix", "--wait=true"]);
      await kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest("phoenix")) });
      const t0 = Date.now();
      await ws.until((x) => parse(x).is_locked === false, 30_000, "the lock released", from);
      expect(Date.now() - t0).toBeLessThan(30_000);
      // And the next restart is accepted.
      await waitFor(async () => (await fetch(`${app.url}/api/v1/service/Deployment/${NS}/phoenix/restart`, { method: "POST" })).status === 200, 30_000, "a new restart accepted");
      ws.close();
    } finally {
      await app.stop();
      await kubectl(["-n", NS, "delete", "deployment", "phoenix", "--ignore-not-found"]);
    }
  }, 120_000);
});

describe("watch, not polling", () => {
  test("an idle app makes no list/get requests after its caches synced", async () => {
    const startedAt = new Date().toISOString();
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS, WATCH_INTERVAL: "1" } });
    // Only this app process's requests (its pid is in its User-Agent): other apps may be running.
    const mine = (e: AuditEvent) => (e.userAgent ?? "").startsWith("k8s-restart-app/") && (e.userAgent ?? "").endsWith(`-${app.proc.pid})`);
    // Start-up is over once every request it made is in the audit log; the idle window starts after.
    await auditFlushed();
    const since = new Date().toISOString();
    // The filter does see this app: its initial watches (which stream the state: no lists) are there.
    expect(auditEvents(startedAt, (e) => mine(e) && e.verb === "watch", { opened: true }).length).toBeGreaterThanOrEqual(3);
    // Not a wait for something: idling IS the test (WATCH_INTERVAL=1, so a polling app would ask ≥ 5 times).
    await Bun.sleep(5000);
    await auditFlushed();
    const reqs = auditEvents(since, (e) => mine(e) && e.verb !== "watch");
    expect(reqs.map((e) => `${e.verb} ${e.objectRef?.resource}`)).toEqual([]);
    await app.stop();
  }, 30_000);
});

describe("WATCH_INTERVAL is the websocket heartbeat", () => {
  test("a live client stays connected through idle time; a silent dead peer is dropped after 2 × WATCH_INTERVAL", async () => {
    const app = await startApp({ services: SERVICES, env: { LOCK_NAMESPACE: NS, WATCH_INTERVAL: "2" } });
    const live = await openStatus(`${app.wsUrl}/api/v1/service/status`);
    // A peer that completes the handshake and then never answers a ping (a vanished laptop).
    const u = new URL(app.url);
    let dead = false;
    const raw = await Bun.connect({
      hostname: u.hostname,
      port: Number(u.port),
      socket: { data() {}, close: () => void (dead = true), end: () => void (dead = true) },
    });
    raw.write(
      `GET /api/v1/service/status HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const t0 = Date.now();
    await waitFor(() => dead, 15_000, "the silent peer to be closed");
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(12_000);
    // Not a wait for something: the live client must stay connected through 7 s (3.5 heartbeats) of idle time.
    await Bun.sleep(Math.max(0, 7000 - elapsed));
    expect(live.closed()).toBeUndefined();
    live.close();
    await app.stop();
  }, 40_000);
});
