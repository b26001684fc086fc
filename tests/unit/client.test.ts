// Covers src/kube/client.ts timeouts: a connection that accepts and then says nothing never hangs a request (issue 15 #10).
import { afterAll, describe, expect, test } from "bun:test";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeError, makeKubeClient } from "../../src/kube/client.ts";

// A peer that accepts connections and reads, but never answers: what a silently dropped
// connection looks like from this side.
const held: unknown[] = [];
const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void held.push(s), data() {} } });
afterAll(() => silent.stop(true));

function client(timeoutMs: number) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${silent.port}`, skipTLSVerify: false }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return makeKubeClient(kc, "test", timeoutMs);
}

describe("API request timeouts", () => {
  test("a request without an answer fails after the timeout, naming the object", async () => {
    const t0 = performance.now();
    const err = await client(300)
      .request({ path: "/apis/coordination.k8s.io/v1/namespaces/x/leases/l" }, "get Lease x/l")
      .then(() => undefined, (e) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(KubeError);
    expect((err as Error).message).toBe("get Lease x/l: 0 Timeout: no answer within 0.3s");
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);
  });

  test("the caller's own abort still wins and is not reported as a timeout", async () => {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 50);
    const err = await client(5000)
      .request({ path: "/x", signal: ctl.signal }, "list x")
      .then(() => undefined, (e) => e);
    expect((err as KubeError).reason).toBe("Unreachable");
  });

  test("a watch whose headers never come fails after the timeout", async () => {
    const err = await client(300)
      .stream({ path: "/api/v1/namespaces/x/pods", query: { watch: 1 } })
      .then(() => undefined, (e) => e);
    expect(String((err as Error).message)).toBe("watch /api/v1/namespaces/x/pods: no answer within 0.3s");
  });

  test("the default timeout is 10 s", async () => {
    const { REQUEST_TIMEOUT_MS } = await import("../../src/kube/client.ts");
    expect(REQUEST_TIMEOUT_MS).toBe(10_000);
  });
});

describe("the in-process lock guard never outlives its request", () => {
  test("a Lease write that times out frees the guard: the next attempt asks the API server again instead of answering locked", async () => {
    const { makeLeaseLocks } = await import("../../src/kube/lease-locks.ts");
    const locks = makeLeaseLocks(client(200), "locks");
    const web = { kind: "Deployment" as const, namespace: "shop", name: "web" };
    const first = locks.acquire(web, "pod-a", "alice", 300, undefined).then(() => "acquired", (e: unknown) => e);
    // Meanwhile a concurrent request in this process is refused at once.
    expect(await locks.acquire(web, "pod-a", "bob", 300, undefined)).toBe(false);
    expect(await first).toBeInstanceOf(KubeError);
    const again = await locks.acquire(web, "pod-a", "carol", 300, undefined).then(() => "acquired", (e: unknown) => e);
    expect(again).toBeInstanceOf(KubeError);
    expect((again as Error).message).toContain("Timeout");
  });
});
