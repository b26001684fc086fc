// Covers src/http/auth.ts makeAuthn (one header per family, trusted peers, UTF-8, token reload) and src/config/cidr.ts.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inAny, parseCidr } from "../../src/config/cidr.ts";
import { type AuthSettings, parseEnv } from "../../src/config/env.ts";
import { type Authn, decodeHeader, makeAuthn } from "../../src/http/auth.ts";

const dir = mkdtempSync(join(tmpdir(), "restart-app-authn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stops: Authn[] = [];
afterEach(() => stops.splice(0).forEach((a) => a.stop()));

const settings = (o: Partial<AuthSettings> = {}): AuthSettings => ({ ...parseEnv({}).auth, ...o });
const TRUSTED = parseEnv({}).trustedProxies;
const get = (headers: Record<string, string> = {}) => new Request("http://restart.local/", { headers });
/** Bytes as a header value arrives from the wire: one char per byte. */
const wire = (s: string) => Buffer.from(s, "utf8").toString("latin1");
/** Sends raw request bytes to a real listener that answers with authn's verdict; returns the body. */
async function raw(authn: Authn, bytes: string | Buffer): Promise<string> {
  const srv = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req, s) => Response.json(authn(req, s.requestIP(req)?.address ?? "")) });
  try {
    const text = await new Promise<string>((resolve) => {
      let got = Buffer.alloc(0);
      void Bun.connect({
        hostname: "127.0.0.1",
        port: srv.port!,
        socket: {
          data: (_s, d) => {
            got = Buffer.concat([got, d]);
            const i = got.indexOf("\r\n\r\n");
            const len = Number(/content-length: (\d+)/i.exec(got.toString("latin1"))?.[1] ?? -1);
            if (i >= 0 && len >= 0 && got.length >= i + 4 + len) resolve(got.subarray(i + 4, i + 4 + len).toString("utf8"));
          },
          open: (sock) => void sock.write(bytes),
        },
      });
    });
    return text;
  } finally {
    srv.stop(true);
  }
}
const proxy = async (o: Partial<AuthSettings> = {}, log?: (l: string, m: string, f?: Record<string, unknown>) => void) =>
  makeAuthn(settings({ mode: "proxy", ...o }), { trustedProxies: TRUSTED, log });

describe("makeAuthn none", () => {
  test("everyone is anonymous, identity headers are ignored", async () => {
    const authn = await makeAuthn(settings(), { trustedProxies: TRUSTED });
    expect(authn(get({ "x-forwarded-user": "mallory", authorization: "Bearer x" }), "10.0.0.9")).toEqual({ user: "", groups: [], authenticated: false });
  });
});

describe("makeAuthn proxy: one user header, one groups header (issue 15 #1)", () => {
  test("the default headers X-Forwarded-User / X-Forwarded-Groups are read", async () => {
    const authn = await proxy();
    expect(authn(get({ "X-Forwarded-User": " alice ", "X-Forwarded-Groups": "ops,sre,," }), "127.0.0.1")).toEqual({
      user: "alice",
      groups: ["ops", "sre"],
      authenticated: true,
    });
  });

  test("the other family is ignored: X-Auth-Request-User does not sign anyone in, X-Auth-Request-Groups adds no group", async () => {
    const authn = await proxy();
    expect(authn(get({ "X-Auth-Request-User": "alice" }), "127.0.0.1")).toEqual({
      error: "no identity: expected the header X-Forwarded-User from the authenticating proxy",
      status: 401,
    });
    expect(authn(get({ "X-Forwarded-User": "bob", "X-Auth-Request-User": "alice", "X-Auth-Request-Groups": "dba" }), "127.0.0.1")).toEqual({
      user: "bob",
      groups: [],
      authenticated: true,
    });
  });

  test("a configured oauth2-proxy-style header pair is the only one read", async () => {
    const authn = await proxy({ userHeader: "X-Auth-Request-User", groupsHeader: "X-Auth-Request-Groups" });
    expect(authn(get({ "X-Auth-Request-User": "carol", "X-Forwarded-User": "alice", "X-Forwarded-Groups": "dba" }), "::1")).toEqual({
      user: "carol",
      groups: [],
      authenticated: true,
    });
  });

  test("the configured header sent twice is refused with 400, never merged", async () => {
    const authn = await proxy();
    // Bun hands a repeated header over joined with ", ".
    const res = new Response(await raw(authn, "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-User: bob\r\nX-Forwarded-Groups: ops\r\nX-Forwarded-Groups: dba\r\n\r\n"));
    const body = (await res.json()) as { status?: number; error?: string };
    expect(body.status).toBe(400);
    expect(body.error).toContain("X-Forwarded-Groups was sent more than once");
    expect(authn(get({ "X-Forwarded-User": "alice, mallory" }), "127.0.0.1")).toMatchObject({ status: 400 });
    expect(authn(get({ "X-Forwarded-User": "bob", "X-Forwarded-Groups": "ops, dba" }), "127.0.0.1")).toMatchObject({ status: 400 });
  });

  test("an empty user header is no identity", async () => {
    const authn = await proxy();
    expect(authn(get({ "X-Forwarded-User": "   " }), "127.0.0.1")).toMatchObject({ status: 401 });
  });
});

