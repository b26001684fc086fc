// Turns a request into an Identity, or into the answer for a caller without one (a sign-in page for browsers, 401 JSON otherwise).
import type { AuthSettings } from "../config/env.ts";
import type { Identity } from "../restart/identity.ts";
import type { Authn } from "./auth.ts";
import { renderLogin } from "./render.ts";
import { html, json, withHeaders } from "./respond.ts";

export const isHtmx = (req: Request) => req.headers.get("hx-request") === "true";
const wantsHtml = (req: Request) => isHtmx(req) || (req.headers.get("accept") ?? "").includes("text/html");

export type Identify = (req: Request) => Identity | Response;

/**
 * `peerOf` gives the TCP peer's address: identity headers count only from TRUSTED_PROXIES (issue 15 #2).
 * `mode`: a bearer challenge is advertised only when tokens are what is wanted (not behind an authenticating proxy).
 */
export function makeIdentify(authn: Authn, peerOf: (req: Request) => string, mode: AuthSettings["mode"] = "token"): Identify {
  const challenge: Record<string, string> = mode === "token" ? { "WWW-Authenticate": 'Bearer realm="k8s-restart-app"' } : {};
  return (req) => {
    const who = authn(req, peerOf(req));
    if (!("error" in who)) return who;
    // A repeated or undecodable identity header (issue 15 #1, #7).
    if (who.status === 400) return json({ error: "bad-request", message: who.error }, 400);
    if (wantsHtml(req) && !isHtmx(req)) return withHeaders(html(renderLogin(who.error), 401));
    return json({ error: "unauthenticated", message: who.error }, 401, challenge);
  };
}
