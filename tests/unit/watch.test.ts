// Covers src/kube/watch.ts WatchCache against a fake KubeClient: the streaming list (one watch with initial events) and its fallback to list + watch, watch events, 410, retries with backoff, pagination, stop.
import { afterEach, describe, expect, test } from "bun:test";
import { KubeError, type KubeClient, type KubeRequest } from "../../src/kube/client.ts";
import type { ObjectList, WatchEvent } from "../../src/kube/types.ts";
import { type ChangeType, IDLE_LIMIT_MS, WatchCache } from "../../src/kube/watch.ts";
import { endOfInitialEvents } from "../support/initial-events.ts";

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
  data?: string;
}
const obj = (name: string, rv: string, data = ""): Obj => ({ metadata: { name, namespace: "shop", resourceVersion: rv }, data });
const PATH = "/api/v1/namespaces/shop/configmaps";

interface Stream {
  req: KubeRequest;
  send(ev: WatchEvent<unknown> | string): void;
  end(): void;
}

/** A KubeClient whose list answers and watch streams the test controls. */
class FakeKube implements KubeClient {
  readonly server = "https://fake.invalid";
  listCalls: KubeRequest[] = [];
  streams: Stream[] = [];
  /** Next list answers (page or error), consumed in order; the last one repeats. */
  lists: (ObjectList<Obj> | Error)[] = [];
  /** Status codes for the next stream() answers; 200 when empty. */
  streamStatus: { status: number; body?: unknown }[] = [];

  async request<T>(req: KubeRequest): Promise<T> {
    this.listCalls.push(req);
    const next = this.lists.length > 1 ? this.lists.shift()! : this.lists[0]!;
    if (next instanceof Error) throw next;
    return structuredClone(next) as T;
  }

