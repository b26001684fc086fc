// Restart locks: Lease-backed (optimistic concurrency through a fake KubeClient) and in-process, same semantics.
import { describe, expect, test } from "bun:test";
import type { ServiceKey } from "../../src/config/file.ts";
import { type KubeClient, KubeError, type KubeRequest } from "../../src/kube/client.ts";
import { makeLeaseLocks } from "../../src/kube/lease-locks.ts";
import { LOCK_GENERATION, leaseName, lockFromLease } from "../../src/kube/lock.ts";
import { makeMemoryLocks } from "../../src/kube/memory-locks.ts";
import type { Lease } from "../../src/kube/types.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };
const NOW = Date.parse("2025-03-01T10:00:00Z");

/** An in-memory Lease endpoint with resourceVersion checks, like the API server's. */
function fakeApi(opts: { conflictOnce?: "PUT" } = {}) {
  const store = new Map<string, Lease>();
  const calls: string[] = [];
  let rv = 0;
  let conflictPending = opts.conflictOnce;
  const client: KubeClient = {
    server: "https://fake",
    async request<T>(req: KubeRequest, what: string): Promise<T> {
      const method = req.method ?? "GET";
      calls.push(`${method} ${req.path}`);
      const name = req.path.split("/").pop()!;
      if (method === "GET") {
        const l = store.get(name);
        if (!l) throw new KubeError(404, "NotFound", "not found", what);
        return structuredClone(l) as T;
      }
      const body = structuredClone(req.body) as Lease;
      const key = body.metadata!.name!;
      if (method === "POST") {
        if (store.has(key)) throw new KubeError(409, "AlreadyExists", "exists", what);
      } else if (method === "PUT") {
        if (conflictPending === "PUT") {
          conflictPending = undefined;
          rv++; // someone else wrote in between
          store.get(key)!.metadata!.resourceVersion = String(rv);
        }
        if (store.get(key)?.metadata?.resourceVersion !== body.metadata?.resourceVersion) throw new KubeError(409, "Conflict", "rv mismatch", what);
      }
      body.metadata!.resourceVersion = String(++rv);
      store.set(key, body);
      return structuredClone(body) as T;
    },
    stream: async () => new Response(""),
  };
  return { client, store, calls };
}

