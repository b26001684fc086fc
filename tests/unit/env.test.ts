// Covers src/config/env.ts: parseEnv defaults, accepted values, and every malformed value naming its variable.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseEnv, parseListenAddress } from "../../src/config/env.ts";

function errorOf(src: Record<string, string>): ConfigError {
  try {
    parseEnv(src);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw new Error(`expected ConfigError, got ${String(e)}`);
  }
  throw new Error(`expected parseEnv(${JSON.stringify(src)}) to throw`);
}

describe("parseEnv defaults", () => {
  const env = parseEnv({});

  test("listen address :8080 binds every interface", () => {
    expect(env.listenAddress).toBe(":8080");
    expect(env.listen).toEqual({ hostname: "0.0.0.0", port: 8080 });
  });

  test("scalar defaults match the original tool", () => {
    expect(env.configFilePath).toBe("config.yaml");
    expect(env.kubeConfigPath).toBe("");
    expect(env.heartbeatSec).toBe(10);
    expect(env.forceUnlockSec).toBe(300);
    expect(env.rolloutTimeoutSec).toBe(300);
    expect(env.rateLimitPerMinute).toBe(10);
    expect(env.lockNamespace).toBe("");
    expect(env.logLevel).toBe("info");
    expect(env.trustedOrigins).toEqual([]);
  });

  test("auth defaults to none with one user header and one groups header", () => {
    expect(env.auth).toEqual({
      mode: "none",
      tokensFile: "",
      userHeader: "X-Forwarded-User",
      groupsHeader: "X-Forwarded-Groups",
      websocketLifetimeSec: 3600,
    });
  });

  test("TRUSTED_PROXIES defaults to loopback only", () => {
    expect(env.trustedProxies.map((c) => c.text)).toEqual(["127.0.0.0/8", "::1"]);
  });

  test("ROLLOUT_TIMEOUT_SEC defaults to FORCE_UNLOCK_SEC", () => {
    expect(parseEnv({ FORCE_UNLOCK_SEC: "120" }).rolloutTimeoutSec).toBe(120);
    const both = parseEnv({ FORCE_UNLOCK_SEC: "120", ROLLOUT_TIMEOUT_SEC: "45" });
    expect(both.forceUnlockSec).toBe(120);
    expect(both.rolloutTimeoutSec).toBe(45);
  });

  test("an empty numeric variable means its default", () => {
    expect(parseEnv({ WATCH_INTERVAL: "" }).heartbeatSec).toBe(10);
  });

  test("WATCH_INTERVAL paces the JSON stream's re-sends; 0 = only on change (the heartbeat then keeps its default)", () => {
    expect([parseEnv({}).statusResendSec, parseEnv({}).heartbeatSec]).toEqual([10, 10]);
    expect([parseEnv({ WATCH_INTERVAL: "3" }).statusResendSec, parseEnv({ WATCH_INTERVAL: "3" }).heartbeatSec]).toEqual([3, 3]);
    expect([parseEnv({ WATCH_INTERVAL: "0" }).statusResendSec, parseEnv({ WATCH_INTERVAL: "0" }).heartbeatSec]).toEqual([0, 10]);
  });
});

describe("LISTEN_MONITORING_ADDRESS", () => {
  test("defaults to :6060 like the original, can be moved or turned off", () => {
    expect(parseEnv({}).monitoring).toEqual({ hostname: "0.0.0.0", port: 6060 });
    expect(parseEnv({ LISTEN_MONITORING_ADDRESS: "127.0.0.1:9100" }).monitoring).toEqual({ hostname: "127.0.0.1", port: 9100 });
    expect(parseEnv({ LISTEN_MONITORING_ADDRESS: "" }).monitoring).toBeNull();
  });
  test("a malformed value names the variable", () => {
    expect(() => parseEnv({ LISTEN_MONITORING_ADDRESS: "6060" })).toThrow(/^LISTEN_MONITORING_ADDRESS: /);
  });
});

