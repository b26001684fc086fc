// Covers src/restart/restart.ts restartWorkload (with recording fake RestartDeps), src/restart/identity.ts and src/restart/release.ts.
import { describe, expect, test } from "bun:test";
import type { ConfigFile, ServiceKey } from "../../src/config/file.ts";
import { KubeError } from "../../src/kube/client.ts";
import type { Deployment, Lease, Workload } from "../../src/kube/types.ts";
import { ANONYMOUS, type Identity, mayRestart, mayView, whyNotRestart } from "../../src/restart/identity.ts";
import { makeReleaser } from "../../src/restart/release.ts";
import { lockReleasable, restartOutcome } from "../../src/status/settle.ts";
import { nextRestartedAt, type RestartDeps, type RestartRequest, restartWorkload, rfc3339 } from "../../src/restart/restart.ts";
import type { ServiceStatus } from "../../src/status/model.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };
const CONFIG: ConfigFile = {
  services: [
    { kind: "Deployment", namespace: "shop", name: "web" },
    { kind: "StatefulSet", namespace: "shop", name: "db", allowedUsers: ["alice"], allowedGroups: ["dba"] },
    { kind: "DaemonSet", namespace: "ops", name: "agent", viewUsers: ["carol"], allowedGroups: ["ops"] },
  ],
};
const alice: Identity = { user: "alice", groups: [], authenticated: true };
const bob: Identity = { user: "bob", groups: ["dev"], authenticated: true };

const liveDeployment = (o: { paused?: boolean } = {}): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", generation: 3, resourceVersion: "100" },
  spec: { replicas: 2, paused: o.paused, selector: { matchLabels: { app: "web" } }, template: { spec: { containers: [] } } },
  status: { observedGeneration: 3 },
});

function fakeDeps(o: Partial<RestartDeps> = {}) {
  const calls: { fn: string; args: unknown[] }[] = [];
  const rec = (fn: string, ...args: unknown[]) => void calls.push({ fn, args });
  const deps: RestartDeps = {
    config: CONFIG,
    workload: (s) => (s.kind === "Deployment" ? liveDeployment() : ({ metadata: { name: s.name, namespace: s.namespace, generation: 1 } } as Workload)),
    lease: () => undefined,
    acquire: async (s, holder, user, current) => (rec("acquire", s, holder, user, current), true),
    heldLock: async (s) => (rec("heldLock", s), null),
    setGeneration: async (s, holder, gen, uid) => rec("setGeneration", s, holder, gen, uid),
    release: async (s, holder) => rec("release", s, holder),
    patch: async (s, at, user) => {
      rec("patch", s, at, user);
      return { ...liveDeployment(), metadata: { ...liveDeployment().metadata, generation: 4 } };
    },
    recordEvent: async (w, s, user, at) => rec("recordEvent", w.metadata?.generation, s, user, at),
    rateLimit: { wait: (key) => (rec("rateLimit", key), 0), spend: (key) => rec("spend", key) },
    unusable: () => undefined,
    instanceId: "pod-a-1",
    now: () => new Date("2025-03-01T10:00:00.789Z"),
    log: (msg, fields) => rec("log", msg, fields),
    audit: (r) => rec("audit", r),
    ...o,
  };
  const called = (fn: string) => calls.filter((c) => c.fn === fn);
  return { deps, calls, called };
}

const req = (o: Partial<RestartRequest> = {}): RestartRequest => ({
  kind: "Deployment",
  namespace: "shop",
  name: "web",
  identity: ANONYMOUS,
  requestId: "req-1",
  source: "10.0.0.7",
  ...o,
});

