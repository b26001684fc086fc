// Covers src/http/template.ts fill, src/http/security.ts crossSiteRefusal, src/http/auth.ts parseTokens (makeAuthn: auth.test.ts), src/restart/ratelimit.ts, requestid.ts and clientaddr.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, parseEnv } from "../../src/config/env.ts";
import { parseTokens } from "../../src/http/auth.ts";
import { clientAddress } from "../../src/http/clientaddr.ts";
import { requestIdFrom } from "../../src/http/requestid.ts";
import { makeRateLimiter, type RateLimiter } from "../../src/restart/ratelimit.ts";
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
    ["duplicate token", `- {token: ${GOOD}, user: a}\n- {token: ${GOOD}, user: b}`, "tokens.yaml: [1].token: the same token as [0]"],
    ["token with inner whitespace", `- {token: "abcdefgh ijklmnopq", user: a}`, "tokens.yaml: [0].token: must not contain whitespace"],
    ["token with trailing whitespace", `- {token: "${GOOD} ", user: a}`, "tokens.yaml: [0].token: must not contain whitespace"],
    ["token with a tab", `- {token: "${GOOD}\\t", user: a}`, "tokens.yaml: [0].token: must not contain whitespace"],
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

describe("makeRateLimiter", () => {
  /** An attempt that is applied whenever the limiter lets it through. */
  const attempts = (l: RateLimiter) => (key: string) => {
    const w = l.wait(key);
    if (w === 0) l.spend(key);
    return w;
  };

  test("allows perMinute attempts per key, then says how long to wait", () => {
    let t = 1_000_000;
    const limit = attempts(makeRateLimiter(3, () => t));
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
    const limit = attempts(makeRateLimiter(2, () => t));
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
    const limit = attempts(makeRateLimiter(1, () => t));
    limit("k");
    for (let i = 0; i < 5; i++) limit("k");
    t = 60_000;
    expect(limit("k")).toBe(0);
  });

  test("only applied restarts spend budget: waiting without spending never limits (issue 15 #18)", () => {
    const l = makeRateLimiter(2, () => 0);
    for (let i = 0; i < 50; i++) expect(l.wait("k")).toBe(0);
    l.spend("k");
    expect(l.wait("k")).toBe(0);
    l.spend("k");
    expect(l.wait("k")).toBe(60);
  });

  test("0 disables the limit", () => {
    const limit = attempts(makeRateLimiter(0, () => 0));
    for (let i = 0; i < 100; i++) expect(limit("k")).toBe(0);
  });
});

describe("requestIdFrom (issue 15 #8)", () => {
  const fresh = () => "fresh-id";
  test.each([
    ["abc-123", "abc-123"],
    ["trace.id_01", "trace.id_01"],
    ["a".repeat(64), "a".repeat(64)],
    ["a".repeat(65), "fresh-id"],
    ["", "fresh-id"],
    ["two words", "fresh-id"],
    ['quote"d', "fresh-id"],
    ["line\nbreak", "fresh-id"],
    ["héllo", "fresh-id"],
    ["a/b", "fresh-id"],
  ])("%j → %j", (header, want) => {
    expect(requestIdFrom(header, fresh)).toBe(want);
  });
  test("no header → a fresh random id", () => {
    expect(requestIdFrom(null)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("clientAddress (issue 15 #18)", () => {
  const trusted = parseEnv({ TRUSTED_PROXIES: "127.0.0.0/8,10.0.0.0/8" }).trustedProxies;
  test.each([
    ["no header: the peer", "127.0.0.1", null, "127.0.0.1"],
    ["untrusted peer: its header is ignored", "203.0.113.9", "198.51.100.1", "203.0.113.9"],
    ["trusted peer: the client it saw", "127.0.0.1", "198.51.100.1", "198.51.100.1"],
    ["client-written entries left of the real one are skipped", "127.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"],
    ["a chain of trusted proxies is walked", "127.0.0.1", "198.51.100.1, 10.1.1.1", "198.51.100.1"],
    ["garbage falls back to the peer", "127.0.0.1", "not-an-ip", "127.0.0.1"],
    ["all entries trusted: the leftmost", "127.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1"],
  ])("%s", (_l, peer, xff, want) => {
    expect(clientAddress(peer, xff, trusted)).toBe(want);
  });
});
