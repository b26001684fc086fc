// Uniform API errors: every non-2xx answer is {"error","message","request_id"} JSON with X-Request-Id, whichever handler (or the router) produced it; HTML stays HTML for the page's own requests.
import { requestUrl } from "./requrl.ts";
import { requestIdOf } from "./request-id.ts";
import { json } from "./respond.ts";
import type { ApiErrorBody } from "./schemas.ts";

/** Request bodies larger than this are refused with 413 (no endpoint reads a body; the restart POST needs none). */
export const MAX_BODY_BYTES = 64 * 1024;

/** Operational endpoints keep their own formats (text readiness, Prometheus text). */
const OPERATIONAL = new Set(["/healthz", "/readyz", "/metrics"]);

/** The error reason for a status when the answer did not name one. */
const REASON: Record<number, string> = {
  400: "bad-request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not-found",
  405: "method-not-allowed",
  413: "payload-too-large",
  429: "rate-limited",
  500: "internal",
  503: "not-ready",
};

/** A 413 for a declared body over the limit, before any handler runs. */
export function tooLarge(req: Request): Response | undefined {
  const length = Number(req.headers.get("content-length") ?? 0);
  if (!(length > MAX_BODY_BYTES)) return undefined;
  return json({ error: "payload-too-large", message: `request body of ${length} bytes exceeds the limit of ${MAX_BODY_BYTES}` }, 413);
}

/** An error body the handler already shaped ({error, message}), or undefined. */
function shaped(text: string, type: string): Partial<ApiErrorBody> | undefined {
  if (!type.startsWith("application/json")) return undefined;
  try {
    const b = JSON.parse(text) as Partial<ApiErrorBody>;
    return typeof b.error === "string" && typeof b.message === "string" ? b : undefined;
  } catch {
    return undefined;
  }
}

/** The body of an error answer as the uniform shape; `text` is what the handler sent. */
function errorBody(status: number, text: string, type: string, requestId: string): ApiErrorBody {
  const b = shaped(text, type);
  if (b) return { ...b, error: b.error!, message: b.message!, request_id: requestId };
  return { error: REASON[status] ?? `http-${status}`, message: text.trim() || `HTTP ${status}`, request_id: requestId };
}

/** Adds X-Request-Id to every answer and turns any non-2xx non-HTML answer into the uniform JSON error. */
export async function uniform(req: Request, res: Response | undefined): Promise<Response | undefined> {
  if (!res) return res; // upgraded to a websocket
  const requestId = requestIdOf(req);
  res.headers.set("X-Request-Id", requestId);
  const type = res.headers.get("content-type") ?? "";
  if (res.status < 400 || type.startsWith("text/html")) return res;
  const text = await res.text();
  // /readyz's own 503 (text or ?format=json) keeps its format; the router's errors there do not.
  if (OPERATIONAL.has(requestUrl(req).pathname) && !shaped(text, type)) return new Response(text, { status: res.status, headers: res.headers });
  const body = errorBody(res.status, text, type, requestId);
  const headers = new Headers(res.headers);
  headers.set("Content-Type", "application/json");
  headers.delete("Content-Length");
  return new Response(JSON.stringify(body), { status: res.status, headers });
}