  async stream(req: KubeRequest): Promise<Response> {
    const st = this.streamStatus.shift();
    if (st && st.status !== 200) return new Response(JSON.stringify(st.body ?? {}), { status: st.status });
    const enc = new TextEncoder();
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
    req.signal?.addEventListener("abort", () => {
      try {
        ctl.error(new DOMException("aborted", "AbortError"));
      } catch {
        // already closed
      }
    });
    this.streams.push({
      req,
      send: (ev) => ctl.enqueue(enc.encode(typeof ev === "string" ? ev : `${JSON.stringify(ev)}\n`)),
      end: () => ctl.close(),
    });
    return new Response(body, { status: 200 });
  }
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

const caches: WatchCache<Obj>[] = [];
afterEach(() => {
  for (const c of caches.splice(0)) c.stop();
});

function setup(lists: (ObjectList<Obj> | Error)[], opts: { backoff?: (n: number) => number; initialEvents?: boolean } = {}) {
  const kube = new FakeKube();
  kube.lists = lists;
  const attempts: number[] = [];
  const cache = new WatchCache<Obj>(kube, {
    path: PATH,
    labelSelector: "app=web",
    watchTimeoutSec: 60,
    initialEvents: opts.initialEvents ?? false,
    backoff: (n) => (attempts.push(n), (opts.backoff ?? (() => 1))(n)),
  });
  caches.push(cache);
  const events: [ChangeType, string, string][] = [];
  const prevs: (string | undefined)[] = [];
  cache.onChange((t, o, prev) => {
    events.push([t, o.metadata.name, o.metadata.resourceVersion]);
    prevs.push(prev?.metadata.resourceVersion);
  });
  const conn: boolean[] = [];
  cache.onConnection((c) => conn.push(c));
  return { kube, cache, events, prevs, conn, attempts };
}

const page = (rv: string, items: Obj[], cont?: string): ObjectList<Obj> => ({ metadata: { resourceVersion: rv, ...(cont ? { continue: cont } : {}) }, items });
const names = (c: WatchCache<Obj>) => c.list().map((o) => o.metadata.name).sort();

describe("WatchCache with list + watch (servers without streaming lists)", () => {
  test("the initial list syncs the cache and reports adds", async () => {
    const { kube, cache, events, conn } = setup([page("100", [obj("a", "90"), obj("b", "95")])]);
    expect(cache.synced).toBe(false);
    await cache.start();
    expect(cache.synced).toBe(true);
    expect(cache.connected).toBe(true);
    expect(names(cache)).toEqual(["a", "b"]);
    expect(cache.get("shop", "a")?.metadata.resourceVersion).toBe("90");
    expect(events).toEqual([["add", "a", "90"], ["add", "b", "95"]]);
    expect(conn).toEqual([true]);
    expect(kube.listCalls[0]).toMatchObject({ path: PATH, query: { labelSelector: "app=web", limit: 500, continue: undefined } });
    await until("watch", () => kube.streams.length === 1);
    expect(kube.streams[0]!.req.query).toEqual({ watch: 1, resourceVersion: "100", allowWatchBookmarks: true, labelSelector: "app=web", timeoutSeconds: 60 });
  });

  test("objects are kept without metadata.managedFields (listed or watched); everything else stays", async () => {
    const managed = (name: string, rv: string): Obj => ({ ...obj(name, rv, "d"), metadata: { ...obj(name, rv).metadata, labels: { app: "web" }, managedFields: [{ manager: "kubectl", fieldsV1: { "f:data": {} } }] } as Obj["metadata"] });
    const { kube, cache } = setup([page("100", [managed("a", "90")])]);
    await cache.start();
    expect(cache.get("shop", "a")).toEqual({ metadata: { name: "a", namespace: "shop", resourceVersion: "90", labels: { app: "web" } } as Obj["metadata"], data: "d" });
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ADDED", object: managed("b", "101") });
    await until("b", () => !!cache.get("shop", "b"));
    expect("managedFields" in cache.get("shop", "b")!.metadata).toBe(false);
    expect(cache.get("shop", "b")!.data).toBe("d");
  });

  test("ADDED, MODIFIED and DELETED events update the cache and fire handlers", async () => {
    const { kube, cache, events, prevs } = setup([page("100", [obj("a", "90")])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    const s = kube.streams[0]!;
    s.send({ type: "ADDED", object: obj("c", "101") });
    s.send({ type: "MODIFIED", object: obj("a", "102", "changed") });
    // One event split across two chunks is still parsed once.
    const line = JSON.stringify({ type: "DELETED", object: obj("c", "103") });
    s.send(line.slice(0, 20));
    s.send(`${line.slice(20)}\n`);
    await until("3 events", () => events.length === 4);
    expect(events.slice(1)).toEqual([["add", "c", "101"], ["update", "a", "102"], ["delete", "c", "103"]]);
    // Updates carry the object as it was, so a relabelled pod can be traced to both owners.
    expect(prevs.slice(1)).toEqual([undefined, "90", undefined]);
    expect(names(cache)).toEqual(["a"]);
    expect(cache.get("shop", "a")?.data).toBe("changed");
  });

  test("an update with an unchanged resourceVersion is dropped", async () => {
    const { kube, cache, events } = setup([page("100", [obj("a", "90")])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "MODIFIED", object: obj("a", "90", "same rv") });
    kube.streams[0]!.send({ type: "MODIFIED", object: obj("a", "91", "new rv") });
    await until("update", () => events.length === 2);
    expect(events).toEqual([["add", "a", "90"], ["update", "a", "91"]]);
  });

  test("BOOKMARK only moves the resourceVersion a resumed watch starts from", async () => {
    const { kube, cache, events } = setup([page("100", [obj("a", "90")])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "BOOKMARK", object: { metadata: { resourceVersion: "150" } } });
    kube.streams[0]!.end();
    await until("second watch", () => kube.streams.length === 2);
    expect(kube.streams[1]!.req.query?.resourceVersion).toBe("150");
    expect(events).toHaveLength(1);
    expect(names(cache)).toEqual(["a"]);
    expect(kube.listCalls).toHaveLength(1); // an ended stream resumes without relisting
  });

  test("an ERROR event with code 410 relists and reports the difference", async () => {
    const { kube, cache, events, conn, attempts } = setup([
      page("100", [obj("a", "90"), obj("b", "95")]),
      page("300", [obj("a", "250"), obj("c", "260")]),
    ]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ERROR", object: { kind: "Status", apiVersion: "v1", status: "Failure", message: "too old resource version: 100 (200)", reason: "Expired", code: 410 } });
    await until("relist", () => kube.listCalls.length === 2);
    await until("new watch", () => kube.streams.length === 2);
    expect(kube.streams[1]!.req.query?.resourceVersion).toBe("300");
    expect(events.slice(2)).toEqual([["delete", "b", "95"], ["update", "a", "250"], ["add", "c", "260"]]);
    expect(names(cache)).toEqual(["a", "c"]);
    expect(conn).toEqual([true]); // 410 is routine, not a disconnection
    expect(attempts).toEqual([]);
  });

  test("a 410 answer to the watch request relists", async () => {
    const { kube, cache } = setup([page("100", [])]);
    kube.streamStatus = [{ status: 410, body: { kind: "Status", code: 410, reason: "Gone" } }];
    await cache.start();
    await until("relist and watch", () => kube.listCalls.length === 2 && kube.streams.length === 1);
  });

  test("list failures are retried with the injected backoff; connection goes false then true", async () => {
    const { kube, cache, conn, attempts, events } = setup([page("100", [obj("a", "90")])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.lists = [new KubeError(503, "ServiceUnavailable", "apiserver is shutting down", `list ${PATH}`), page("200", [obj("a", "190")])];
    kube.streams[0]!.send({ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } });
    await until("reconnected", () => conn.length === 3);
    expect(conn).toEqual([true, false, true]);
    expect(attempts).toEqual([0]);
    expect(kube.listCalls).toHaveLength(3);
    expect(cache.lastError).toBe("");
    expect(events.at(-1)).toEqual(["update", "a", "190"]);
  });

  test("a watch error resumes from the last resourceVersion: no relist (issue 15 #10)", async () => {
    const { kube, cache, conn } = setup([page("100", [obj("a", "90")])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "MODIFIED", object: obj("a", "105") });
    kube.streams[0]!.send({ type: "ERROR", object: { kind: "Status", code: 500, message: "internal error" } });
    await until("second watch", () => kube.streams.length === 2);
    expect(kube.streams[1]!.req.query?.resourceVersion).toBe("105");
    expect(kube.listCalls).toHaveLength(1);
    expect(conn).toEqual([true, false, true]);
  });

  test("a watch that hears nothing for longer than the idle limit is dead: disconnected, its connection aborted, resumed from its resourceVersion (issue 15 #10)", async () => {
    const kube = new FakeKube();
    kube.lists = [page("100", [obj("a", "90")])];
    const cache = new WatchCache<Obj>(kube, { path: PATH, backoff: () => 1, watchTimeoutSec: 60, idleLimitMs: 150, initialEvents: false });
    caches.push(cache);
    const conn: boolean[] = [];
    let why = "";
    cache.onConnection((c) => {
      conn.push(c);
      if (!c) why = cache.lastError;
    });
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    // Bytes keep it alive: a bookmark every 50 ms for 400 ms.
    for (let i = 0; i < 8; i++) {
      kube.streams[0]!.send({ type: "BOOKMARK", object: { metadata: { resourceVersion: String(110 + i) } } });
      await Bun.sleep(50);
    }
    expect(conn).toEqual([true]);
    // Then silence: the connection neither delivers nor closes.
    await until("declared dead", () => conn.length === 2, 2000);
    expect(why).toBe(`watch ${PATH}: nothing heard for 0.15s (no event, bookmark or close): connection presumed dead`);
    expect(kube.streams[0]!.req.signal!.aborted).toBe(true);
    await until("resumed", () => kube.streams.length === 2 && conn.length === 3);
    expect(kube.streams[1]!.req.query?.resourceVersion).toBe("117");
    expect(kube.listCalls).toHaveLength(1);
  });

  test("by default the server is asked to end each watch well inside the idle limit", async () => {
    const kube = new FakeKube();
    kube.lists = [page("1", [])];
    const cache = new WatchCache<Obj>(kube, { path: PATH, backoff: () => 1, initialEvents: false });
    caches.push(cache);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    const t = Number(kube.streams[0]!.req.query?.timeoutSeconds);
    expect(t).toBeGreaterThanOrEqual(40);
    expect(t * 1000).toBeLessThan(IDLE_LIMIT_MS - 5000);
    expect(kube.streams[0]!.req.query?.allowWatchBookmarks).toBe(true);
  });

  test("a failing first list is retried until it succeeds; start() resolves then", async () => {
    const { kube, cache, conn, attempts } = setup([new KubeError(0, "Unreachable", "connection refused", `list ${PATH}`), new KubeError(0, "Unreachable", "connection refused", `list ${PATH}`), page("5", [obj("a", "4")])]);
    await cache.start();
    expect(kube.listCalls).toHaveLength(3);
    expect(attempts).toEqual([0, 1]);
    expect(conn).toEqual([true]); // never connected before, so no "false" transition
    expect(names(cache)).toEqual(["a"]);
  });

  test("a non-2xx watch answer disconnects, naming the error", async () => {
    const { kube, cache, conn } = setup([page("100", [])]);
    let seen = "";
    cache.onConnection((c) => {
      if (!c) seen = cache.lastError;
    });
    kube.streamStatus = [{ status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message: "configmaps is forbidden" } }];
    await cache.start();
    await until("reconnected", () => conn.length === 3);
    expect(seen).toBe(`watch ${PATH}: 403 Forbidden: configmaps is forbidden`);
  });

  test("pages are followed via continue and stored as one list", async () => {
    const kube = new FakeKube();
    const cache = new WatchCache<Obj>(kube, { path: PATH, backoff: () => 1, watchTimeoutSec: 60, initialEvents: false });
    caches.push(cache);
    kube.request = async <T>(req: KubeRequest): Promise<T> => {
      kube.listCalls.push(req);
      const cont = req.query?.continue;
      if (cont === undefined) return page("", [obj("a", "1"), obj("b", "2")], "tok-1") as T;
      if (cont === "tok-1") return page("", [obj("c", "3")], "tok-2") as T;
      return page("77", [obj("d", "4")]) as T;
    };
    await cache.start();
    expect(kube.listCalls.map((r) => r.query?.continue)).toEqual([undefined, "tok-1", "tok-2"]);
    expect(names(cache)).toEqual(["a", "b", "c", "d"]);
    await until("watch", () => kube.streams.length === 1);
    expect(kube.streams[0]!.req.query?.resourceVersion).toBe("77");
  });

  test("stop() aborts the watch and ends the loop", async () => {
    const { kube, cache, attempts } = setup([page("100", [])]);
    await cache.start();
    await until("watch", () => kube.streams.length === 1);
    const signal = kube.streams[0]!.req.signal!;
    cache.stop();
    expect(signal.aborted).toBe(true);
    await Bun.sleep(20);
    expect(kube.streams).toHaveLength(1);
    expect(kube.listCalls).toHaveLength(1);
    expect(attempts).toEqual([]);
  });
});

describe("WatchCache with a streaming list (one request fills and follows)", () => {
  test("the state arrives as initial events; the cache is synced only at the closing bookmark; no list is sent", async () => {
    const { kube, cache, events, conn } = setup([], { initialEvents: true });
    let started = false;
    const starting = cache.start().then(() => (started = true));
    await until("watch", () => kube.streams.length === 1);
    expect(kube.streams[0]!.req.query).toEqual({ watch: 1, sendInitialEvents: true, resourceVersionMatch: "NotOlderThan", resourceVersion: "", allowWatchBookmarks: true, labelSelector: "app=web", timeoutSeconds: 60 });
    const s = kube.streams[0]!;
    s.send({ type: "ADDED", object: obj("a", "90") });
    s.send({ type: "ADDED", object: obj("b", "95") });
    s.send({ type: "BOOKMARK", object: { metadata: { resourceVersion: "96" } } }); // a plain bookmark does not end them
    await Bun.sleep(20);
    expect(started).toBe(false);
    expect(cache.synced).toBe(false);
    expect(names(cache)).toEqual([]);
    expect(events).toEqual([]);
    s.send(endOfInitialEvents("100"));
    await starting;
    expect(names(cache)).toEqual(["a", "b"]);
    expect(events).toEqual([["add", "a", "90"], ["add", "b", "95"]]);
    expect(conn).toEqual([true]);
    // Changes follow on the same connection.
    s.send({ type: "MODIFIED", object: obj("a", "101") });
    await until("update", () => events.length === 3);
    expect(events[2]).toEqual(["update", "a", "101"]);
    expect(kube.listCalls).toHaveLength(0);
    expect(kube.streams).toHaveLength(1);
  });

  test("a stream that ends after its initial events resumes as a plain watch from the last resourceVersion", async () => {
    const { kube, cache } = setup([], { initialEvents: true });
    const starting = cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ADDED", object: obj("a", "90") });
    kube.streams[0]!.send(endOfInitialEvents("100"));
    await starting;
    kube.streams[0]!.send({ type: "BOOKMARK", object: { metadata: { resourceVersion: "120" } } });
    kube.streams[0]!.end();
    await until("second watch", () => kube.streams.length === 2);
    expect(kube.streams[1]!.req.query).toEqual({ watch: 1, resourceVersion: "120", allowWatchBookmarks: true, labelSelector: "app=web", timeoutSeconds: 60 });
    expect(names(cache)).toEqual(["a"]);
  });

  test("410 Gone streams the whole state again and reports the difference", async () => {
    const { kube, cache, events, conn } = setup([], { initialEvents: true });
    const starting = cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ADDED", object: obj("a", "90") });
    kube.streams[0]!.send({ type: "ADDED", object: obj("b", "95") });
    kube.streams[0]!.send(endOfInitialEvents("100"));
    await starting;
    kube.streams[0]!.send({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" } });
    await until("second watch", () => kube.streams.length === 2);
    const s = kube.streams[1]!;
    expect(s.req.query?.sendInitialEvents).toBe(true);
    s.send({ type: "ADDED", object: obj("a", "250") });
    s.send({ type: "ADDED", object: obj("c", "260") });
    expect(names(cache)).toEqual(["a", "b"]); // nothing adopted before the bookmark
    s.send(endOfInitialEvents("300"));
    await until("adopted", () => events.length === 5);
    expect(events.slice(2)).toEqual([["delete", "b", "95"], ["update", "a", "250"], ["add", "c", "260"]]);
    expect(conn).toEqual([true]);
    expect(kube.listCalls).toHaveLength(0);
  });

  test("a stream cut before its closing bookmark is retried from scratch; its partial state is never adopted", async () => {
    const { kube, cache, events, attempts } = setup([], { initialEvents: true });
    const starting = cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ADDED", object: obj("stale", "1") });
    kube.streams[0]!.end();
    await until("retried", () => kube.streams.length === 2);
    expect(attempts).toEqual([0]);
    expect(kube.streams[1]!.req.query?.sendInitialEvents).toBe(true);
    kube.streams[1]!.send({ type: "ADDED", object: obj("a", "5") });
    kube.streams[1]!.send(endOfInitialEvents("6"));
    await starting;
    expect(names(cache)).toEqual(["a"]);
    expect(events).toEqual([["add", "a", "5"]]);
  });

  test("a server that refuses sendInitialEvents (422) gets list + watch from then on", async () => {
    const { kube, cache, events, attempts } = setup([page("100", [obj("a", "90")])], { initialEvents: true });
    kube.streamStatus = [{ status: 422, body: { kind: "Status", code: 422, reason: "Invalid", message: "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled" } }];
    await cache.start();
    expect(kube.listCalls).toHaveLength(1);
    expect(events).toEqual([["add", "a", "90"]]);
    await until("plain watch", () => kube.streams.length === 1);
    expect(kube.streams[0]!.req.query).toEqual({ watch: 1, resourceVersion: "100", allowWatchBookmarks: true, labelSelector: "app=web", timeoutSeconds: 60 });
    expect(attempts).toEqual([]); // no backoff: the fallback is immediate
    // And stays: a 410 later relists rather than asking for initial events again.
    kube.streams[0]!.send({ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } });
    await until("relist", () => kube.listCalls.length === 2 && kube.streams.length === 2);
    expect(kube.streams[1]!.req.query?.sendInitialEvents).toBeUndefined();
  });

  test("a server that ignores the ask (a long watch ending without the closing bookmark) gets list + watch", async () => {
    const kube = new FakeKube();
    kube.lists = [page("100", [obj("a", "90")])];
    const cache = new WatchCache<Obj>(kube, { path: PATH, backoff: () => 1, watchTimeoutSec: 60, ignoredAfterMs: 50 });
    caches.push(cache);
    const starting = cache.start();
    await until("watch", () => kube.streams.length === 1);
    kube.streams[0]!.send({ type: "ADDED", object: obj("a", "90") }); // "get state and start at most recent", no bookmark
    await Bun.sleep(60);
    kube.streams[0]!.end();
    await starting;
    expect(kube.listCalls).toHaveLength(1);
    await until("plain watch", () => kube.streams.length === 2);
    expect(kube.streams[1]!.req.query?.resourceVersion).toBe("100");
    expect(kube.streams[1]!.req.query?.sendInitialEvents).toBeUndefined();
  });

  test("lost: not before start, not on the first request, yes once a connection failed, not when refused with 403", async () => {
    const { kube, cache } = setup([], { initialEvents: true, backoff: () => 30 });
    expect(cache.lost).toBe(false);
    kube.streamStatus = [{ status: 500, body: { kind: "Status", code: 500, reason: "InternalError", message: "boom" } }];
    const starting = cache.start();
    await until("first failure", () => cache.lastError !== "");
    expect(cache.lost).toBe(true);
    await until("second watch", () => kube.streams.length === 1);
    expect(cache.lost).toBe(false); // connected again, still streaming its initial events
    kube.streams[0]!.send(endOfInitialEvents("1"));
    await starting;
    expect(cache.lost).toBe(false);
    const refused = setup([], { initialEvents: true, backoff: () => 50 });
    refused.kube.streamStatus = [{ status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message: "no" } }];
    await refused.cache.start();
    expect(refused.cache.lost).toBe(false);
  });

  test("a 403 to the streaming watch counts as settled and forbidden, as for a list", async () => {
    const { kube, cache } = setup([], { initialEvents: true, backoff: () => 50 });
    kube.streamStatus = [{ status: 403, body: { kind: "Status", code: 403, reason: "Forbidden", message: "configmaps is forbidden" } }];
    await cache.start();
    expect(cache.forbidden).toBe(true);
    expect(cache.synced).toBe(false);
    expect(kube.listCalls).toHaveLength(0);
  });
});
