// A declarative route table: paths with :params, handlers per method; 405 with Allow, 404 as JSON.
import type { Server } from "bun";
import { requestUrl } from "./requrl.ts";
import { json } from "./respond.ts";

/** Path parameters, percent-decoded; undefined where the encoding is malformed (the handler answers 400). */
export type Params = Record<string, string | undefined>;
export type Handler = (req: Request, params: Params, server: Server<never>) => Response | undefined | Promise<Response | undefined>;
export type Route = { path: string } & Partial<Record<"GET" | "POST", Handler>>;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function match(pattern: string[], parts: string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = decode(parts[i]!);
    else if (p !== parts[i]) return undefined;
  }
  return params;
}

/** Compiles a table once; the returned function answers every request (a GET handler also answers HEAD). */
export function router(routes: Route[]): (req: Request, server: Server<never>) => Promise<Response | undefined> {
  const compiled = routes.map((r) => ({ route: r, pattern: r.path.split("/") }));
  return async (req, server) => {
    const path = requestUrl(req).pathname; // issue 15 #16: HTTP/1.0 without Host has no absolute URL
    const parts = path.split("/");
    for (const { route, pattern } of compiled) {
      const params = match(pattern, parts);
      if (!params) continue;
      const method = req.method === "HEAD" ? "GET" : req.method;
      const handler = method === "GET" || method === "POST" ? route[method] : undefined;
      if (handler) return handler(req, params, server);
      const allow = [route.GET ? "GET, HEAD" : "", route.POST ? "POST" : ""].filter(Boolean).join(", ");
      return json({ error: "method-not-allowed", message: `${req.method} is not allowed on ${path}; allowed: ${allow}` }, 405, { Allow: allow });
    }
    return json({ error: "not-found", message: `no route for ${req.method} ${path}` }, 404);
  };
}