describe("makeAuthn proxy: identity headers only from TRUSTED_PROXIES (issue 15 #2)", () => {
  test.each([
    ["127.0.0.1", true],
    ["127.9.8.7", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["10.0.0.5", false],
    ["192.168.1.20", false],
    ["fd00::1", false],
    ["", false],
  ])("peer %s trusted: %p", async (peer, trusted) => {
    const logs: unknown[] = [];
    const authn = await proxy({}, (l, m, f) => void logs.push({ l, m, f }));
    const r = authn(get({ "X-Forwarded-User": "anyone" }), peer);
    if (trusted) {
      expect(r).toEqual({ user: "anyone", groups: [], authenticated: true });
      expect(logs).toEqual([]);
    } else {
      expect(r).toMatchObject({ status: 401, error: expect.stringContaining("TRUSTED_PROXIES") });
      expect(logs).toEqual([{ l: "warn", m: "identity headers from an untrusted peer refused", f: { peer, header: "X-Forwarded-User" } }]);
    }
  });

  test("a groups header alone from an untrusted peer is refused and logged too", async () => {
    const logs: unknown[] = [];
    const authn = await proxy({}, (l, m, f) => void logs.push(f));
    expect(authn(get({ "X-Forwarded-Groups": "dba" }), "10.1.2.3")).toMatchObject({ status: 401 });
    expect(logs).toEqual([{ peer: "10.1.2.3", header: "X-Forwarded-Groups" }]);
  });

  test("a configured range trusts its peers", async () => {
    const authn = await makeAuthn(settings({ mode: "proxy" }), { trustedProxies: parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8, fd00::/8" }).trustedProxies });
    expect(authn(get({ "X-Forwarded-User": "a" }), "10.200.0.1")).toMatchObject({ user: "a" });
    expect(authn(get({ "X-Forwarded-User": "a" }), "fd12::5")).toMatchObject({ user: "a" });
    expect(authn(get({ "X-Forwarded-User": "a" }), "127.0.0.1")).toMatchObject({ status: 401 });
  });
});

describe("identity header bytes are UTF-8 (issue 15 #7)", () => {
  test("jürgen and 山田 arrive intact", async () => {
    const authn = await proxy();
    expect(authn(get({ "X-Forwarded-User": wire("jürgen"), "X-Forwarded-Groups": wire("bücher,開発") }), "127.0.0.1")).toEqual({
      user: "jürgen",
      groups: ["bücher", "開発"],
      authenticated: true,
    });
  });

  test("invalid UTF-8 is refused with 400", async () => {
    const authn = await proxy();
    expect(authn(get({ "X-Forwarded-User": "j\xfcrgen" }), "127.0.0.1")).toEqual({ error: "identity headers must be UTF-8", status: 400 });
    expect(decodeHeader("plain")).toBe("plain");
  });

  test("through a real listener", async () => {
    const authn = await proxy();
    const text = await raw(authn, Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-User: "), Buffer.from("jürgen"), Buffer.from("\r\n\r\n")]));
      expect(JSON.parse(text)).toMatchObject({ user: "jürgen" });
  });
});

const A = "token-for-alice-0123456789";
const B = "token-for-bob-00000000000";
const tokensYaml = (...entries: [string, string, string[]?][]) =>
  entries.map(([t, u, g]) => `- token: ${t}\n  user: ${u}\n  groups: [${(g ?? []).join(", ")}]\n`).join("");
const bearer = (t: string) => get({ authorization: `Bearer ${t}` });
const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
};

describe("makeAuthn token", () => {
  test("good token, wrong token, missing or malformed header", async () => {
    const file = join(dir, "tokens-basic.yaml");
    writeFileSync(file, tokensYaml([A, "alice", ["ops", "sre"]], [B, "bob"]));
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED });
    stops.push(authn);
    expect(authn(bearer(A), "")).toMatchObject({ user: "alice", groups: ["ops", "sre"], authenticated: true });
    expect(authn(get({ authorization: `bearer ${B} ` }), "")).toMatchObject({ user: "bob", groups: [] });
    expect(authn(bearer(`${A}x`), "")).toEqual({ error: "invalid bearer token", status: 401 });
    expect(authn(bearer(A.slice(0, -1)), "")).toEqual({ error: "invalid bearer token", status: 401 });
    expect(authn(get(), "")).toEqual({ error: "missing bearer token (Authorization: Bearer <token>)", status: 401 });
    expect(authn(get({ authorization: `Basic ${btoa("alice:pw")}` }), "")).toHaveProperty("error", "missing bearer token (Authorization: Bearer <token>)");
    expect(authn(get({ authorization: `Bearer ${A} extra` }), "")).toHaveProperty("error");
  });

  test("a missing tokens file names AUTH_TOKENS_FILE", async () => {
    const file = join(dir, "nope.yaml");
    await expect(makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED })).rejects.toThrow(`AUTH_TOKENS_FILE: ${file}: no such file`);
  });

  test("a duplicate token stops the start (issue 15 #6)", async () => {
    const file = join(dir, "tokens-dup.yaml");
    writeFileSync(file, tokensYaml([A, "alice"], [A, "mallory"]));
    await expect(makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED })).rejects.toThrow("[1].token: the same token as [0]");
  });
});

