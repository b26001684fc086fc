// Covers src/kube/cluster.ts against a fake KubeClient: detail watches (Events, ReplicaSets, ControllerRevisions) started only where allowed, and what an Event or revision touches.
import { describe, expect, test } from "bun:test";
import type { KubeClient, KubeRequest } from "../../src/kube/client.ts";
import { type ChangeScope, eventScope, watchCluster } from "../../src/kube/cluster.ts";
import { detailsBanner } from "../../src/http/render.ts";
import { initialEventLines } from "../support/initial-events.ts";

/** Lists and streaming lists answer from a table by path; watches then stay open (and quiet) until aborted. */
function fakeClient(items: Record<string, unknown[]>) {
  const listed: string[] = [];
  const client: KubeClient = {
    server: "https://fake.invalid",
    async request<T>(req: KubeRequest): Promise<T> {
      listed.push(req.path);
      return { metadata: { resourceVersion: "1" }, items: items[req.path] ?? [] } as T;
    },
    async stream(req: KubeRequest): Promise<Response> {
      if (req.query?.sendInitialEvents) listed.push(req.path);
      const body = new ReadableStream({
        start: (c) => {
          if (req.query?.sendInitialEvents) c.enqueue(new TextEncoder().encode(initialEventLines(items[req.path] ?? [])));
          req.signal?.addEventListener("abort", () => c.close());
        },
      });
      return new Response(body, { status: 200 });
    },
  };
  return { client, listed };
}

const SERVICES = [
  { kind: "Deployment" as const, namespace: "shop", name: "web" },
  { kind: "StatefulSet" as const, namespace: "shop", name: "db" },
];

describe("detail watches", () => {
  test("Events, ReplicaSets and ControllerRevisions are watched per namespace, except where the app may not read them", async () => {
    const { client, listed } = fakeClient({});
    const view = watchCluster({ client, services: SERVICES, lockNamespace: "locks", log: () => {}, missingDetails: [{ resource: "events", namespace: "shop" }] });
    await view.start();
    expect(listed).toContain("/apis/apps/v1/namespaces/shop/replicasets");
    expect(listed).toContain("/apis/apps/v1/namespaces/shop/controllerrevisions");
    expect(listed).not.toContain("/api/v1/namespaces/shop/events");
    expect(view.detailGaps()).toEqual(["events in shop"]);
    expect(view.events("shop")).toEqual([]);
    expect(view.synced()).toBe(true);
    view.stop();
    expect(detailsBanner(view.detailGaps())).toContain("may not read events in shop");
    expect(detailsBanner([])).toBe("");
  });

  test("an Event about a pod touches the services selecting its labels; one about a ReplicaSet touches its Deployment; revisions are found by owner", async () => {
    const owner = [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "uid-web", controller: true }];
    const { client } = fakeClient({
      "/api/v1/namespaces/shop/pods": [{ metadata: { name: "web-abc-x1y2z", namespace: "shop", resourceVersion: "1", labels: { app: "web" } } }],
      "/apis/apps/v1/namespaces/shop/replicasets": [{ metadata: { name: "web-abc", namespace: "shop", resourceVersion: "1", ownerReferences: owner } }],
      "/api/v1/namespaces/shop/events": [
        { metadata: { name: "e1", namespace: "shop", resourceVersion: "2" }, involvedObject: { kind: "Pod", name: "web-abc-x1y2z" }, reason: "BackOff" },
        { metadata: { name: "e2", namespace: "shop", resourceVersion: "3" }, involvedObject: { kind: "ReplicaSet", name: "web-abc" }, reason: "FailedCreate" },
        { metadata: { name: "e3", namespace: "shop", resourceVersion: "4" }, involvedObject: { kind: "Node", name: "n1" }, reason: "NodeNotReady" },
      ],
    });
    const view = watchCluster({ client, services: SERVICES, lockNamespace: "locks", log: () => {} });
    const scopes: ChangeScope[] = [];
    view.onChange((s) => scopes.push(s));
    await view.start();
    // The detail caches start once the rest is synced; each tells its namespace when it is filled.
    for (let i = 0; i < 100 && scopes.filter((s) => s.namespace === "shop" && Object.keys(s).length === 1).length < 3; i++) await Bun.sleep(5);
    view.stop();
    expect(scopes).toContainEqual({ namespace: "shop", podLabels: [{ app: "web" }] });
    const ev = (kind: string, name: string) => ({ metadata: {}, involvedObject: { kind, name } });
    const rsOwner = (_ns: string, name: string) => (name === "web-abc" ? { kind: "Deployment", name: "web" } : undefined);
    const labels = (_ns: string, name: string) => (name === "web-abc-x1y2z" ? { app: "web" } : undefined);
    expect(eventScope("shop", ev("ReplicaSet", "web-abc"), labels, rsOwner)).toEqual({ namespace: "shop", workload: { kind: "Deployment", name: "web" } });
    expect(eventScope("shop", ev("StatefulSet", "db"), labels, rsOwner)).toEqual({ namespace: "shop", workload: { kind: "StatefulSet", name: "db" } });
    expect(eventScope("shop", ev("Pod", "gone-pod"), labels, rsOwner)).toBeUndefined();
    expect(eventScope("shop", ev("Node", "n1"), labels, rsOwner)).toBeUndefined();
    expect(view.replicaSets("shop", "uid-web").map((r) => r.metadata?.name)).toEqual(["web-abc"]);
    expect(view.replicaSets("shop", "someone-else")).toEqual([]);
    expect(view.events("shop")).toHaveLength(3);
  });

  test("readiness does not wait for the detail caches: start() resolves once workloads and pods are synced; the details' namespace is told when they arrive", async () => {
    const { client } = fakeClient({});
    let releaseEvents!: () => void;
    const eventsHeld = new Promise<void>((r) => (releaseEvents = r));
    const inner = client.stream.bind(client);
    // The Events watch sends its initial events only when the test says so.
    client.stream = async (req) => (req.path.endsWith("/events") ? (await eventsHeld, inner(req)) : inner(req));
    const view = watchCluster({ client, services: SERVICES, lockNamespace: "locks", log: () => {}, locks: { lease: () => undefined, onChange: () => {} } as never });
    const scopes: ChangeScope[] = [];
    view.onChange((s) => scopes.push(s));
    await view.start(); // while the Events watch has sent nothing
    expect(view.synced()).toBe(true);
    // Still on its first request: not a disconnected watch (/readyz stays "ok", no Stale banner).
    expect(view.disconnected()).toEqual([]);
    // ReplicaSets and ControllerRevisions start after it and tell their namespace; Events only once released.
    for (let i = 0; i < 100 && scopes.length < 2; i++) await Bun.sleep(5);
    await Bun.sleep(20);
    expect(scopes).toEqual([{ namespace: "shop" }, { namespace: "shop" }]);
    let filled = false;
    void view.detailsFilled?.().then(() => (filled = true));
    await Bun.sleep(20);
    expect(filled).toBe(false); // the Events are still out
    releaseEvents();
    for (let i = 0; i < 100 && scopes.length === 2; i++) await Bun.sleep(5);
    expect(scopes).toEqual([{ namespace: "shop" }, { namespace: "shop" }, { namespace: "shop" }]);
    await Bun.sleep(5);
    expect(filled).toBe(true);
    view.stop();
  });
});