describe("parseEnv accepted values", () => {
  test.each([
    [":9000", "0.0.0.0", 9000],
    ["127.0.0.1:9000", "127.0.0.1", 9000],
    ["[::1]:9000", "::1", 9000],
    ["[::]:80", "::", 80],
    ["localhost:0", "localhost", 0],
  ])("LISTEN_ADDRESS=%s → %s port %d", (raw, hostname, port) => {
    const env = parseEnv({ LISTEN_ADDRESS: raw });
    expect(env.listen).toEqual({ hostname, port });
    expect(env.listenAddress).toBe(raw);
  });

  test("numbers, levels, namespace and paths are taken as given", () => {
    const env = parseEnv({
      WATCH_INTERVAL: " 30 ",
      FORCE_UNLOCK_SEC: "600",
      RATE_LIMIT_PER_MINUTE: "0",
      LOG_LEVEL: "debug",
      LOCK_NAMESPACE: "restart-locks",
      CONFIG_FILE_PATH: "/etc/app/services.yaml",
      KUBE_CONFIG_PATH: "/home/me/.kube/config",
    });
    expect(env.heartbeatSec).toBe(30);
    expect(env.forceUnlockSec).toBe(600);
    expect(env.rateLimitPerMinute).toBe(0);
    expect(env.logLevel).toBe("debug");
    expect(env.lockNamespace).toBe("restart-locks");
    expect(env.configFilePath).toBe("/etc/app/services.yaml");
    expect(env.kubeConfigPath).toBe("/home/me/.kube/config");
  });

  test("TRUSTED_ORIGINS is a comma list normalized to origins", () => {
    const env = parseEnv({ TRUSTED_ORIGINS: "https://Restart.Example.com, http://localhost:3000,," });
    expect(env.trustedOrigins).toEqual(["https://restart.example.com", "http://localhost:3000"]);
  });

  test("AUTH_MODE=token with a tokens file, AUTH_MODE=proxy with custom headers", () => {
    expect(parseEnv({ AUTH_MODE: "token", AUTH_TOKENS_FILE: "/etc/tokens.yaml" }).auth).toMatchObject({ mode: "token", tokensFile: "/etc/tokens.yaml" });
    const proxy = parseEnv({ AUTH_MODE: "proxy", AUTH_PROXY_USER_HEADERS: "X-Remote-User", AUTH_PROXY_GROUPS_HEADERS: "" });
    expect(proxy.auth).toEqual({ mode: "proxy", tokensFile: "", userHeader: "X-Remote-User", groupsHeader: "", websocketLifetimeSec: 3600 });
  });
});