describe("restartWorkload", () => {
  test("success: one patch at RFC3339 second precision, generation from the patch response", async () => {
    const { deps, called } = fakeDeps();
    const r = await restartWorkload(deps, req({ identity: alice }));
    expect(r).toEqual({ ok: true, service: WEB, restartedAt: "2025-03-01T10:00:00Z", generation: 4, user: "alice" });
    expect(called("patch")).toEqual([{ fn: "patch", args: [WEB, "2025-03-01T10:00:00Z", "alice"] }]);
    expect(called("acquire")[0]!.args).toEqual([WEB, "pod-a-1", "alice", undefined]);
    expect(called("setGeneration")[0]!.args).toEqual([WEB, "pod-a-1", 4, undefined]);
    expect(called("recordEvent")[0]!.args).toEqual([4, WEB, "alice", "2025-03-01T10:00:00.789Z"]);
    expect(called("rateLimit")[0]!.args).toEqual(["alice"]);
    expect(called("spend")[0]!.args).toEqual(["alice"]);
    expect(called("release")).toHaveLength(0);
  });

  test("the Lease holder is the instance's own id, whatever request id the client chose (issue 15 #8)", async () => {
    const { deps, called } = fakeDeps();
    await restartWorkload(deps, req({ requestId: "evil-holder-name" }));
    expect(called("acquire")[0]!.args[1]).toBe("pod-a-1");
    expect(called("setGeneration")[0]!.args[1]).toBe("pod-a-1");
  });

  test("refused restarts spend no budget: locked, missing, paused, failed PATCH (issue 15 #18)", async () => {
    for (const over of [
      { acquire: async () => false },
      { workload: () => undefined },
      { workload: () => ({ ...liveDeployment(), spec: { ...liveDeployment().spec!, paused: true } }) },
      { patch: () => Promise.reject(new KubeError(500, "InternalError", "boom", "patch")) },
    ] as Partial<RestartDeps>[]) {
      const { deps, called } = fakeDeps(over);
      const r = await restartWorkload(deps, req());
      expect(r.ok).toBe(false);
      expect(called("spend")).toHaveLength(0);
    }
  });

  test("anonymous callers are rate limited by address", async () => {
    const { deps, called } = fakeDeps();
    await restartWorkload(deps, req());
    expect(called("rateLimit")[0]!.args).toEqual(["addr:10.0.0.7"]);
  });

  test("the cached lease is handed to acquire", async () => {
    const cached: Lease = { metadata: { name: "restart.deployment.shop.web", resourceVersion: "5" }, spec: { holderIdentity: "" } };
    const { deps, called } = fakeDeps({ lease: () => cached });
    await restartWorkload(deps, req());
    expect(called("acquire")[0]!.args[3]).toBe(cached);
  });

  test.each([
    ["unknown kind", "bad-request", 'unknown kind "Pod": expected Deployment, StatefulSet or DaemonSet', { kind: "Pod" }],
    ["lowercase kind", "bad-request", 'unknown kind "deployment"', { kind: "deployment" }],
    ["bad namespace", "bad-request", 'invalid namespace "Shop_1"', { namespace: "Shop_1" }],
    ["bad name", "bad-request", 'invalid name "../etc"', { name: "../etc" }],
    ["not in config", "not-found", "Deployment shop/api is not in the list of restartable services", { name: "api" }],
    ["hidden by viewUsers", "not-found", "DaemonSet ops/agent is not in the list", { kind: "DaemonSet", namespace: "ops", name: "agent", identity: bob }],
    ["not in allowedUsers/allowedGroups", "forbidden", "bob is not allowed to restart StatefulSet shop/db", { kind: "StatefulSet", name: "db", identity: bob }],
    ["anonymous vs an allow list", "forbidden", "anonymous is not allowed to restart StatefulSet shop/db", { kind: "StatefulSet", name: "db" }],
  ] as const)("%s → %s, nothing locked or patched", async (_label, reason, detail, over) => {
    const { deps, called } = fakeDeps();
    const r = await restartWorkload(deps, req(over as Partial<RestartRequest>));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(reason);
    expect(r.detail).toStartWith(detail);
    // Hidden and unconfigured services answer alike: no service echoed back.
    expect(r.service).toEqual(reason === "forbidden" ? { kind: "StatefulSet", namespace: "shop", name: "db" } : undefined);
    expect(called("rateLimit")).toHaveLength(0);
    expect(called("acquire")).toHaveLength(0);
    expect(called("patch")).toHaveLength(0);
  });

  test("a group in allowedGroups may restart", async () => {
    const { deps } = fakeDeps();
    const r = await restartWorkload(deps, req({ kind: "StatefulSet", name: "db", identity: { user: "dave", groups: ["dba"], authenticated: true } }));
    expect(r.ok).toBe(true);
  });

  test("rate limited → rate-limited with retryAfterSec", async () => {
    const { deps, called } = fakeDeps({ rateLimit: { wait: () => 42, spend: () => {} } });
    const r = await restartWorkload(deps, req());
    expect(r).toEqual({ ok: false, reason: "rate-limited", detail: "too many restarts; try again in 42s", service: WEB, retryAfterSec: 42 });
    expect(called("patch")).toHaveLength(0);
  });

  test("before the caches have synced → 503 unavailable with Retry-After, never 'does not exist' (issue 15 #15)", async () => {
    const { deps, called } = fakeDeps({ synced: () => false, workload: () => undefined });
    const r = await restartWorkload(deps, req());
    expect(r).toEqual({ ok: false, reason: "unavailable", detail: "the app is still loading the cluster's state; try again in a moment", service: WEB, retryAfterSec: 2 });
    expect(called("acquire")).toHaveLength(0);
    const synced = fakeDeps({ synced: () => true, workload: () => undefined });
    expect(await restartWorkload(synced.deps, req())).toMatchObject({ ok: false, reason: "missing" });
  });

  test("the app's own missing permissions → forbidden naming them", async () => {
    const { deps, called } = fakeDeps({ unusable: () => ["patch deployments.apps/web in namespace shop"] });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "forbidden", detail: "the app itself lacks permissions for Deployment/shop/web: patch deployments.apps/web in namespace shop" });
    expect(called("acquire")).toHaveLength(0);
  });

  test("every outcome is audited once, naming the caller, the service and the outcome", async () => {
    const ok = fakeDeps();
    await restartWorkload(ok.deps, req({ identity: alice, requestId: "req-9", source: "10.0.0.7" }));
    expect(ok.called("audit").map((c) => c.args[0])).toEqual([
      { audit: true, user: "alice", groups: [], source: "10.0.0.7", service: { kind: "Deployment", namespace: "shop", name: "web" }, outcome: "restarted", detail: "generation 4", request_id: "req-9" },
    ]);
    const refused = fakeDeps({ workload: () => undefined });
    await restartWorkload(refused.deps, req());
    expect(refused.called("audit").map((c) => (c.args[0] as { outcome: string }).outcome)).toEqual(["missing"]);
  });

  test("workload not in the cluster → missing", async () => {
    const { deps, called } = fakeDeps({ workload: () => undefined });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "missing", detail: "Deployment shop/web does not exist in the cluster" });
    expect(called("acquire")).toHaveLength(0);
  });

  test("paused Deployment → paused, not locked", async () => {
    const { deps, called } = fakeDeps({ workload: () => liveDeployment({ paused: true }) });
    const r = await restartWorkload(deps, req());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe("paused");
    expect(r.detail).toContain("can't restart paused deployment");
    expect(called("acquire")).toHaveLength(0);
  });

  test("lock not acquired → locked and no patch", async () => {
    const { deps, called } = fakeDeps({ acquire: async () => false });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "locked", detail: "a restart of Deployment shop/web is already in progress", retryAfterSec: 5 });
    expect(called("patch")).toHaveLength(0);
    expect(called("release")).toHaveLength(0);
  });

  test("locked → the answer names the holder, since and expiry, from the cache or else from the store; Retry-After until expiry, at most 60 s", async () => {
    const held = { holder: "pod-b/req-9", user: "bob", since: "2025-03-01T09:59:50.000Z", expiresAt: "2025-03-01T10:00:20.000Z" };
    const fromStore = fakeDeps({ acquire: async () => false, heldLock: async () => held });
    const r = await restartWorkload(fromStore.deps, req());
    expect(r).toMatchObject({ ok: false, reason: "locked", retryAfterSec: 20, lock: { user: "bob", since: held.since, expiresAt: held.expiresAt } });
    if (!r.ok) expect(r.detail).toBe("a restart of Deployment shop/web is already in progress (by bob since 2025-03-01T09:59:50.000Z; the lock expires at 2025-03-01T10:00:20.000Z at the latest)");
    const lease = { metadata: { annotations: { "k8s-restart-app.k8scope.io/user": "carol" } }, spec: { holderIdentity: "x", leaseDurationSeconds: 300, acquireTime: "2025-03-01T09:59:00.000Z" as never, renewTime: "2025-03-01T09:59:00.000Z" as never } };
    const fromCache = fakeDeps({ acquire: async () => false, lease: () => lease });
    const c = await restartWorkload(fromCache.deps, req());
    expect(c).toMatchObject({ reason: "locked", retryAfterSec: 60, lock: { user: "carol", since: "2025-03-01T09:59:00.000Z", expiresAt: "2025-03-01T10:04:00.000Z" } });
    expect(fromCache.called("heldLock")).toHaveLength(0);
  });

  test("acquire throws → upstream with its message", async () => {
    const { deps, called } = fakeDeps({
      acquire: () => Promise.reject(new KubeError(0, "Unreachable", "connect ECONNREFUSED", "create Lease default/restart.deployment.shop.web")),
    });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "upstream", detail: "create Lease default/restart.deployment.shop.web: 0 Unreachable: connect ECONNREFUSED" });
    expect(called("patch")).toHaveLength(0);
  });

  test("rights lost after start: patch 403 → 403 forbidden (the app lacks rights), not 502; the lock is released; the self-check is told (issue 15 #9)", async () => {
    const told: string[] = [];
    const { deps, called } = fakeDeps({
      patch: () => Promise.reject(new KubeError(403, "Forbidden", 'deployments.apps "web" is forbidden', "patch Deployment shop/web")),
      forbidden: (d) => void told.push(d),
    });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "forbidden" });
    if (r.ok) return;
    expect(r.detail).toBe('the app itself lacks permissions for Deployment/shop/web: patch Deployment shop/web: 403 Forbidden: deployments.apps "web" is forbidden');
    expect(called("release")).toEqual([{ fn: "release", args: [WEB, "pod-a-1"] }]);
    expect(called("setGeneration")).toHaveLength(0);
    expect(told).toHaveLength(1);
  });

  test("rights on Leases lost after start: acquire 403 → 403 forbidden, nothing patched (issue 15 #9)", async () => {
    const told: string[] = [];
    const { deps, called } = fakeDeps({
      acquire: () => Promise.reject(new KubeError(403, "Forbidden", "leases is forbidden", "create Lease x/y")),
      forbidden: (d) => void told.push(d),
    });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "forbidden" });
    expect(called("patch")).toHaveLength(0);
    expect(told).toEqual(["create Lease x/y: 403 Forbidden: leases is forbidden"]);
  });

  test("patch fails and release fails too → still upstream, release failure logged", async () => {
    const { deps, called } = fakeDeps({
      patch: () => Promise.reject(new KubeError(500, "InternalError", "etcd timeout", "patch Deployment shop/web")),
      release: () => Promise.reject(new Error("release boom")),
    });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: false, reason: "upstream", detail: "patch Deployment shop/web: 500 InternalError: etcd timeout" });
    expect(called("log").map((c) => c.args[0])).toEqual(["lock release failed"]);
  });

  test("failures after the patch are logged but the restart still succeeds", async () => {
    const { deps, called } = fakeDeps({
      setGeneration: () => Promise.reject(new Error("409")),
      recordEvent: () => Promise.reject(new Error("events forbidden")),
    });
    const r = await restartWorkload(deps, req());
    expect(r.ok).toBe(true);
    expect(called("log").map((c) => c.args[0]).sort()).toEqual(["event not recorded", "lock update failed"]);
  });
});

