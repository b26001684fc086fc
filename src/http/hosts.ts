// DNS-rebinding defence: a browser request must name a host this app is meant to be reached by (ALLOWED_HOSTS).
//
// A page on evil.example whose name later resolves to 127.0.0.1 (or to a `kubectl
// port-forward`) talks to the app from the victim's browser with `Host: evil.example` and
// `Origin: http://evil.example` — same-origin as far as the Origin check can tell. The Host
// header is what gives it away. IP literals cannot be rebound and are always accepted; clients
// without browser headers (curl, scripts) cannot be rebound either and are not checked.
import { parseAddress } from "../config/cidr.ts";
import type { HostPattern } from "../config/hosts.ts";

/** The host name of a Host header value, without port and brackets, lower-cased. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") < 0 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return (colon >= 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h).replace(/\.$/, "");
}

export function hostAllowed(header: string, patterns: HostPattern[]): boolean {
  const name = hostName(header);
  if (name === "") return false;
  if (parseAddress(name)) return true;
  return patterns.some((p) => p === "*" || p === name || (p.startsWith("*.") && name.endsWith(p.slice(1))));
}

/** A request a browser made: it carries Origin or a Sec-Fetch-* header (a script can send neither by accident). */
export function fromBrowser(req: Request): boolean {
  const h = req.headers;
  return h.has("origin") || h.has("sec-fetch-site") || h.has("sec-fetch-mode") || h.has("sec-fetch-dest");
}

/** Why a browser request's Host is refused (a 403 message naming ALLOWED_HOSTS), or undefined. */
export function hostRefusal(req: Request, patterns: HostPattern[]): string | undefined {
  if (!fromBrowser(req)) return undefined;
  const host = req.headers.get("host") ?? "";
  if (hostAllowed(host, patterns)) return undefined;
  return `host ${JSON.stringify(hostName(host))} is not one this app serves: add it to ALLOWED_HOSTS (browser requests are checked against it to stop DNS rebinding)`;
}

/** For the start-up log: which hosts browser requests may use. */
export function describeHosts(patterns: HostPattern[]): string {
  return [...patterns, "IP literals"].join(", ");
}
