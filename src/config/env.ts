// Environment variables → typed settings; a malformed value stops the process naming the variable.
import { type Cidr, parseCidr } from "./cidr.ts";
import { DEFAULT_ALLOWED_HOSTS, parseHostPattern } from "./hosts.ts";
import { isDnsLabel } from "./names.ts";

export interface Env {
  listen: { hostname: string; port: number };
  listenAddress: string;
  /** Second listener for /metrics, /healthz, /readyz (the original's LISTEN_MONITORING_ADDRESS); null when off. */
  monitoring: { hostname: string; port: number } | null;
  configFilePath: string;
  kubeConfigPath: string;
  /** Seconds between websocket heartbeats toward clients (WATCH_INTERVAL, the original's poll interval; 10 when it is 0). */
  heartbeatSec: number;
  /** The ServiceAccount folder (token, ca.crt, namespace) read in-cluster; another folder for tests and benchmarks. */
  serviceAccountDir: string;
  /** Seconds between re-sends of every status on the JSON stream, as the original did (WATCH_INTERVAL); 0 = only on change. */
  statusResendSec: number;
  /** Seconds after which a restart lock is released even if the rollout never finished. */
  forceUnlockSec: number;
  /** Seconds a StatefulSet/DaemonSet rollout may take before it is reported as failed. */
  rolloutTimeoutSec: number;
  /** Namespace holding the restart locks (Leases); empty ⇒ the pod's own namespace or "default". */
  lockNamespace: string;
  logLevel: "debug" | "info" | "warn" | "error";
  auth: AuthSettings;
  /** Extra origins (scheme://host[:port]) allowed to POST and open websockets besides the app's own. */
  trustedOrigins: string[];
  /** Restarts allowed per user (or per address when anonymous) per minute; 0 disables the limit. */
  rateLimitPerMinute: number;
  /** Peers allowed to send identity headers (AUTH_MODE=proxy) and X-Forwarded-For. */
  trustedProxies: Cidr[];
  /** Host names browser requests may use (DNS-rebinding defence); IP literals are always accepted. */
  allowedHosts: string[];
  /** On SIGTERM, how long in-flight restarts get to finish before their Leases are released. */
  shutdownGraceSec: number;
  /** Open websockets per client address; 0 = no cap. */
  websocketMaxPerAddress: number;
  /** Bytes a websocket may have unread: the initial state goes this far ahead of the client; more waiting in the process closes it as too slow. */
  websocketBufferBytes: number;
  /** CLUSTER_NAME for the header and title; undefined ⇒ the kubeconfig context's cluster (none in-cluster). */
  clusterName: string | undefined;
}

export interface AuthSettings {
  mode: "none" | "proxy" | "token";
  tokensFile: string;
  /** The one header carrying the user (AUTH_MODE=proxy). */
  userHeader: string;
  /** The one header carrying comma-separated groups; empty ⇒ no groups. */
  groupsHeader: string;
  /** AUTH_MODE=proxy: websockets are closed after this long so a reconnect passes the proxy's session check again. */
  websocketLifetimeSec: number;
}

/** The longest delay a timer can hold (2^31-1 ms, ≈ 24.8 days), in whole seconds. */
export const MAX_TIMER_SEC = Math.floor((2 ** 31 - 1) / 1000);

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Source = Record<string, string | undefined>;

function str(src: Source, name: string, def: string): string {
  const v = src[name];
  return v === undefined ? def : v;
}

function positiveInt(src: Source, name: string, def: number, max = MAX_TIMER_SEC, min = 1): number {
  const raw = src[name];
  if (raw === undefined || raw === "") return def;
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(`${name}: expected a whole number, got ${JSON.stringify(raw)}`);
  }
  const n = Number(raw.trim());
  // Seconds become timer delays: past 2^31-1 ms a timer fires at once, over and over.
  const why = max === MAX_TIMER_SEC && n > max ? ` (a timer cannot hold more than ${MAX_TIMER_SEC} s, about 24.8 days)` : "";
  if (n < min || n > max) throw new ConfigError(`${name}: expected ${min}..${max}, got ${n}${why}`);
  return n;
}

function list(src: Source, name: string, def: string[]): string[] {
  const raw = src[name];
  if (raw === undefined) return def;
  return raw
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

function origins(src: Source, name: string): string[] {
  return list(src, name, []).map((o) => {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(`${name}: ${JSON.stringify(o)} is not an origin like https://restart.example.com`);
    }
    if (!/^https?:$/.test(u.protocol) || u.pathname !== "/" || u.search || u.hash || o.endsWith("/")) {
      throw new ConfigError(`${name}: ${JSON.stringify(o)} is not an origin like https://restart.example.com (scheme://host[:port], no path)`);
    }
    return u.origin;
  });
}

function authSettings(src: Source): AuthSettings {
  const mode = str(src, "AUTH_MODE", "none");
  if (mode !== "none" && mode !== "proxy" && mode !== "token") {
    throw new ConfigError(`AUTH_MODE: expected none, proxy or token, got ${JSON.stringify(mode)}`);
  }
  const tokensFile = str(src, "AUTH_TOKENS_FILE", "");
  if (mode === "token" && tokensFile === "") throw new ConfigError("AUTH_TOKENS_FILE: required when AUTH_MODE=token");
  const userHeader = oneHeader(src, "AUTH_PROXY_USER_HEADERS", "X-Forwarded-User");
  const groupsHeader = oneHeader(src, "AUTH_PROXY_GROUPS_HEADERS", "X-Forwarded-Groups");
  if (mode === "proxy" && userHeader === "") throw new ConfigError("AUTH_PROXY_USER_HEADERS: a header name is needed when AUTH_MODE=proxy");
  const websocketLifetimeSec = positiveInt(src, "AUTH_PROXY_WEBSOCKET_LIFETIME_SEC", 3600, MAX_TIMER_SEC);
  return { mode, tokensFile, userHeader, groupsHeader, websocketLifetimeSec };
}

