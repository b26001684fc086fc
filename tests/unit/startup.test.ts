// Covers listen first (src/startup.ts, kube/lock-store.ts lateLocks, kube/permissions.ts startSelfCheck, the view's late lock choice) against a fake KubeClient: nothing listed and no restart before the self-check answers; its answer picks the lock store and the watch scopes.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initialEventLines } from "../support/initial-events.ts";
import { parseEnv } from "../../src/config/env.ts";
import { parseConfigText } from "../../src/config/file.ts";
import type { AccessReport } from "../../src/kube/access.ts";
import type { KubeClient, KubeRequest } from "../../src/kube/client.ts";
import { watchCluster } from "../../src/kube/cluster.ts";
import type { LockStore } from "../../src/kube/lock.ts";
import { lateLocks } from "../../src/kube/lock-store.ts";
import { makeMemoryLocks } from "../../src/kube/memory-locks.ts";
import { startSelfCheck } from "../../src/kube/permissions.ts";
import type { ResourceRule } from "../../src/kube/rules-review.ts";
import { makeMetrics } from "../../src/metrics.ts";
import { ANONYMOUS } from "../../src/restart/identity.ts";
import { assembleCore, type Core } from "../../src/startup.ts";

const WORKLOADS: ResourceRule[] = [
  { verbs: ["get", "list", "watch", "patch"], apiGroups: ["apps"], resources: ["deployments", "replicasets"] },
  { verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["pods", "events"] },
  { verbs: ["create"], apiGroups: [""], resources: ["events"] },
];
const LEASES: ResourceRule[] = [{ verbs: ["*"], apiGroups: ["coordination.k8s.io"], resources: ["leases"] }];

/**
 * Rules reviews wait for `answer()` and then grant `rules(namespace)`; lists and streaming lists answer
 * a Deployment "web" per namespace; watches then stay open and quiet until aborted.
 */
function itemsAt(path: string): unknown[] {
  const ns = /\/namespaces\/([^/]+)\/deployments$/.exec(path)?.[1];
  return ns ? [{ metadata: { name: "web", namespace: ns, resourceVersion: "1", generation: 1 }, spec: { replicas: 1 }, status: { observedGeneration: 1 } }] : [];
}

function fakeApi(rules: (ns: string) => ResourceRule[]) {
  const paths: string[] = [];
  let open!: () => void;
  const answered = new Promise<void>((r) => (open = r));
  const client: KubeClient = {
    server: "https://fake.invalid",
    async request<T>(req: KubeRequest): Promise<T> {
      paths.push(req.path);
      if (req.path.endsWith("/selfsubjectrulesreviews")) {
        await answered;
        return { status: { resourceRules: rules((req.body as any).spec.namespace), incomplete: false } } as T;
      }
      return { metadata: { resourceVersion: "1" }, items: itemsAt(req.path) } as T;
    },
    async stream(req: KubeRequest): Promise<Response> {
      // A streaming list (sendInitialEvents) reads as a list of the path here, then stays open as its watch.
      if (req.query?.sendInitialEvents) paths.push(req.path);
      paths.push(`watch ${req.path}`);
      const body = new ReadableStream({
        start: (c) => {
          if (req.query?.sendInitialEvents) c.enqueue(new TextEncoder().encode(initialEventLines(itemsAt(req.path))));
          req.signal?.addEventListener("abort", () => c.close());
        },
      });
      return new Response(body, { status: 200 });
    },
  };
  const lists = () => paths.filter((p) => !p.endsWith("/selfsubjectrulesreviews"));
  return { client, paths, lists, answer: () => open() };
}

const SERVICES = "services:\n  - { kind: Deployment, namespace: shop, name: web }\n  - { kind: Deployment, namespace: hidden, name: web }\n";

let cores: Core[] = [];
afterEach(() => {
  for (const c of cores) c.stop();
  cores = [];
});

