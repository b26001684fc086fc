// ALLOWED_HOSTS entries: host names and "*.domain" patterns browser requests may use (the check is in http/hosts.ts).
import { parseAddress } from "./cidr.ts";

/** "*" (any), "*.example.com" (any name below it), or an exact name. */
export type HostPattern = string;

/** Localhost names and in-cluster Service names (IP literals are always accepted). */
export const DEFAULT_ALLOWED_HOSTS: HostPattern[] = ["localhost", "*.localhost", "*.svc", "*.svc.cluster.local"];

/** Validates one ALLOWED_HOSTS entry; returns it lower-cased, or throws a plain Error saying why. */
export function parseHostPattern(raw: string): HostPattern {
  const p = raw.trim().toLowerCase().replace(/\.$/, "");
  if (p === "*") return p;
  const name = p.startsWith("*.") ? p.slice(2) : p;
  if (parseAddress(name) && !p.startsWith("*.")) return p;
  if (!/^(?=.{1,253}$)[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*$/.test(name)) {
    throw new Error(`${JSON.stringify(raw)} is not a host name, "*.domain" pattern or "*" (no scheme, port or path)`);
  }
  return p;
}

