// Covers src/http/template.ts fill, src/http/security.ts crossSiteRefusal, src/http/auth.ts (parseTokens, makeAuthn) and src/restart/ratelimit.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthSettings, ConfigError } from "../../src/config/env.ts";
import { makeAuthn, parseTokens } from "../../src/http/auth.ts";
import { makeRateLimiter } from "../../src/restart/ratelimit.ts";
import { crossSiteRefusal } from "../../src/http/security.ts";
import { escapeHtml, fill } from "../../src/http/template.ts";

describe("fill", () => {
  test("escapes {{x}} and inserts {{{x}}} as is", () => {
    const out = fill('<p title="{{t}}">{{ body }}</p>{{{frag}}}', { t: `a"b'c`, body: "<script>&</script>", frag: "<b>ok</b>" });
    expect(out).toBe('<p title="a&quot;b&#39;c">&lt;script&gt;&amp;&lt;/script&gt;</p><b>ok</b>');
  });

  test("numbers and booleans are stringified; a variable may repeat", () => {
    expect(fill("{{n}}/{{n}} {{b}}", { n: 3, b: false })).toBe("3/3 false");
  });

  test("a placeholder without a value throws naming it", () => {
    expect(() => fill("<p>{{missing}}</p>", { other: "x" })).toThrow("template variable missing has no value");
    expect(() => fill("{{{raw}}}", {})).toThrow("template variable raw has no value");
  });

  test("escapeHtml covers the five special characters", () => {
    expect(escapeHtml(`&<>"'x`)).toBe("&amp;&lt;&gt;&quot;&#39;x");
  });
});

describe("crossSiteRefusal", () => {
  const TRUSTED = ["https://portal.example.com"];
  const post = (headers: Record<string, string>, url = "http://restart.local:8080/api/v1/service/Deployment/shop/web/restart") =>
    new Request(url, { method: "POST", headers });

  test.each([
    ["Sec-Fetch-Site same-origin", { "sec-fetch-site": "same-origin", origin: "http://restart.local:8080" }, true],
    ["Sec-Fetch-Site none (typed URL)", { "sec-fetch-site": "none" }, true],
    ["Sec-Fetch-Site cross-site", { "sec-fetch-site": "cross-site", origin: "http://evil.example" }, false],
    ["Sec-Fetch-Site same-site", { "sec-fetch-site": "same-site", origin: "http://other.restart.local:8080" }, false],
    ["Origin matching Host", { origin: "http://restart.local:8080", host: "restart.local:8080" }, true],
    ["Origin mismatching Host", { origin: "http://evil.example", host: "restart.local:8080" }, false],
    ["Origin with another port", { origin: "http://restart.local:9090", host: "restart.local:8080" }, false],
    ["malformed Origin", { origin: "null", host: "restart.local:8080" }, false],
    ["trusted Origin even when cross-site", { "sec-fetch-site": "cross-site", origin: "https://portal.example.com" }, true],
    ["trusted Origin without Sec-Fetch-Site", { origin: "https://portal.example.com", host: "restart.local:8080" }, true],
    ["no headers (curl)", {}, true],
  ] as [string, Record<string, string>, boolean][])("%s", (_label, headers, allowed) => {
    const why = crossSiteRefusal(post(headers), TRUSTED);
    if (allowed) expect(why).toBeUndefined();
    else expect(why).toStartWith("cross-site request refused");
  });

  test("without a Host header the request URL's host is compared", () => {
    expect(crossSiteRefusal(post({ origin: "http://restart.local:8080" }), [])).toBeUndefined();
    expect(crossSiteRefusal(post({ origin: "http://evil.example" }), [])).toBe(
      "cross-site request refused (Origin http://evil.example does not match host restart.local:8080)",
    );
  });

  test("the refusal names the Sec-Fetch-Site value and the Origin", () => {
    expect(crossSiteRefusal(post({ "sec-fetch-site": "cross-site", origin: "http://evil.example" }), TRUSTED)).toBe(
      "cross-site request refused (Sec-Fetch-Site: cross-site, Origin: http://evil.example)",
    );
  });
});

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "restart-app-auth-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = "s3cr3t-token-for-alice-0123456789";
const TOKENS_YAML = `
- token: ${GOOD}
  user: alice
  groups: [ops, sre]
- token: another-token-for-bob-0000
  user: bob
`;