describe("Lease-backed locks", () => {
  test("first acquire creates the Lease; a second holder is refused while it is held", async () => {
    const api = fakeApi();
    const locks = makeLeaseLocks(api.client, "ops", () => NOW);
    expect(await locks.acquire(WEB, "a/1", "alice", 300, undefined)).toBe(true);
    const lease = api.store.get(leaseName(WEB))!;
    expect(lease.spec?.holderIdentity).toBe("a/1");
    expect(lockFromLease(lease, NOW)).not.toBeNull();
    expect(await locks.acquire(WEB, "b/2", "bob", 300, lease)).toBe(false);
    expect(await locks.acquire(WEB, "b/2", "bob", 300, undefined)).toBe(false); // stale cache: the GET sees it
  });

  test("two acquisitions racing from a stale cache: the API server's 409 decides, exactly one wins", async () => {
    const api = fakeApi();
    const a = makeLeaseLocks(api.client, "ops", () => NOW);
    const b = makeLeaseLocks(api.client, "ops", () => NOW); // another replica
    const results = await Promise.all([a.acquire(WEB, "a/1", "", 300, undefined), b.acquire(WEB, "b/1", "", 300, undefined)]);
    expect(results.filter(Boolean).length).toBe(1);
  });

  test("concurrent requests in one process make one API attempt; the others are refused at once", async () => {
    const api = fakeApi();
    const locks = makeLeaseLocks(api.client, "ops", () => NOW);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => locks.acquire(WEB, `a/${i}`, "", 300, undefined)));
    expect(results.filter(Boolean).length).toBe(1);
    expect(api.calls.filter((c) => c.startsWith("POST")).length).toBe(1);
  });

  test("an expired or released Lease is taken over with an update on its resourceVersion", async () => {
    const api = fakeApi();
    let now = NOW;
    const locks = makeLeaseLocks(api.client, "ops", () => now);
    await locks.acquire(WEB, "a/1", "", 5, undefined);
    now += 6000; // expired
    expect(await locks.acquire(WEB, "b/1", "", 5, api.store.get(leaseName(WEB)))).toBe(true);
    expect(api.store.get(leaseName(WEB))!.spec?.holderIdentity).toBe("b/1");
    await locks.release(WEB, "b/1");
    expect(api.store.get(leaseName(WEB))!.spec?.holderIdentity).toBe("");
    expect(await locks.acquire(WEB, "c/1", "", 5, api.store.get(leaseName(WEB)))).toBe(true);
  });

  test("setGeneration and release retry on a 409 and never touch a Lease held by someone else", async () => {
    const api = fakeApi({ conflictOnce: "PUT" });
    const locks = makeLeaseLocks(api.client, "ops", () => NOW);
    await locks.acquire(WEB, "a/1", "", 300, undefined);
    await locks.setGeneration(WEB, "a/1", 7); // first PUT conflicts, the retry re-reads and wins
    expect(api.store.get(leaseName(WEB))!.metadata?.annotations?.[LOCK_GENERATION]).toBe("7");
    await locks.release(WEB, "someone-else/9");
    expect(api.store.get(leaseName(WEB))!.spec?.holderIdentity).toBe("a/1");
    await locks.release(WEB, "a/1");
    expect(api.store.get(leaseName(WEB))!.spec?.holderIdentity).toBe("");
    expect(api.store.get(leaseName(WEB))!.metadata?.annotations?.[LOCK_GENERATION]).toBeUndefined();
  });

  test("errors other than a conflict are thrown, naming the Lease", async () => {
    const client: KubeClient = {
      server: "https://fake",
      request: async (_req, what) => {
        throw new KubeError(403, "Forbidden", "leases is forbidden", what);
      },
      stream: async () => new Response(""),
    };
    const locks = makeLeaseLocks(client, "ops", () => NOW);
    await expect(locks.acquire(WEB, "a/1", "", 300, undefined)).rejects.toThrow(`get Lease ops/${leaseName(WEB)}: 403 Forbidden`);
  });

  test("a name too long for a Lease is shortened with a hash, stable and unique", () => {
    const long = { kind: "Deployment" as const, namespace: "shop", name: `${"a".repeat(250)}` };
    const other = { ...long, name: `${"a".repeat(249)}b` };
    expect(leaseName(long).length).toBeLessThanOrEqual(253);
    expect(leaseName(long)).toBe(leaseName({ ...long }));
    expect(leaseName(long)).not.toBe(leaseName(other));
    expect(leaseName(WEB)).toBe("restart.deployment.shop.web");
  });
});

describe("in-process locks (no rights on Leases)", () => {
  test("same rules: one holder, generation recorded, release by the holder only, changes announced", async () => {
    let now = NOW;
    const locks = makeMemoryLocks(() => now);
    const changed: string[] = [];
    locks.onChange((n) => changed.push(n));
    const [a, b] = await Promise.all([locks.acquire(WEB, "a/1", "alice", 300, undefined), locks.acquire(WEB, "b/1", "bob", 300, undefined)]);
    expect([a, b]).toEqual([true, false]);
    await locks.setGeneration(WEB, "a/1", 4, "uid-9");
    expect(lockFromLease(locks.lease(WEB), now)?.generation).toBe(4);
    expect(lockFromLease(locks.lease(WEB), now)?.uid).toBe("uid-9");
    await locks.release(WEB, "b/1");
    expect(lockFromLease(locks.lease(WEB), now)).not.toBeNull();
    await locks.release(WEB, "a/1");
    expect(lockFromLease(locks.lease(WEB), now)).toBeNull();
    expect(changed.every((n) => n === leaseName(WEB))).toBe(true);
    expect(changed.length).toBe(3);
    expect(await locks.acquire(WEB, "c/1", "", 1, undefined)).toBe(true);
    now += 1500;
    expect(lockFromLease(locks.lease(WEB), now)).toBeNull(); // expired: force-unlocked
    expect(await locks.acquire(WEB, "d/1", "", 1, undefined)).toBe(true);
  });
});
