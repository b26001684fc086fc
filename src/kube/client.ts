// The only HTTP path to the API server: kubeconfig/in-cluster auth via client-node, TLS via Bun's fetch.
//
// Why not client-node's own HTTP stack: under Bun it passes CA, client certificate and
// insecure-skip through an undici dispatcher that Bun replaces with a no-op stub, so CA
// verification, client certificates and skip-verify are all silently ignored. We keep
// client-node for what it does well (parsing kubeconfigs, exec/OIDC/file tokens, in-cluster
// config) and hand exactly the TLS material it resolves to Bun's native fetch `tls` option.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../config/env.ts";
import { kubeconfigPath } from "./kubeconfig-path.ts";

export interface KubeRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** A non-2xx answer from the API server, with its Status object when it sent one. */
export class KubeError extends Error {
  override name = "KubeError";
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly detail: string,
    what: string,
  ) {
    super(`${what}: ${code} ${reason}${detail ? `: ${detail}` : ""}`);
  }
}

export interface KubeClient {
  readonly server: string;
  /** JSON request; throws KubeError (naming `what`) on a non-2xx answer. */
  request<T>(req: KubeRequest, what: string): Promise<T>;
  /** Raw streaming response for watches; the caller reads and closes the body. */
  stream(req: KubeRequest): Promise<Response>;
}

interface ResolvedOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers?: Record<string, string>;
}

export function loadKubeConfig(configuredPath: string): KubeConfig {
  const kubeConfigPath = kubeconfigPath(configuredPath).path;
  const kc = new KubeConfig();
  if (kubeConfigPath === "") {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new ConfigError(
        "KUBE_CONFIG_PATH: empty, so in-cluster config is used, but KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (not running in a pod?)",
      );
    }
    kc.loadFromCluster();
  } else {
    try {
      kc.loadFromFile(kubeConfigPath);
      honourTokenFile(kc, kubeConfigPath);
    } catch (e) {
      throw new ConfigError(`KUBE_CONFIG_PATH: ${kubeConfigPath}: ${(e as Error).message}`);
    }
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError(`KUBE_CONFIG_PATH: ${kubeConfigPath || "(in-cluster)"}: no current context/cluster`);
  return kc;
}

/**
 * kubectl's `users[].user.tokenFile` is not read by client-node (it only knows `token-file`).
 * Map it to client-node's file-token provider, which re-reads the file as it rotates.
 */
function honourTokenFile(kc: KubeConfig, path: string): void {
  const raw = parseYaml(readFileSync(path, "utf8")) as { users?: { name?: string; user?: { tokenFile?: string } }[] } | null;
  for (const u of raw?.users ?? []) {
    const tf = u.user?.tokenFile;
    const target = kc.users.find((x) => x.name === u.name);
    if (!tf || !target || target.token || target.authProvider) continue;
    const abs = isAbsolute(tf) ? tf : join(dirname(path), tf);
    (target as { authProvider?: unknown }).authProvider = { name: "tokenFile", config: { tokenFile: abs } };
  }
}

function queryString(q: KubeRequest["query"]): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

async function errorFrom(res: Response, what: string): Promise<KubeError> {
  const text = await res.text().catch(() => "");
  let reason = res.statusText || "";
  let detail = text.slice(0, 500);
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string };
    if (status.reason) reason = status.reason;
    if (status.message) detail = status.message;
  } catch {
    // not a Status object: keep the raw (truncated) text
  }
  return new KubeError(res.status, reason, detail, what);
}

/** Every API request gets an answer (headers and body) within this long, or fails naming its object. */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A signal that fires on the caller's abort or after `ms`; `timedOut()` tells which. Bun's fetch
 * otherwise waits forever on a connection that silently stopped passing data.
 */
function deadline(ms: number, outer?: AbortSignal) {
  const ctl = new AbortController();
  let expired = false;
  const timer = setTimeout(() => ((expired = true), ctl.abort(new Error(`no answer within ${ms / 1000}s`))), ms);
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener("abort", onOuter, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => expired,
    /** Stops the timer; the caller's abort still reaches the signal. */
    disarm: () => clearTimeout(timer),
    done: () => (clearTimeout(timer), outer?.removeEventListener("abort", onOuter)),
  };
}

export function makeKubeClient(kc: KubeConfig, userAgent = "k8s-restart-app", timeoutMs = REQUEST_TIMEOUT_MS): KubeClient {
  const cluster = kc.getCurrentCluster()!;
  const server = cluster.server.replace(/\/+$/, "");

  async function init(req: KubeRequest): Promise<RequestInit & { tls?: object; proxy?: string }> {
    // Resolved per request: token files, exec plugins and rotated in-cluster tokens stay fresh.
    const o: ResolvedOptions = {};
    // applyOptions is public at runtime but typed private; it is the one place that resolves
    // every kubeconfig auth mode (token, token file, exec, OIDC, client cert, CA, skip-verify).
    await (kc as unknown as { applyOptions(o: ResolvedOptions): Promise<void> }).applyOptions(o);
    const user = kc.getCurrentUser();
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": userAgent, ...(o.headers ?? {}) };
    if (user?.username) headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === "string" ? req.body : JSON.stringify(req.body);
      headers["Content-Type"] = req.contentType ?? "application/json";
    }
    const tls: Record<string, unknown> = {};
    if (o.ca) tls.ca = o.ca;
    if (o.cert) tls.cert = o.cert;
    if (o.key) tls.key = o.key;
    if (o.servername) tls.serverName = o.servername;
    // Verification stays on unless this kubeconfig cluster says insecure-skip-tls-verify.
    tls.rejectUnauthorized = o.rejectUnauthorized ?? true;
    return {
      method: req.method ?? "GET",
      headers,
      body,
      signal: req.signal,
      tls,
      ...(cluster.proxyUrl ? { proxy: cluster.proxyUrl } : {}),
    };
  }

  const send = async (req: KubeRequest, signal: AbortSignal) => fetch(server + req.path + queryString(req.query), { ...(await init(req)), signal });
  return { server, request: timedRequest(send, timeoutMs), stream: timedStream(send, timeoutMs) };
}

type Send = (req: KubeRequest, signal: AbortSignal) => Promise<Response>;

/** A JSON request with a deadline on headers and body: a silent connection fails naming the object. */
function timedRequest(send: Send, timeoutMs: number) {
  return async <T>(req: KubeRequest, what: string): Promise<T> => {
    const d = deadline(timeoutMs, req.signal);
    try {
      const res = await send(req, d.signal);
      if (!res.ok) throw await errorFrom(res, what);
      return (await res.json()) as T;
    } catch (e) {
      if (e instanceof KubeError && !d.timedOut()) throw e;
      if (d.timedOut()) throw new KubeError(0, "Timeout", `no answer within ${timeoutMs / 1000}s`, what);
      throw new KubeError(0, "Unreachable", (e as Error).message, what);
    } finally {
      d.done();
    }
  };
}

/** A watch stream: only its response headers are timed here; the watch itself times its silence. */
function timedStream(send: Send, timeoutMs: number) {
  return async (req: KubeRequest): Promise<Response> => {
    const d = deadline(timeoutMs, req.signal);
    try {
      return await send(req, d.signal);
    } catch (e) {
      if (d.timedOut()) throw new Error(`watch ${req.path}: no answer within ${timeoutMs / 1000}s`);
      throw e;
    } finally {
      // The headers are in: stop the timer but keep the link to the caller's abort, which
      // must still end the stream (the caller passes a signal of its own per watch).
      d.disarm();
    }
  };
}

export { errorFrom as kubeErrorFrom };
