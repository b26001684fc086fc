// Covers src/http/hosts.ts (DNS rebinding), requrl.ts (no Host), drain.ts (shutdown of in-flight work) and wsfeed.ts (websocket memory bounds).
import { describe, expect, test } from "bun:test";
import { parseEnv } from "../../src/config/env.ts";
import { makeDrain } from "../../src/http/drain.ts";
import { describeHosts, fromBrowser, hostAllowed, hostRefusal } from "../../src/http/hosts.ts";
import { requestUrl } from "../../src/http/requrl.ts";
import { acknowledged, makeConnectionCap, makeRenderCache, pump, topicsFor } from "../../src/http/wsfeed.ts";

describe("ALLOWED_HOSTS (issue 15 #4)", () => {
  const defaults = parseEnv({}).allowedHosts;
  test.each([
    ["localhost:8080", true],
    ["LOCALHOST", true],
    ["app.localhost", true],
    ["127.0.0.1:8080", true],
    ["10.1.2.3", true],
    ["[::1]:8080", true],
    ["k8s-restart-app.restart-app.svc", true],
    ["k8s-restart-app.restart-app.svc.cluster.local:80", true],
    ["evil.example", false],
    ["evil.example:8080", false],
    ["localhost.evil.example", false],
    ["svc", false],
    ["", false],
  ])("default list: %j allowed %p", (host, want) => {
    expect(hostAllowed(host, defaults)).toBe(want);
  });

  test("an explicit list replaces the names (IP literals stay accepted); *.domain matches names below it, not the domain", () => {
    const hosts = parseEnv({ ALLOWED_HOSTS: "restart.example.com, *.corp.example" }).allowedHosts;
    expect(hostAllowed("restart.example.com", hosts)).toBe(true);
    expect(hostAllowed("a.b.corp.example", hosts)).toBe(true);
    expect(hostAllowed("corp.example", hosts)).toBe(false);
    expect(hostAllowed("localhost", hosts)).toBe(false);
    expect(hostAllowed("192.168.0.10:8080", hosts)).toBe(true);
    expect(hostAllowed("anything.at.all", parseEnv({ ALLOWED_HOSTS: "*" }).allowedHosts)).toBe(true);
  });

  test.each(["https://x.example", "x.example:8080", "x.example/path", "*x.example", "a..b"])("ALLOWED_HOSTS=%j is a configuration error naming the variable", (v) => {
    expect(() => parseEnv({ ALLOWED_HOSTS: v })).toThrow(/^ALLOWED_HOSTS: /);
  });

  test("only browser requests are checked; the refusal names ALLOWED_HOSTS", () => {
    const req = (headers: Record<string, string>) => new Request("http://evil.example/", { headers: { host: "evil.example", ...headers } });
    expect(fromBrowser(req({}))).toBe(false);
    expect(hostRefusal(req({}), defaults)).toBeUndefined();
    for (const h of [{ origin: "http://evil.example" }, { "sec-fetch-site": "same-origin" }, { "sec-fetch-mode": "websocket" }] as Record<string, string>[]) {
      expect(hostRefusal(req(h), defaults)).toContain("ALLOWED_HOSTS");
    }
    expect(hostRefusal(new Request("http://localhost:8080/", { headers: { host: "localhost:8080", origin: "http://localhost:8080" } }), defaults)).toBeUndefined();
    expect(describeHosts(defaults)).toBe("localhost, *.localhost, *.svc, *.svc.cluster.local, IP literals");
  });
});

describe("a request without Host (issue 15 #16)", () => {
  test("a bare path still gives a URL", () => {
    expect(requestUrl({ url: "/api/v1/service?wait=3" } as Request).pathname).toBe("/api/v1/service");
    expect(requestUrl({ url: "/api/v1/service?wait=3" } as Request).searchParams.get("wait")).toBe("3");
    expect(requestUrl({ url: "http://x:1/a" } as Request).pathname).toBe("/a");
  });
});