describe("the tokens file is reloaded when it changes (issue 15 #6)", () => {
  test("an edited file: a removed token is refused and reported as no longer valid; listeners hear of it", async () => {
    const file = join(dir, "tokens-edit.yaml");
    writeFileSync(file, tokensYaml([A, "alice"], [B, "bob"]));
    const logs: string[] = [];
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED, reloadIntervalMs: 50, log: (_l, m) => void logs.push(m) });
    stops.push(authn);
    const bob = authn(bearer(B), "");
    const alice = authn(bearer(A), "");
    if ("error" in bob || "error" in alice) throw new Error("expected identities");
    let changes = 0;
    authn.onChange(() => changes++);
    expect(authn.stillValid(bob)).toBe(true);
    writeFileSync(file, tokensYaml([A, "alice"]));
    await until(() => changes === 1);
    expect(authn(bearer(B), "")).toEqual({ error: "invalid bearer token", status: 401 });
    expect(authn.stillValid(bob)).toBe(false);
    expect(authn.stillValid(alice)).toBe(true);
    expect(logs).toContain("tokens file reloaded");
  });

  test("a token whose groups changed invalidates identities made with the old groups", async () => {
    const file = join(dir, "tokens-groups.yaml");
    writeFileSync(file, tokensYaml([A, "alice", ["dba"]]));
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED, reloadIntervalMs: 50 });
    stops.push(authn);
    const before = authn(bearer(A), "");
    if ("error" in before) throw new Error("expected identity");
    writeFileSync(file, tokensYaml([A, "alice", []]));
    await until(() => !authn.stillValid(before));
    expect(authn(bearer(A), "")).toMatchObject({ user: "alice", groups: [] });
  });

  test("a mounted-Secret symlink swap (..data → new dir) is picked up within 5 s", async () => {
    const mount = join(dir, "secret");
    mkdirSync(join(mount, "v1"), { recursive: true });
    mkdirSync(join(mount, "v2"));
    writeFileSync(join(mount, "v1", "tokens.yaml"), tokensYaml([A, "alice"], [B, "bob"]));
    writeFileSync(join(mount, "v2", "tokens.yaml"), tokensYaml([B, "bob"]));
    symlinkSync("v1", join(mount, "..data"));
    symlinkSync("..data/tokens.yaml", join(mount, "tokens.yaml"));
    // Default reload interval: the 5 s promise is about the shipped setting.
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: join(mount, "tokens.yaml") }), { trustedProxies: TRUSTED });
    stops.push(authn);
    expect(authn(bearer(A), "")).toMatchObject({ user: "alice" });
    symlinkSync("v2", join(mount, "..data_tmp"));
    renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    const t0 = Date.now();
    await until(() => "error" in authn(bearer(A), ""), 5000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(authn(bearer(B), "")).toMatchObject({ user: "bob" });
  });

  test("an invalid new file keeps the previous tokens and logs why", async () => {
    const file = join(dir, "tokens-bad.yaml");
    writeFileSync(file, tokensYaml([A, "alice"]));
    const logs: { m: string; f?: Record<string, unknown> }[] = [];
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: file }), { trustedProxies: TRUSTED, reloadIntervalMs: 50, log: (_l, m, f) => void logs.push({ m, f }) });
    stops.push(authn);
    writeFileSync(file, tokensYaml([A, "alice"], [A, "bob"]));
    await until(() => logs.length > 0);
    expect(logs[0]!.m).toBe("tokens file invalid; keeping the previous tokens");
    expect(String(logs[0]!.f?.error)).toContain("the same token as [0]");
    expect(authn(bearer(A), "")).toMatchObject({ user: "alice" });
  });
});

describe("cidr", () => {
  test.each([
    ["127.0.0.0/8", "127.255.1.2", true],
    ["127.0.0.0/8", "128.0.0.1", false],
    ["10.1.2.3", "10.1.2.3", true],
    ["10.1.2.3", "10.1.2.4", false],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["::1", "::1", true],
    ["::1", "0:0:0:0:0:0:0:1", true],
    ["::1", "::2", false],
    ["fd00::/8", "fdff:1::9", true],
    ["fd00::/8", "fe80::1", false],
    ["10.0.0.0/8", "::ffff:10.9.9.9", true],
    ["10.0.0.0/8", "::1", false],
    ["2001:db8::/32", "2001:db8:ffff::1", true],
  ])("%s contains %s: %p", (c, a, want) => {
    expect(inAny([parseCidr(c)], a)).toBe(want);
  });
  test.each(["10.0.0.256", "10.0.0.0/", "1::2::3", "x", "10.0.0.0/8/8", "[::1]"])("%s is refused", (c) => {
    expect(() => parseCidr(c)).toThrow();
  });
});