describe("a restart always moves restartedAt forward (issue 15 #13)", () => {
  const now = new Date("2025-03-01T10:00:00.789Z");
  test.each([
    [undefined, "2025-03-01T10:00:00Z"],
    ["", "2025-03-01T10:00:00Z"],
    ["garbage", "2025-03-01T10:00:00Z"],
    ["2025-03-01T09:59:00Z", "2025-03-01T10:00:00Z"],
    ["2025-03-01T10:00:00Z", "2025-03-01T10:00:01Z"],
    ["2025-03-01T10:00:00.500Z", "2025-03-01T10:00:01Z"],
    ["2025-03-01T10:05:00Z", "2025-03-01T10:05:01Z"],
  ])("current %j → %s", (current, want) => {
    expect(nextRestartedAt(now, current)).toBe(want);
  });

  const withRestartedAt = (at: string, generation = 3): Deployment => {
    const d = liveDeployment();
    return { ...d, metadata: { ...d.metadata, generation }, spec: { ...d.spec!, template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at } }, spec: { containers: [] } } } };
  };

  test("a second restart in the same wall-clock second writes the next second", async () => {
    const { deps, called } = fakeDeps({ workload: () => withRestartedAt("2025-03-01T10:00:00Z") });
    const r = await restartWorkload(deps, req());
    expect(r).toMatchObject({ ok: true, restartedAt: "2025-03-01T10:00:01Z" });
    expect(called("patch").map((c) => c.args[1])).toEqual(["2025-03-01T10:00:01Z"]);
  });

  test("a PATCH that changes nothing (stale cache) is retried past the server's value; two no-ops are an error, never a 200, and the lock is freed", async () => {
    const server = { at: "2025-03-01T10:00:00Z", gen: 3 };
    const patches: string[] = [];
    const { deps, called } = fakeDeps({
      workload: () => withRestartedAt("2025-03-01T09:00:00Z"),
      patch: async (_s, at) => {
        patches.push(at);
        if (at !== server.at) return withRestartedAt(server.at, server.gen);
        return withRestartedAt(at, server.gen);
      },
    });
    // The server already holds 10:00:00 (written by someone else); our cache says 09:00.
    server.at = "2025-03-01T10:00:00Z";
    const stuck = await restartWorkload(deps, req());
    expect(stuck).toMatchObject({ ok: false, reason: "upstream" });
    expect(patches).toEqual(["2025-03-01T10:00:00Z", "2025-03-01T10:00:01Z"]);
    expect(called("release")).toHaveLength(1);

    const ok = fakeDeps({
      workload: () => withRestartedAt("2025-03-01T09:00:00Z"),
      patch: async (_s, at) => (at === "2025-03-01T10:00:00Z" ? withRestartedAt(at, 3) : withRestartedAt(at, 4)),
    });
    const r = await restartWorkload(ok.deps, req());
    expect(r).toMatchObject({ ok: true, restartedAt: "2025-03-01T10:00:01Z", generation: 4 });
  });
});