describe("shutdown drain (issue 15 #11)", () => {
  const svc = { kind: "Deployment", namespace: "shop", name: "web" };
  test("restarts that finish within the grace period finish; the others are released and reported; ?wait callers are answered; nothing new is taken", async () => {
    const released: string[] = [];
    let wake!: () => void;
    const grace = new Promise<void>((r) => (wake = r));
    const d = makeDrain({ graceMs: 10_000, release: async (f) => void released.push(f.requestId), sleep: () => grace });
    let finishFast!: () => void;
    const fast = d.track({ service: svc, requestId: "fast" }, () => new Promise<void>((r) => (finishFast = r)));
    const slow = d.track({ service: { ...svc, name: "db" }, requestId: "slow" }, () => new Promise<void>(() => {}));
    expect(fast).toBeDefined();
    expect(slow).toBeDefined();
    let answered = 0;
    d.onDrain(() => answered++);
    const gone = d.onDrain(() => answered++);
    gone();
    const report = d.drain();
    expect(d.draining()).toBe(true);
    expect(answered).toBe(1);
    expect(d.track({ service: svc, requestId: "late" }, async () => 1)).toBeUndefined();
    finishFast();
    await Bun.sleep(1);
    wake();
    const r = await report;
    expect(r.finished).toBe(1);
    expect(r.interrupted.map((f) => f.requestId)).toEqual(["slow"]);
    expect(released).toEqual(["slow"]);
    expect(r.waitersAnswered).toBe(1);
  });

  test("with nothing in flight it returns at once", async () => {
    const d = makeDrain({ graceMs: 60_000, release: async () => {} });
    const t0 = performance.now();
    expect(await d.drain()).toEqual({ finished: 0, interrupted: [], waitersAnswered: 0 });
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("SHUTDOWN_GRACE_SEC defaults to 10", () => {
    expect(parseEnv({}).shutdownGraceSec).toBe(10);
    expect(() => parseEnv({ SHUTDOWN_GRACE_SEC: "0" })).toThrow(/^SHUTDOWN_GRACE_SEC: /);
  });
});

describe("websocket memory bounds (issue 15 #17)", () => {
  const socket = (answers: number[]) => {
    const sent: string[] = [];
    const closed: number[] = [];
    const pings: string[] = [];
    return {
      sent,
      closed,
      pings,
      ws: { send: (m: string) => (sent.push(m), answers.shift() ?? 10), ping: (d?: string) => (pings.push(d ?? ""), 1), close: (c?: number) => void closed.push(c ?? 0) },
    };
  };

  test("the initial state is handed over one message at a time: a queued message stops the feed until drain", () => {
    const { ws, sent } = socket([10, -1, 10, 10]);
    const state = { next: 0, total: 4 };
    const piece = (i: number) => `m${i}`;
    expect(pump(ws, state, piece)).toBe(false);
    expect(sent).toEqual(["m0", "m1"]);
    // drain
    expect(pump(ws, state, piece)).toBe(true);
    expect(sent).toEqual(["m0", "m1", "m2", "m3"]);
  });

  test("a client that never reads holds at most one message in the process", () => {
    const { ws, sent } = socket([-1, -1, -1]);
    const state = { next: 0, total: 300 };
    pump(ws, state, (i) => `m${i}`);
    expect(sent).toHaveLength(1);
  });

  test("the state goes at most one window ahead of what the client has read: a ping ends each window, its pong opens the next", () => {
    const { ws, sent, pings } = socket([]);
    const state: { next: number; total: number; unacked?: number } = { next: 0, total: 10 };
    const piece = () => "x".repeat(100);
    expect(pump(ws, state, piece, 250)).toBe(false);
    expect(sent).toHaveLength(3);
    expect(pings).toEqual(["feed"]);
    // A heartbeat pong (empty) is not an acknowledgement.
    expect(acknowledged(state, "")).toBe(false);
    expect(pump(ws, state, piece, 250)).toBe(false);
    expect(sent).toHaveLength(3);
    expect(acknowledged(state, "feed")).toBe(true);
    pump(ws, state, piece, 250);
    expect(sent).toHaveLength(6);
    for (let i = 0; i < 3; i++) (acknowledged(state, "feed"), pump(ws, state, piece, 250));
    expect(sent).toHaveLength(10);
  });

  test("a dropped message (over the buffer limit) closes the socket as too slow", () => {
    const { ws, closed } = socket([0]);
    expect(pump(ws, { next: 0, total: 3 }, (i) => `m${i}`)).toBe(false);
    expect(closed).toEqual([1008]);
  });

  test("renderings are shared while the status is unchanged", () => {
    const cache = makeRenderCache();
    let renders = 0;
    const v1 = {};
    for (let i = 0; i < 10_000; i++) cache.get("html:web:allowed", v1, () => `r${++renders}`);
    expect(renders).toBe(1);
    expect(cache.get("html:web:allowed", {}, () => `r${++renders}`)).toBe("r2");
  });

  test("connections per address are capped; closing frees a slot; 0 = no cap", () => {
    const cap = makeConnectionCap(2);
    expect([cap.admit("a"), cap.admit("a"), cap.admit("a"), cap.admit("b")]).toEqual([true, true, false, true]);
    cap.release("a");
    expect(cap.admit("a")).toBe(true);
    const none = makeConnectionCap(0);
    for (let i = 0; i < 1000; i++) expect(none.admit("a")).toBe(true);
    expect(parseEnv({}).websocketMaxPerAddress).toBe(100);
    expect(parseEnv({}).websocketBufferBytes).toBe(16384);
  });
});

describe("websocket topics (issue 15 #17)", () => {
  const ids = ["a", "b", "c"];
  test("a socket that sees everything with one audience shares one topic", () => {
    expect(topicsFor("json", ids, 3, () => "allowed")).toEqual(["json:*"]);
    expect(topicsFor("html", ids, 3, () => "allowed")).toEqual(["html:*", "html:banner"]);
  });
  test("a restricted view or mixed audiences subscribe per service", () => {
    expect(topicsFor("json", ["a"], 3, () => "allowed")).toEqual(["json:a"]);
    expect(topicsFor("html", ids, 3, (id) => (id === "b" ? "denied" : "allowed"))).toEqual(["html:a:allowed", "html:b:denied", "html:c:allowed", "html:banner"]);
  });
});