/**
 * Exactly one header name. Reading several would let a client supply the one a proxy does not
 * overwrite (impersonation or group escalation), so a list is refused, saying why.
 */
function oneHeader(src: Source, name: string, def: string): string {
  const names = list(src, name, [def]);
  if (names.length > 1) {
    throw new ConfigError(
      `${name}: takes exactly one header name, got ${names.length} (${names.join(", ")}): a client could send whichever one the proxy does not overwrite; name the header your proxy sets`,
    );
  }
  const h = names[0] ?? "";
  if (h !== "" && !/^[A-Za-z0-9-]+$/.test(h)) throw new ConfigError(`${name}: ${JSON.stringify(h)} is not a header name`);
  return h;
}

function hostPatterns(src: Source, name: string): string[] {
  return list(src, name, DEFAULT_ALLOWED_HOSTS).map((h) => {
    try {
      return parseHostPattern(h);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  });
}

function cidrs(src: Source, name: string, def: string[]): Cidr[] {
  return list(src, name, def).map((c) => {
    try {
      return parseCidr(c);
    } catch (e) {
      throw new ConfigError(`${name}: ${(e as Error).message}`);
    }
  });
}

/** CLUSTER_NAME: free text for people, but one short line of printable characters. */
function clusterName(src: Source): string | undefined {
  const v = src.CLUSTER_NAME;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t.length > 63 || /[\u0000-\u001f\u007f]/.test(t)) throw new ConfigError(`CLUSTER_NAME: expected one line of at most 63 characters, got ${JSON.stringify(v)}`);
  return t;
}

/** Parses Go-style listen addresses: ":8080", "0.0.0.0:8080", "127.0.0.1:9000", "[::1]:8080". */
export function parseListenAddress(raw: string, name = "LISTEN_ADDRESS"): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(raw.trim());
  if (!m) throw new ConfigError(`${name}: expected [host]:port such as ":8080" or "127.0.0.1:8080", got ${JSON.stringify(raw)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${name}: port ${port} is out of range 0..65535`);
  const host = m[1] ?? m[2] ?? "";
  return { hostname: host === "" ? "0.0.0.0" : host, port };
}

export function parseEnv(src: Source): Env {
  const listenAddress = str(src, "LISTEN_ADDRESS", ":8080");
  const forceUnlockSec = positiveInt(src, "FORCE_UNLOCK_SEC", 300, MAX_TIMER_SEC);
  const level = str(src, "LOG_LEVEL", "info");
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new ConfigError(`LOG_LEVEL: expected debug, info, warn or error, got ${JSON.stringify(level)}`);
  }
  const lockNamespace = str(src, "LOCK_NAMESPACE", "");
  if (lockNamespace !== "" && !isDnsLabel(lockNamespace)) {
    throw new ConfigError(`LOCK_NAMESPACE: ${JSON.stringify(lockNamespace)} is not a valid namespace name`);
  }
  const configFilePath = str(src, "CONFIG_FILE_PATH", "config.yaml");
  if (configFilePath.trim() === "") throw new ConfigError("CONFIG_FILE_PATH: must not be empty");
  return {
    listen: parseListenAddress(listenAddress),
    listenAddress,
    // Later versions of the original served /metrics on :6060 by default; keep that so existing
    // scrape configs keep working. An explicitly empty value turns the second listener off.
    monitoring: str(src, "LISTEN_MONITORING_ADDRESS", ":6060") === "" ? null : parseListenAddress(str(src, "LISTEN_MONITORING_ADDRESS", ":6060"), "LISTEN_MONITORING_ADDRESS"),
    configFilePath,
    kubeConfigPath: str(src, "KUBE_CONFIG_PATH", ""),
    heartbeatSec: positiveInt(src, "WATCH_INTERVAL", 10, 3600, 0) || 10,
    statusResendSec: positiveInt(src, "WATCH_INTERVAL", 10, 3600, 0),
    serviceAccountDir: str(src, "SERVICE_ACCOUNT_DIR", "") || "/var/run/secrets/kubernetes.io/serviceaccount",
    forceUnlockSec,
    rolloutTimeoutSec: positiveInt(src, "ROLLOUT_TIMEOUT_SEC", forceUnlockSec, MAX_TIMER_SEC),
    lockNamespace,
    logLevel: level as Env["logLevel"],
    auth: authSettings(src),
    trustedOrigins: origins(src, "TRUSTED_ORIGINS"),
    rateLimitPerMinute: positiveInt(src, "RATE_LIMIT_PER_MINUTE", 10, 100_000, 0),
    trustedProxies: cidrs(src, "TRUSTED_PROXIES", ["127.0.0.0/8", "::1"]),
    allowedHosts: hostPatterns(src, "ALLOWED_HOSTS"),
    // Below the manifest's terminationGracePeriodSeconds (30), leaving time to release and exit.
    shutdownGraceSec: positiveInt(src, "SHUTDOWN_GRACE_SEC", 10, 300),
    websocketMaxPerAddress: positiveInt(src, "WEBSOCKET_MAX_PER_ADDRESS", 100, 1_000_000, 0),
    websocketBufferBytes: positiveInt(src, "WEBSOCKET_BUFFER_BYTES", 16 * 1024, 64 * 1024 * 1024, 1024),
    clusterName: clusterName(src),
  };
}