describe("parseTokens", () => {
  test("reads users and groups (groups default to none)", () => {
    const t = parseTokens(TOKENS_YAML, "tokens.yaml");
    expect(t.map((e) => [e.user, e.groups])).toEqual([
      ["alice", ["ops", "sre"]],
      ["bob", []],
    ]);
    expect(t[0]!.digest).toHaveLength(32);
  });

  test.each([
    ["not YAML", "- token: [unclosed", "tokens.yaml: invalid YAML: "],
    ["not a list", "token: abc", "tokens.yaml: expected a list of {token, user, groups}"],
    ["short token", "- {token: short, user: a}", "tokens.yaml: [0].token: expected a string of at least 16 characters"],
    ["numeric token", "- {token: 12345678901234567890, user: a}", "tokens.yaml: [0].token:"],
    ["missing user", `- {token: ${GOOD}, user: a}\n- {token: ${GOOD}x}`, "tokens.yaml: [1].user: expected a non-empty string"],
    ["empty user", `- {token: ${GOOD}, user: ""}`, "tokens.yaml: [0].user:"],
    ["groups not a list", `- {token: ${GOOD}, user: a, groups: ops}`, "tokens.yaml: [0].groups: expected a list of strings"],
    ["null entry", "- null", "tokens.yaml: [0].token:"],
  ])("%s", (_label, text, message) => {
    let err: unknown;
    try {
      parseTokens(text, "tokens.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toStartWith(message);
  });
});

const settings = (o: Partial<AuthSettings>): AuthSettings => ({
  mode: "none",
  tokensFile: "",
  userHeaders: ["X-Forwarded-User", "X-Auth-Request-User"],
  groupsHeaders: ["X-Forwarded-Groups", "X-Auth-Request-Groups"],
  ...o,
});
const get = (headers: Record<string, string> = {}) => new Request("http://restart.local/", { headers });

describe("makeAuthn", () => {
  test("none: everyone is anonymous", async () => {
    const authn = await makeAuthn(settings({ mode: "none" }));
    expect(authn(get({ "x-forwarded-user": "mallory", authorization: "Bearer x" }))).toEqual({ user: "", groups: [], authenticated: false });
  });

  test("proxy: user from the first header present, groups comma-split across headers", async () => {
    const authn = await makeAuthn(settings({ mode: "proxy" }));
    expect(authn(get({ "X-Auth-Request-User": " alice ", "X-Forwarded-Groups": "ops, sre,,", "X-Auth-Request-Groups": "dev" }))).toEqual({
      user: "alice",
      groups: ["ops", "sre", "dev"],
      authenticated: true,
    });
    expect(authn(get({ "X-Forwarded-User": "bob", "X-Auth-Request-User": "alice" }))).toEqual({ user: "bob", groups: [], authenticated: true });
  });

  test("proxy: no user header → error naming the expected headers", async () => {
    const authn = await makeAuthn(settings({ mode: "proxy" }));
    expect(authn(get({ "X-Forwarded-Groups": "ops" }))).toEqual({
      error: "no identity: expected one of the headers X-Forwarded-User, X-Auth-Request-User from the authenticating proxy",
    });
    expect(authn(get({ "X-Forwarded-User": "   " }))).toHaveProperty("error");
  });

  test("token: good token, wrong token, missing or malformed header", async () => {
    const file = join(dir, "tokens.yaml");
    writeFileSync(file, TOKENS_YAML);
    const authn = await makeAuthn(settings({ mode: "token", tokensFile: file }));
    expect(authn(get({ authorization: `Bearer ${GOOD}` }))).toEqual({ user: "alice", groups: ["ops", "sre"], authenticated: true });
    expect(authn(get({ authorization: "bearer another-token-for-bob-0000 " }))).toEqual({ user: "bob", groups: [], authenticated: true });
    expect(authn(get({ authorization: `Bearer ${GOOD}x` }))).toEqual({ error: "invalid bearer token" });
    expect(authn(get({ authorization: `Bearer ${GOOD.slice(0, -1)}` }))).toEqual({ error: "invalid bearer token" });
    expect(authn(get())).toEqual({ error: "missing bearer token (Authorization: Bearer <token>)" });
    expect(authn(get({ authorization: `Basic ${btoa("alice:pw")}` }))).toHaveProperty("error", "missing bearer token (Authorization: Bearer <token>)");
    expect(authn(get({ authorization: `Bearer ${GOOD} extra` }))).toHaveProperty("error");
  });

  test("token: a missing tokens file names AUTH_TOKENS_FILE", async () => {
    const file = join(dir, "nope.yaml");
    await expect(makeAuthn(settings({ mode: "token", tokensFile: file }))).rejects.toThrow(`AUTH_TOKENS_FILE: ${file}: no such file`);
  });
});

describe("makeRateLimiter", () => {
  test("allows perMinute attempts per key, then says how long to wait", () => {
    let t = 1_000_000;
    const limit = makeRateLimiter(3, () => t);
    expect([limit("alice"), limit("alice"), limit("alice")]).toEqual([0, 0, 0]);
    expect(limit("alice")).toBe(60);
    expect(limit("bob")).toBe(0);
    t += 20_500;
    expect(limit("alice")).toBe(40);
    t += 39_500; // exactly one minute after the first three
    expect(limit("alice")).toBe(0);
    expect(limit("alice")).toBe(0);
    expect(limit("alice")).toBe(0);
    expect(limit("alice")).toBe(60);
  });

  test("the window slides: the oldest attempt frees the first slot", () => {
    let t = 0;
    const limit = makeRateLimiter(2, () => t);
    limit("k");
    t = 30_000;
    limit("k");
    t = 59_999;
    expect(limit("k")).toBe(1);
    t = 60_000;
    expect(limit("k")).toBe(0);
    expect(limit("k")).toBe(30);
  });

  test("refused attempts are not counted", () => {
    let t = 0;
    const limit = makeRateLimiter(1, () => t);
    limit("k");
    for (let i = 0; i < 5; i++) limit("k");
    t = 60_000;
    expect(limit("k")).toBe(0);
  });

  test("0 disables the limit", () => {
    const limit = makeRateLimiter(0, () => 0);
    for (let i = 0; i < 100; i++) expect(limit("k")).toBe(0);
  });
});