describe("rfc3339", () => {
  test.each([
    ["2025-03-01T10:00:00.789Z", "2025-03-01T10:00:00Z"],
    ["2025-12-31T23:59:59.999Z", "2025-12-31T23:59:59Z"],
    ["2025-03-01T12:00:00+02:00", "2025-03-01T10:00:00Z"],
  ])("%s → %s", (input, expected) => {
    expect(rfc3339(new Date(input))).toBe(expected);
  });
});

describe("identity rules", () => {
  const entry = (o: object = {}) => ({ kind: "Deployment" as const, namespace: "shop", name: "web", ...o });
  const carol: Identity = { user: "carol", groups: ["sre"], authenticated: true };

  test.each([
    ["no lists: everyone", { services: [] }, entry(), ANONYMOUS, true, true],
    ["allowedUsers lists the user", { services: [] }, entry({ allowedUsers: ["carol"] }), carol, true, true],
    ["allowedUsers does not list the user", { services: [] }, entry({ allowedUsers: ["alice"] }), carol, false, true],
    ["allowedGroups lists a group", { services: [] }, entry({ allowedGroups: ["sre"] }), carol, true, true],
    ["global allowedGroups as default", { services: [], allowedGroups: ["ops"] }, entry(), carol, false, true],
    ["service list overrides the global one", { services: [], allowedGroups: ["ops"] }, entry({ allowedGroups: ["sre"] }), carol, true, true],
    ["empty allowedUsers: nobody", { services: [] }, entry({ allowedUsers: [] }), carol, false, true],
    ["anonymous never matches a user list", { services: [] }, entry({ allowedUsers: [""] }), ANONYMOUS, false, true],
    ["viewUsers hides from others", { services: [] }, entry({ viewUsers: ["alice"] }), carol, true, false],
    ["viewGroups shows to members", { services: [] }, entry({ viewGroups: ["sre"] }), carol, true, true],
    ["restart permission implies view", { services: [] }, entry({ viewUsers: ["alice"], allowedUsers: ["carol"] }), carol, true, true],
    ["global viewUsers as default", { services: [], viewUsers: ["alice"] }, entry(), carol, true, false],
  ] as [string, ConfigFile, ReturnType<typeof entry>, Identity, boolean, boolean][])("%s", (_label, cfg, e, who, restart, view) => {
    expect(mayRestart(cfg, e, who)).toBe(restart);
    expect(whyNotRestart(cfg, e, who, undefined) === undefined).toBe(restart);
    expect(mayView(cfg, e, who)).toBe(view);
  });

  // Every combination of the four fields of one family (unset, empty, naming the caller, naming
  // someone else), for restart lists and for view lists: the service's own pair wins whole as
  // soon as it sets either field; the top-level pair applies only when it sets neither.
  const values: [string, string[] | undefined][] = [["unset", undefined], ["[]", []], ["match", ["M"]], ["other", ["nobody"]]];
  const combos: [string, string[] | undefined, string[] | undefined, string[] | undefined, string[] | undefined][] = [];
  for (const [a, ou] of values) for (const [b, og] of values) for (const [c, tu] of values) for (const [d, tg] of values) combos.push([`own users ${a}, own groups ${b}, top users ${c}, top groups ${d}`, ou, og, tu, tg]);
  const dana: Identity = { user: "dana", groups: ["dba"], authenticated: true };
  const fill = (l: string[] | undefined, m: string) => l?.map((x) => (x === "M" ? m : x));
  const expected = (ou?: string[], og?: string[], tu?: string[], tg?: string[]) => {
    const ownSet = ou !== undefined || og !== undefined;
    const [u, g] = ownSet ? [ou, og] : [tu, tg];
    if (!ownSet && u === undefined && g === undefined) return true;
    return (u ?? []).includes("M") || (g ?? []).includes("M");
  };
  test.each(combos)("restart lists: %s", (_l, ou, og, tu, tg) => {
    const cfg: ConfigFile = { services: [], allowedUsers: fill(tu, "dana"), allowedGroups: fill(tg, "dba") };
    const e = entry({ allowedUsers: fill(ou, "dana"), allowedGroups: fill(og, "dba") });
    expect(mayRestart(cfg, e, dana)).toBe(expected(ou, og, tu, tg));
  });
  test.each(combos)("view lists: %s", (_l, ou, og, tu, tg) => {
    const cfg: ConfigFile = { services: [], viewUsers: fill(tu, "dana"), viewGroups: fill(tg, "dba"), allowedUsers: [] };
    const e = entry({ viewUsers: fill(ou, "dana"), viewGroups: fill(og, "dba") });
    expect(mayView(cfg, e, dana)).toBe(expected(ou, og, tu, tg));
  });

  test("the README example: db with allowedGroups [dba] is not restartable by the top-level allowedUsers [alice]", () => {
    const cfg: ConfigFile = { services: [], allowedGroups: ["oncall"], allowedUsers: ["alice"] };
    const alice: Identity = { user: "alice", groups: [], authenticated: true };
    const db = entry({ name: "db", allowedGroups: ["dba"] });
    expect(whyNotRestart(cfg, db, alice, undefined)?.detail).toBe("alice is not allowed to restart Deployment shop/db");
    expect(mayRestart(cfg, db, dana)).toBe(true);
    expect(mayRestart(cfg, entry(), alice)).toBe(true);
    expect(mayRestart(cfg, entry(), dana)).toBe(false);
  });

  test("the refusal names the user and the service", () => {
    expect(whyNotRestart({ services: [] }, entry({ allowedUsers: ["alice"] }), carol, undefined)).toEqual({ why: "not-allowed", detail: "carol is not allowed to restart Deployment shop/web" });
  });

  test("the app's own missing rights are the refusal of those who may restart", () => {
    expect(whyNotRestart({ services: [] }, entry(), carol, ["patch deployments.apps/web in namespace shop"])).toEqual({
      why: "app-lacks-rights",
      detail: "the app itself lacks permissions for Deployment/shop/web: patch deployments.apps/web in namespace shop",
    });
  });
});

