// The client's address: the TCP peer, or what a trusted proxy says in X-Forwarded-For.
import { type Cidr, inAny, parseAddress } from "../config/cidr.ts";

/**
 * X-Forwarded-For counts only when the peer itself is a trusted proxy (anyone else could write
 * anything into it). Each proxy appends the address it saw, so the client is the rightmost entry
 * that is not one of our trusted proxies; entries left of it were written by the client.
 */
export function clientAddress(peer: string, forwardedFor: string | null, trusted: Cidr[]): string {
  if (!forwardedFor || !inAny(trusted, peer)) return peer;
  const hops = forwardedFor.split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!parseAddress(hop)) return peer; // garbage: fall back to what we know
    if (!inAny(trusted, hop)) return hop;
  }
  return hops[0] || peer;
}