function core(client: KubeClient, o: { selfCheckWaitMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "startup-test-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, SERVICES);
  const logs: { level: string; msg: string }[] = [];
  const c = assembleCore({
    env: parseEnv({ CONFIG_FILE_PATH: path }),
    config: parseConfigText(SERVICES, path),
    text: SERVICES,
    client,
    lockNamespace: "locks",
    instanceId: "test-1",
    metrics: makeMetrics({ version: "t", commit: "c" }),
    log: ((level: string, msg: string) => void logs.push({ level, msg })) as never,
    ...o,
  });
  cores.push(c);
  return { c, logs };
}

const restart = (c: Core, namespace = "shop") => c.flow.restart({ kind: "Deployment", namespace, name: "web", identity: ANONYMOUS, requestId: "r1", source: "127.0.0.1" });

describe("listen first (assembleCore)", () => {
  test("before the self-check answers: nothing is listed, /readyz is not ready saying why, a restart is 503 unavailable with Retry-After", async () => {
    const api = fakeApi(() => [...WORKLOADS, ...LEASES]);
    const { c } = core(api.client);
    await Bun.sleep(5);
    expect(api.paths).toEqual([]); // nothing before start(): the server listens first
    const started = c.start();
    await Bun.sleep(20);
    expect(api.paths.length).toBeGreaterThan(0); // the self-check was asked
    expect(api.lists()).toEqual([]);
    const r = c.ready();
    expect(r.state).toBe("not ready");
    expect(r.reasons).toContain("watch caches have not synced yet");
    expect(r.reasons).toContain("permission self-check failed: no answer yet");
    // No cache has been started, so none is "disconnected" (the page shows no stale banner).
    expect(c.hub.stale()).toEqual([]);
    const refused = await restart(c);
    expect(refused).toMatchObject({ ok: false, reason: "unavailable" });
    expect(refused.ok === false && refused.retryAfterSec).toBeGreaterThanOrEqual(1);
    // The service list is there from the start (the page and GET /api/v1/service need no cluster).
    expect(c.services.current().services.map((s) => s.namespace)).toEqual(["shop", "hidden"]);

    api.answer();
    await started;
    expect(c.ready().state).toBe("ok");
    expect(api.lists()).toContain("/apis/coordination.k8s.io/v1/namespaces/locks/leases");
    expect(c.hub.current({ kind: "Deployment", namespace: "shop", name: "web" })?.desired).toBe(1);
  });

  test("the answer picks the lock store (no Lease rights: in-process locks, no Lease watch) and the scopes (a namespace it may not watch is left out)", async () => {
    const api = fakeApi((ns) => (ns === "hidden" ? [] : ns === "locks" ? [] : WORKLOADS));
    const { c, logs } = core(api.client);
    const started = c.start();
    await Bun.sleep(20);
    api.answer();
    await started;
    expect(logs.map((l) => l.msg)).toContain("cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)");
    expect(api.lists().filter((p) => p.includes("leases"))).toEqual([]);
    expect(api.lists().filter((p) => p.includes("/hidden/"))).toEqual([]);
    expect(api.lists()).toContain("/apis/apps/v1/namespaces/shop/deployments");
    expect(c.ready().reasons.some((x) => x.startsWith("locks are in-process only"))).toBe(true);
    expect(c.access.unwatchable.has("Deployment/hidden/web")).toBe(true);
  });

  test("no answer within the wait: the watches start with Leases; /readyz stays not ready until the self-check answers", async () => {
    const api = fakeApi(() => [...WORKLOADS, ...LEASES]);
    const { c, logs } = core(api.client, { selfCheckWaitMs: 30 });
    await c.start();
    expect(logs.map((l) => l.msg)).toContain("permission self-check failed; using Leases and retrying in the background");
    expect(api.lists()).toContain("/apis/coordination.k8s.io/v1/namespaces/locks/leases");
    expect(c.ready().state).toBe("not ready");
    api.answer();
    await c.monitor.first();
    expect(c.ready().state).toBe("ok");
  });
});

describe("lateLocks", () => {
  const s = { kind: "Deployment" as const, namespace: "shop", name: "web" };
  test("before the choice nothing is held or released and acquiring fails; after it every call goes to the chosen store, and the first choice stays", async () => {
    const late = lateLocks();
    expect(late.chosen()).toBeUndefined();
    expect(await late.store.held(s)).toBeNull();
    expect(await late.store.release(s, "me")).toBeUndefined();
    expect(late.store.acquire(s, "me", "alice", 60, undefined)).rejects.toThrow("not chosen yet");
    const first = makeMemoryLocks();
    late.choose({ store: first, local: first });
    const other: LockStore = { acquire: async () => false, setGeneration: async () => {}, release: async () => {}, held: async () => null };
    late.choose({ store: other });
    expect(late.chosen()?.store).toBe(first);
    expect(await late.store.acquire(s, "me", "alice", 60, undefined)).toBe(true);
    expect((await late.store.held(s))?.holder).toBe("me");
    await late.store.release(s, "me");
    expect(await late.store.held(s)).toBeNull();
  });
});

describe("startSelfCheck", () => {
  const report = (): AccessReport => ({ unusable: new Map(), unwatchable: new Map(), missingLeases: [], missingEvents: [], missingDetails: [] });
  test("returns at once; `settled` resolves at the first answer", async () => {
    let answer!: (r: AccessReport) => void;
    const { monitor, settled } = startSelfCheck(() => new Promise((r) => (answer = r)), (() => {}) as never, { waitMs: 60_000 });
    expect(monitor.checked()).toBe(false);
    let done = false;
    void settled.then(() => (done = true));
    await Bun.sleep(5);
    expect(done).toBe(false);
    answer(report());
    await settled;
    expect(monitor.checked()).toBe(true);
    monitor.stop();
  });

  test("without an answer, `settled` resolves after the wait, says so, and the monitor keeps trying", async () => {
    const msgs: string[] = [];
    let attempts = 0;
    const check = () => (++attempts === 1 ? Promise.reject(new Error("connection refused")) : new Promise<AccessReport>(() => {}));
    const { monitor, settled } = startSelfCheck(check, ((_l: string, m: string) => void msgs.push(m)) as never, { waitMs: 20, backoff: () => 1 });
    await settled;
    expect(monitor.checked()).toBe(false);
    expect(monitor.lastError()).toBe("connection refused");
    expect(msgs).toContain("permission self-check failed; using Leases and retrying in the background");
    expect(attempts).toBe(2);
    monitor.stop();
  });
});

describe("the cluster view's late lock choice", () => {
  test("start(localLocks) drops the Lease watch and reads locks from memory; nothing is disconnected before start", async () => {
    const api = fakeApi(() => []);
    const view = watchCluster({ client: api.client, services: [{ kind: "Deployment", namespace: "shop", name: "web" }], lockNamespace: "locks", log: () => {} });
    expect(view.disconnected()).toEqual([]);
    const locks = makeMemoryLocks();
    await locks.acquire({ kind: "Deployment", namespace: "shop", name: "web" }, "me", "alice", 60, undefined);
    await view.start(locks);
    expect(api.lists().filter((p) => p.includes("leases"))).toEqual([]);
    expect(view.lease({ kind: "Deployment", namespace: "shop", name: "web" })?.spec?.holderIdentity).toBe("me");
    view.stop();
  });
});