describe("release", () => {
  const status = (rollout: ServiceStatus["rollout"], generation: number | undefined, holder = "pod-a-1/req-1", observedGeneration?: number): ServiceStatus => ({
    service: WEB,
    rollout,
    observedGeneration,
    message: "",
    desired: 2,
    ready: 2,
    updated: 2,
    podStatus: {},
    podsReady: 2,
    lastRestart: "",
    restartedBy: "",
    lock: { holder, since: "2025-03-01T10:00:00.000Z", expiresAt: "2025-03-01T10:05:00.000Z", generation },
  });

  test.each([
    ["complete at the generation", "complete", 4, 4, true],
    ["complete past the generation", "complete", 4, 5, true],
    ["failed", "failed", 4, 4, true],
    ["missing", "missing", 4, 4, true],
    ["unknown (OnDelete)", "unknown", 4, 4, true],
    ["generation not observed yet", "complete", 4, 3, false],
    ["observed generation unknown", "complete", 4, undefined, false],
    ["still progressing", "progressing", 4, 4, false],
    ["paused", "paused", 4, 4, false],
    ["patch not confirmed (no generation)", "complete", undefined, 9, false],
  ] as [string, ServiceStatus["rollout"], number | undefined, number | undefined, boolean][])("lockReleasable: %s", (_l, rollout, gen, observed, expected) => {
    expect(lockReleasable(status(rollout, gen, undefined, observed))).toBe(expected);
  });

  test("a workload deleted during its restart (gone from the cache, no observedGeneration) releases its lock (issue 15 #14)", () => {
    expect(lockReleasable(status("missing", 4, undefined, undefined))).toBe(true);
  });

  test("a workload re-created during its restart (new uid, generation back at 1) releases its lock (issue 15 #14)", () => {
    const base = status("progressing", 4, undefined, 1);
    expect(lockReleasable({ ...base, uid: "uid-new", lock: { ...base.lock!, uid: "uid-old" } })).toBe(true);
    expect(lockReleasable({ ...base, uid: "uid-old", lock: { ...base.lock!, uid: "uid-old" } })).toBe(false);
    // A lock written before uids were recorded falls back to the generation rule.
    expect(lockReleasable({ ...base, uid: "uid-new" })).toBe(false);
  });

  test("the uid the PATCH hit is recorded with the generation", async () => {
    const { deps, called } = fakeDeps({
      patch: async () => ({ ...liveDeployment(), metadata: { ...liveDeployment().metadata, generation: 4, uid: "uid-1" } }),
    });
    await restartWorkload(deps, req());
    expect(called("setGeneration")[0]!.args).toEqual([WEB, "pod-a-1", 4, "uid-1"]);
  });

  test("lockReleasable without a lock is false", () => {
    expect(lockReleasable({ ...status("complete", 1, undefined, 5), lock: null })).toBe(false);
  });

  test.each([
    ["this restart, unlocked, complete", "2025-03-01T10:00:00Z", "complete", false, "complete"],
    ["this restart, unlocked, failed", "2025-03-01T10:00:00Z", "failed", false, "failed"],
    ["this restart, still locked (generation not yet observed)", "2025-03-01T10:00:00Z", "complete", true, undefined],
    ["this restart, unlocked, still progressing", "2025-03-01T10:00:00Z", "progressing", false, undefined],
    ["an earlier restart's status", "2025-03-01T09:00:00Z", "complete", false, undefined],
  ] as [string, string, ServiceStatus["rollout"], boolean, string | undefined][])("restartOutcome: %s", (_l, lastRestart, rollout, locked, expected) => {
    const s = { ...status(rollout, 4, undefined, 4), lastRestart, lock: locked ? status(rollout, 4).lock : null };
    expect(restartOutcome(s, "2025-03-01T10:00:00Z")).toBe(expected as never);
  });

  test("makeReleaser releases once per holder, and again for a new holder", async () => {
    const released: string[] = [];
    const gates: (() => void)[] = [];
    const logs: string[] = [];
    const releaser = makeReleaser(
      (s) => {
        released.push(s.lock!.holder);
        return new Promise<void>((r) => gates.push(r));
      },
      (msg) => logs.push(msg),
    );
    releaser(status("complete", 4, undefined, 3)); // generation 4 not observed yet
    releaser(status("progressing", 4, undefined, 3));
    expect(released).toEqual([]);
    releaser(status("progressing", 4, undefined, 4)); // observed but still rolling
    expect(released).toEqual([]);
    releaser(status("complete", 4, undefined, 4));
    releaser(status("complete", 4, undefined, 4)); // duplicate push while the release is in flight
    expect(released).toEqual(["pod-a-1/req-1"]);
    releaser(status("complete", 4, "pod-b-2/req-9", 4));
    expect(released).toEqual(["pod-a-1/req-1", "pod-b-2/req-9"]);
    for (const g of gates) g();
    await Bun.sleep(1);
    expect(logs).toEqual(["restart lock released", "restart lock released"]);
  });

  test("makeReleaser logs a failed release and allows a retry", async () => {
    let n = 0;
    const logs: string[] = [];
    const releaser = makeReleaser(
      async () => {
        n++;
        throw new Error("409 Conflict");
      },
      (msg) => logs.push(msg),
    );
    releaser(status("failed", 4, undefined, 4));
    await Bun.sleep(1);
    releaser(status("failed", 4, undefined, 4));
    await Bun.sleep(1);
    expect(n).toBe(2);
    expect(logs).toEqual(["restart lock release failed", "restart lock release failed"]);
  });
});
