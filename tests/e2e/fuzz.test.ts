// e2e fuzz: ≥10,000 seeded random requests against the real app process — no 5xx, the process survives, and nothing is ever patched.
import { beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { auditEvents, auditFlushed } from "../support/audit.ts";
import { type AppProcess, getJson, kubectl, startApp, tempDir, waitRollout, writeFile } from "../support/harness.ts";
import { kwokDeployment } from "../support/workloads.ts";

const NS = "k8s-restart-app-fuzz";
const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 32;
const MAX_BODY = 100 * 1024;

// The token belongs to a user that the config allows to see but never to restart: a restart with
// it is refused by the app's authorization (403), one without it by authentication (401). So
// "nothing patched" is guaranteed by the app's checks, not by the fuzzer's luck.
const TOKEN = randomBytes(24).toString("base64url");
const CONFIG = [
  "services:",
  `  - {kind: Deployment, name: fuzz-target, namespace: ${NS}, allowedUsers: [someone-else]}`,
  `  - {kind: StatefulSet, name: fuzz-ghost, namespace: ${NS}, viewUsers: [someone-else], allowedUsers: [someone-else]}`,
  "",
].join("\n");

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, chance: (p: number) => next() < p, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof prng>;

const NOISE = (() => {
  const r = prng(SEED ^ 0x5eed);
  const b = new Uint8Array(MAX_BODY);
  for (let i = 0; i < b.length; i++) b[i] = r.int(256);
  return b;
})();

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
const URLISH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%";
const str = (r: Rng, chars: string, max: number) => Array.from({ length: r.int(max + 1) }, () => chars[r.int(chars.length)]).join("");
const pctBytes = (r: Rng, n: number) => Array.from({ length: n }, () => `%${r.int(256).toString(16).padStart(2, "0")}`).join("");

function segment(r: Rng): string {
  switch (r.int(12)) {
    case 0:
      return r.pick(["Deployment", "StatefulSet", "DaemonSet", "deployment", "DEPLOYMENT", "Pod", "CronJob", "", "Deployment%00"]);
    case 1:
      return r.pick([NS, "shop", "billing", "kube-system", "default", NS.toUpperCase(), `${NS}.`, `%6B8s-restart-app-fuzz`]);
    case 2:
      return r.pick(["fuzz-target", "fuzz-ghost", "web", "fuzz-target.", "fuzz-target%2Fx", "FUZZ-TARGET", "fuzz_target"]);
    case 3:
      return r.pick(["..", ".", "%2e%2e", "%2E%2E", "%2e", ".%2e", "..%2f..%2f", "%2F", "%5C..%5C", "...."]);
    case 4:
      return r.pick(["%", "%z", "%zz", "%e0%a4%a", "%ff%fe", "%c0%ae%c0%ae", "%00", "%0d%0a", "%25", "%%32%65"]);
    case 5:
      return str(r, URLISH, 40);
    case 6:
      // Any code point but the lone surrogates, which are not text (encodeURIComponent refuses them).
      return encodeURIComponent(Array.from({ length: r.int(12) }, () => String.fromCodePoint(r.int(0x2f800)) ).map((c) => (/[\ud800-\udfff]/.test(c) && c.length === 1 ? "\ufffd" : c)).join(""));
    case 7:
      return "a".repeat(r.int(20_000));
    case 8:
      return pctBytes(r, r.int(64));
    case 9:
      return str(r, URLISH, 300);
    case 10:
      return `${r.pick(["fuzz-target", NS])}${r.pick(["%20", "%09", "%0a", ";x=1", "?", "#"])}`;
    default:
      return "";
  }
}

const ROUTES = ["/", "/healthz", "/readyz", "/metrics", "/api/v1/service", "/api/v1/service/", "/api/v1/service/status", "/ui/status", "/static/htmx.min.js", "/static/app.css", "/favicon.ico", "/static/", "//", "/api", "/api/v1"];

function path(r: Rng): string {
  let p: string;
  switch (r.int(7)) {
    case 0:
      p = r.pick(ROUTES);
      break;
    case 1:
      // The one valid restart target: refused by authentication or authorization, never patched.
      p = `/api/v1/service/Deployment/${NS}/fuzz-target/restart`;
      break;
    case 2:
    case 3:
      p = `/api/v1/service/${segment(r)}/${segment(r)}/${segment(r)}/${r.pick(["restart", "restart", "status", "restart/", "Restart", "restart/..", ""])}`;
      break;
    case 4:
      p = `/api/v1/service/${r.pick(["Deployment", "StatefulSet"])}/${NS}/${r.pick(["fuzz-target", "fuzz-ghost"])}/${r.pick(["restart", "status"])}`;
      break;
    case 5:
      p = `/${Array.from({ length: r.int(8) }, () => segment(r)).join("/")}`;
      break;
    default:
      p = `${r.pick(ROUTES)}${r.pick(["/..", "/../api/v1/service/Deployment/" + NS + "/fuzz-target/restart", "%2f..", "/.", "//x"])}`;
  }
  if (r.chance(0.2)) p += `?${str(r, URLISH, 60)}`;
  return p;
}

function headers(r: Rng, base: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.chance(0.4)) h.Origin = r.pick([base, "https://evil.example", "null", "http://127.0.0.1", str(r, PRINTABLE, 40), `${base}/`, base.replace("127.0.0.1", "localhost")]);
  if (r.chance(0.4)) h["Sec-Fetch-Site"] = r.pick(["same-origin", "cross-site", "same-site", "none", str(r, PRINTABLE, 20)]);
  if (r.chance(0.5)) {
    h.Authorization = r.pick([
      `Bearer ${TOKEN}`,
      `Bearer ${TOKEN}`,
      `Bearer ${str(r, URLISH, 64)}`,
      `bearer  ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN} ${TOKEN}`,
      `Basic ${btoa(`fuzzer:${TOKEN}`)}`,
      "Bearer",
      str(r, PRINTABLE, 200),
      `Bearer ${"x".repeat(r.int(8000))}`,
    ]);
  }
  if (r.chance(0.4)) h["Content-Type"] = r.pick(["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "application/strategic-merge-patch+json", str(r, PRINTABLE, 40)]);
  if (r.chance(0.4)) h.Accept = r.pick(["text/html", "application/json", "*/*", "text/html;q=0", str(r, PRINTABLE, 30)]);
  if (r.chance(0.2)) h["HX-Request"] = r.pick(["true", "false", "TRUE"]);
  if (r.chance(0.2)) h["X-Request-Id"] = str(r, PRINTABLE, 100);
  // Proxy identity headers must mean nothing in token mode.
  if (r.chance(0.15)) h["X-Forwarded-User"] = r.pick(["someone-else", "admin", str(r, PRINTABLE, 20)]);
  if (r.chance(0.1)) h["X-Forwarded-Groups"] = "system:masters,someone-else";
  if (r.chance(0.05)) Object.assign(h, { Upgrade: "websocket", Connection: "Upgrade" });
  if (r.chance(0.1)) h[`X-${str(r, "abcdefghijklmnopqrstuvwxyz-", 20)}z`] = str(r, PRINTABLE, 500);
  return h;
}

function body(r: Rng): Uint8Array<ArrayBuffer> | string | undefined {
  switch (r.int(5)) {
    case 0:
      return undefined;
    case 1:
      return JSON.stringify({ kind: "Deployment", namespace: NS, name: "fuzz-target", user: "someone-else", spec: { paused: false } });
    case 2: {
      const n = r.int(MAX_BODY + 1);
      const start = r.int(MAX_BODY - n + 1);
      return NOISE.subarray(start, start + n);
    }
    case 3:
      return str(r, PRINTABLE, 2000);
    default:
      return NOISE.subarray(0, r.int(512));
  }
}

const METHODS = ["GET", "GET", "POST", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];

interface Outcome {
  status?: number;
  error?: string;
}

interface Req {
  i: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer> | string;
  raw: boolean;
}

/** Request i is a pure function of (SEED, i): a failure is reproduced with FUZZ_SEED and its index. */
function request(i: number, base: string): Req {
  const r = prng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  // Half the requests are restart attempts (POST to a restart-shaped path), the part that writes.
  const restartish = r.chance(0.5);
  const method = restartish ? "POST" : r.pick(METHODS);
  const target = restartish
    ? `/api/v1/service/${r.chance(0.5) ? `Deployment/${NS}/fuzz-target` : `${segment(r)}/${segment(r)}/${segment(r)}`}/restart`
    : path(r);
  const req: Req = { i, method, path: target, headers: headers(r, base), raw: r.chance(0.3), body: undefined };
  if (method !== "GET" && method !== "HEAD") req.body = body(r);
  if (req.raw && r.chance(0.3)) {
    // Only raw requests can carry paths a URL parser would normalize, and a complete websocket handshake.
    req.path = r.pick([
      `/api/v1/service/Deployment/${NS}/../${NS}/fuzz-target/restart`,
      `/api/v1/service/Deployment/${NS}/fuzz-target/./restart`,
      `/api/v1/service/../service/Deployment/${NS}/fuzz-target/restart`,
      `/static/../../../../etc/passwd`,
      `/api/v1/service/Deployment/${NS}/fuzz-target/restart/../restart`,
      `/api/v1/service/Deployment//${NS}/fuzz-target/restart`,
      `http://evil.example/api/v1/service/Deployment/${NS}/fuzz-target/restart`,
      "*",
      `/api/v1/service/${NS}/status`,
      "/api/v1/service/status",
      "/ui/status",
      `/api/v1/service/Deployment/${NS}/fuzz-target/status`,
    ]);
    if (r.chance(0.5)) {
      req.method = "GET";
      req.body = undefined;
      const key = Buffer.from(NOISE.subarray(i % 1000, (i % 1000) + 16)).toString("base64");
      Object.assign(req.headers, { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13" });
    }
  }
  return req;
}

async function viaFetch(base: string, q: Req): Promise<Outcome> {
  let url: string;
  try {
    // Concatenated, not resolved: "//x" must stay a path, not become a host.
    url = new URL(base + q.path).href;
  } catch {
    return { status: 0, error: "client: unparseable URL (not sent)" };
  }
  try {
    const res = await fetch(url, { method: q.method, headers: q.headers, body: q.body, redirect: "manual", signal: AbortSignal.timeout(15_000) });
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  } catch (e) {
    return { error: String(e) };
  }
}

/** One HTTP/1.1 request written byte for byte; resolves with the status line's code. */
function viaSocket(port: number, q: Req): Promise<Outcome> {
  const bodyBytes = q.body === undefined ? new Uint8Array() : typeof q.body === "string" ? new TextEncoder().encode(q.body) : q.body;
  const head = [`${q.method} ${q.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
  for (const [k, v] of Object.entries(q.headers)) if (k.toLowerCase() !== "connection") head.push(`${k}: ${v}`);
  if (q.method !== "GET" && q.method !== "HEAD") head.push(`Content-Length: ${bodyBytes.length}`);
  const data = Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), Buffer.from(bodyBytes)]);
  return new Promise((resolve) => {
    let got = "";
    let done = false;
    const sock = connect(port, "127.0.0.1");
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ error: "timeout after 15s" }), 15_000);
    sock.on("connect", () => sock.end(data));
    sock.on("data", (chunk: Buffer) => {
      got += chunk.toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) finish({ status: Number(m[1]) });
      else if (got.length >= 12) finish({ error: `not HTTP: ${JSON.stringify(got.slice(0, 40))}` });
    });
    // An early close is tolerated only if it follows a response; EPIPE/ECONNRESET after a 413 is fine.
    sock.on("error", (e) => finish({ error: String(e) }));
    sock.on("close", () => finish({ error: "closed without a status line" }));
  });
}

const describeReq = (q: Req) =>
  `#${q.i} ${q.raw ? "raw " : ""}${q.method} ${q.path.length > 200 ? `${q.path.slice(0, 200)}…(${q.path.length})` : q.path} headers=${JSON.stringify(
    Object.fromEntries(Object.entries(q.headers).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v])),
  )} body=${q.body === undefined ? "none" : q.body.length}`;

let app: AppProcess;

beforeAll(async () => {
  await kubectl(["create", "namespace", NS], { allowFail: true });
  await kubectl(["-n", NS, "delete", "lease", "--all", "--wait=true"]);
  const d = kwokDeployment(NS, "fuzz-target");
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify(d) });
  await waitRollout("Deployment", NS, "fuzz-target");
  const tokens = writeFile(tempDir("k8s-restart-app-fuzz-"), "tokens.yaml", `- {token: "${TOKEN}", user: fuzzer, groups: [fuzz]}\n`);
  app = await startApp({ configYaml: CONFIG, env: { LOCK_NAMESPACE: NS, AUTH_MODE: "token", AUTH_TOKENS_FILE: tokens } });
}, 120_000);

test(`${COUNT} random requests: no 5xx, the app survives, nothing is patched`, async () => {
  console.log(`fuzz: seed ${SEED} (rerun with FUZZ_SEED=${SEED}), ${COUNT} requests, ${CONCURRENCY} in flight`);
  const before = await getJson(["-n", NS, "get", "deployment", "fuzz-target"]);
  const since = new Date().toISOString();
  const port = Number(new URL(app.url).port);
  const codes = new Map<string, number>();
  const failures: string[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < COUNT) {
      const q = request(next++, app.url);
      const o = q.raw ? await viaSocket(port, q) : await viaFetch(app.url, q);
      const key = o.status !== undefined ? String(o.status) : `error: ${o.error!.slice(0, 60)}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
      const bad = (o.status !== undefined && o.status >= 500) || (o.error !== undefined && !tolerated(q, o));
      if (bad) failures.push(`${describeReq(q)} → ${o.status ?? o.error}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const ms = Math.round(performance.now() - started);
  console.log(`fuzz: ${COUNT} requests in ${ms} ms; outcomes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
  if (failures.length) console.log(`fuzz: seed ${SEED}: ${failures.length} failures, first ones:\n${failures.slice(0, 20).join("\n")}`);
  expect(failures).toEqual([]);

  expect(app.proc.exitCode).toBeNull();
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
  const list = await fetch(`${app.url}/api/v1/service`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(await list.json()).toEqual({ services: [{ kind: "Deployment", name: "fuzz-target", namespace: NS }] });

  // Nothing patched: not in the API server's audit log, not on the object, not in the app's own audit.
  await auditFlushed();
  const patches = auditEvents(since, (e) => e.verb === "patch" && (e.objectRef?.namespace === NS || (e.userAgent ?? "").startsWith("k8s-restart-app")) && e.objectRef?.resource !== "leases");
  expect(patches.filter((e) => e.objectRef?.namespace === NS)).toEqual([]);
  const after = await getJson(["-n", NS, "get", "deployment", "fuzz-target"]);
  expect(after.metadata.generation).toBe(before.metadata.generation);
  expect(after.spec.template.metadata.annotations).toEqual(before.spec.template.metadata.annotations);
  const audit = app.entries().filter((e) => e.audit === true);
  const outcomes = new Map<string, number>();
  for (const e of audit) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
  console.log(`fuzz: app audit outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
  expect(outcomes.get("restarted")).toBeUndefined();
  // Both refusals were exercised, so the guarantee above was really put to the test.
  expect(outcomes.get("unauthenticated")).toBeGreaterThan(100);
  expect(outcomes.get("forbidden")).toBeGreaterThan(100);
  expect(app.entries().filter((e) => e.level === "error")).toEqual([]);
}, 170_000);

/**
 * Transport errors that are not the app's fault and say nothing about it: the server may answer
 * an oversized body (413) and close before the client finished sending it.
 */
function tolerated(q: Req, o: Outcome): boolean {
  const size = q.body === undefined ? 0 : typeof q.body === "string" ? q.body.length : q.body.byteLength;
  return size > 64 * 1024 && /EPIPE|ECONNRESET|closed|socket/i.test(o.error ?? "");
}
