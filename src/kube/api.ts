// The only HTTP path to the API server: Bun's fetch with the TLS material and headers that a Credentials source resolves.
//
// Why not client-node's own HTTP stack: under Bun it passes CA, client certificate and
// insecure-skip through an undici dispatcher that Bun replaces with a no-op stub, so CA
// verification, client certificates and skip-verify are all silently ignored. Credentials come
// from in-cluster files (./incluster.ts, light) or from a kubeconfig through client-node
// (./client.ts, loaded only when a kubeconfig is used); this module needs neither.

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

/** What one request needs to authenticate and verify the server, resolved right before it is sent. */
export interface Resolved {
  headers: Record<string, string>;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  /** false only when the configuration says insecure-skip-tls-verify. */
  rejectUnauthorized: boolean;
}

/** Where the API server is and how to talk to it; `resolve` runs per request so rotated tokens and exec plugins stay fresh. */
export interface Credentials {
  server: string;
  /** The namespace the configuration points at (kubeconfig context, or the pod's own), if any. */
  namespace?: string;
  proxyUrl?: string;
  /** The kubeconfig context's cluster name (none in-cluster): the page's header when CLUSTER_NAME is unset. */
  clusterName?: string;
  resolve(): Promise<Resolved>;
}

function queryString(q: KubeRequest["query"]): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export async function kubeErrorFrom(res: Response, what: string): Promise<KubeError> {
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

export function makeApiClient(creds: Credentials, userAgent = "k8s-restart-app", timeoutMs = REQUEST_TIMEOUT_MS): KubeClient {
  const server = creds.server.replace(/\/+$/, "");

  async function init(req: KubeRequest): Promise<RequestInit & { tls?: object; proxy?: string }> {
    const o = await creds.resolve();
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": userAgent, ...o.headers };
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
    // Verification stays on unless the configuration says insecure-skip-tls-verify.
    tls.rejectUnauthorized = o.rejectUnauthorized;
    return { method: req.method ?? "GET", headers, body, tls, ...(creds.proxyUrl ? { proxy: creds.proxyUrl } : {}) };
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
      if (!res.ok) throw await kubeErrorFrom(res, what);
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
