// Responses: the reason → HTTP status table, the embedded static assets, and helpers that always add the security headers.
import htmxJs from "htmx.org/dist/htmx.min.js" with { type: "file" };
import hxWsJs from "htmx.org/dist/ext/hx-ws.min.js" with { type: "file" };
import appCss from "../../static/app.css" with { type: "file" };
import appJs from "../../static/app.js" with { type: "file" };
import favicon from "../../static/favicon.svg" with { type: "file" };
import { SECURITY_HEADERS } from "./security.ts";

/** The one place a restart outcome's reason becomes an HTTP status. */
export const STATUS: Record<string, number> = {
  "bad-request": 400,
  unauthenticated: 401,
  forbidden: 403,
  "not-found": 404,
  missing: 404,
  paused: 409,
  locked: 423,
  "rate-limited": 429,
  upstream: 502,
  unavailable: 503,
};

export const STATIC: Record<string, { path: string; type: string }> = {
  "/static/htmx.min.js": { path: htmxJs, type: "text/javascript; charset=utf-8" },
  "/static/hx-ws.min.js": { path: hxWsJs, type: "text/javascript; charset=utf-8" },
  "/static/app.js": { path: appJs, type: "text/javascript; charset=utf-8" },
  "/static/app.css": { path: appCss, type: "text/css; charset=utf-8" },
  "/static/favicon.svg": { path: favicon, type: "image/svg+xml" },
  "/favicon.ico": { path: favicon, type: "image/svg+xml" },
};

export function withHeaders(res: Response, extra: Record<string, string> = {}): Response {
  for (const [k, v] of Object.entries({ ...SECURITY_HEADERS, ...extra })) res.headers.set(k, v);
  return res;
}

export function json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return withHeaders(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }), extra);
}

export function html(body: string, status = 200): Response {
  return withHeaders(new Response(body, { status, headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" } }));
}

export function text(body: string, status: number, extra: Record<string, string> = {}): Response {
  return withHeaders(new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } }), extra);
}

