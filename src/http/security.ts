// Cross-site request protection (as Go's http.CrossOriginProtection judges it) and the security headers.

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/**
 * Why a state-changing (or websocket) request is refused as cross-site, or undefined when allowed.
 * Browsers send Sec-Fetch-Site and/or Origin; clients that send neither (curl, scripts) are not
 * browsers and cannot be driven by another site, so they pass.
 */
export function crossSiteRefusal(req: Request, trusted: string[]): string | undefined {
  const origin = req.headers.get("origin");
  if (origin && trusted.includes(origin)) return undefined;
  const site = req.headers.get("sec-fetch-site");
  if (site) {
    if (site === "same-origin" || site === "none") return undefined;
    return `cross-site request refused (Sec-Fetch-Site: ${site}${origin ? `, Origin: ${origin}` : ""})`;
  }
  if (!origin) return undefined;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return `cross-site request refused (malformed Origin ${JSON.stringify(origin)})`;
  }
  const reqHost = req.headers.get("host") ?? new URL(req.url).host;
  if (host === reqHost) return undefined;
  return `cross-site request refused (Origin ${origin} does not match host ${reqHost})`;
}