describe("parseEnv malformed values throw ConfigError naming the variable", () => {
  const cases: [Record<string, string>, string, RegExp | null][] = [
    [{ WATCH_INTERVAL: "abc" }, "WATCH_INTERVAL", /whole number, got "abc"/],
    [{ WATCH_INTERVAL: "3601" }, "WATCH_INTERVAL", /0\.\.3600, got 3601/],
    [{ WATCH_INTERVAL: "-1" }, "WATCH_INTERVAL", /whole number/],
    [{ WATCH_INTERVAL: "1.5" }, "WATCH_INTERVAL", /whole number/],
    [{ WATCH_INTERVAL: "99999" }, "WATCH_INTERVAL", /0\.\.3600/],
    [{ FORCE_UNLOCK_SEC: "x" }, "FORCE_UNLOCK_SEC", /whole number, got "x"/],
    [{ FORCE_UNLOCK_SEC: "0" }, "FORCE_UNLOCK_SEC", null],
    [{ ROLLOUT_TIMEOUT_SEC: "5m" }, "ROLLOUT_TIMEOUT_SEC", null],
    [{ RATE_LIMIT_PER_MINUTE: "-3" }, "RATE_LIMIT_PER_MINUTE", null],
    [{ RATE_LIMIT_PER_MINUTE: "100001" }, "RATE_LIMIT_PER_MINUTE", null],
    [{ LISTEN_ADDRESS: "8080" }, "LISTEN_ADDRESS", /\[host\]:port/],
    [{ LISTEN_ADDRESS: ":99999" }, "LISTEN_ADDRESS", /port 99999 is out of range/],
    [{ LISTEN_ADDRESS: "host" }, "LISTEN_ADDRESS", null],
    [{ LISTEN_ADDRESS: "::1:9000" }, "LISTEN_ADDRESS", null],
    [{ LISTEN_ADDRESS: "" }, "LISTEN_ADDRESS", null],
    [{ AUTH_MODE: "foo" }, "AUTH_MODE", /none, proxy or token, got "foo"/],
    [{ AUTH_MODE: "token" }, "AUTH_TOKENS_FILE", /required when AUTH_MODE=token/],
    [{ AUTH_MODE: "proxy", AUTH_PROXY_USER_HEADERS: "" }, "AUTH_PROXY_USER_HEADERS", null],
    [{ AUTH_PROXY_USER_HEADERS: "X User" }, "AUTH_PROXY_USER_HEADERS", /not a header name/],
    [{ AUTH_PROXY_GROUPS_HEADERS: "X-Groups:" }, "AUTH_PROXY_GROUPS_HEADERS", null],
    [{ AUTH_PROXY_USER_HEADERS: "X-Forwarded-User,X-Auth-Request-User" }, "AUTH_PROXY_USER_HEADERS", /exactly one header name, got 2 .*does not overwrite/],
    [{ AUTH_PROXY_GROUPS_HEADERS: "X-Forwarded-Groups, X-Auth-Request-Groups" }, "AUTH_PROXY_GROUPS_HEADERS", /exactly one header name/],
    [{ AUTH_PROXY_WEBSOCKET_LIFETIME_SEC: "0" }, "AUTH_PROXY_WEBSOCKET_LIFETIME_SEC", null],
    [{ TRUSTED_PROXIES: "10.0.0.0/33" }, "TRUSTED_PROXIES", /prefix length must be 0\.\.32/],
    [{ TRUSTED_PROXIES: "proxy.local" }, "TRUSTED_PROXIES", /not an IP address or CIDR/],
    [{ TRUSTED_PROXIES: "fd00::/129" }, "TRUSTED_PROXIES", null],
    [{ FORCE_UNLOCK_SEC: "2147484" }, "FORCE_UNLOCK_SEC", /1\.\.2147483, got 2147484 \(a timer cannot hold more than 2147483 s/],
    [{ ROLLOUT_TIMEOUT_SEC: String(86400 * 365) }, "ROLLOUT_TIMEOUT_SEC", /a timer cannot hold/],
    [{ FORCE_UNLOCK_SEC: "100", ROLLOUT_TIMEOUT_SEC: "3000000" }, "ROLLOUT_TIMEOUT_SEC", /24\.8 days/],
    [{ TRUSTED_ORIGINS: "not-a-url" }, "TRUSTED_ORIGINS", /"not-a-url" is not an origin/],
    [{ TRUSTED_ORIGINS: "https://x.com/path" }, "TRUSTED_ORIGINS", /no path/],
    [{ TRUSTED_ORIGINS: "https://x.com/" }, "TRUSTED_ORIGINS", null],
    [{ TRUSTED_ORIGINS: "ftp://x.com" }, "TRUSTED_ORIGINS", null],
    [{ TRUSTED_ORIGINS: "https://x.com?a=1" }, "TRUSTED_ORIGINS", null],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /debug, info, warn or error, got "loud"/],
    [{ LOCK_NAMESPACE: "Bad_NS" }, "LOCK_NAMESPACE", /"Bad_NS" is not a valid namespace name/],
    [{ LOCK_NAMESPACE: "-leading" }, "LOCK_NAMESPACE", null],
    [{ CONFIG_FILE_PATH: "  " }, "CONFIG_FILE_PATH", /must not be empty/],
  ];

  test.each(cases)("%j → %s", (src, variable, detail) => {
    const e = errorOf(src);
    expect(e.name).toBe("ConfigError");
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
    if (detail) expect(e.message).toMatch(detail);
  });
});

describe("parseListenAddress", () => {
  test("names the variable it was given", () => {
    expect(() => parseListenAddress("nope", "METRICS_ADDRESS")).toThrow(/^METRICS_ADDRESS: /);
  });

  test("accepts the highest port and refuses one above it", () => {
    expect(parseListenAddress(":65535").port).toBe(65535);
    expect(() => parseListenAddress(":65536")).toThrow(ConfigError);
  });
});
