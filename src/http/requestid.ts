// The request id that ties a response to its audit line: the client's X-Request-Id only when it is short and plain.

const PLAIN_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A client-chosen id reaches the audit log, so only ≤ 64 characters of [A-Za-z0-9._-] are
 * accepted (no spaces, quotes, control characters or log-forging newlines); anything else is
 * replaced by a fresh random id.
 */
export function requestIdFrom(header: string | null, fresh: () => string = () => crypto.randomUUID()): string {
  return header !== null && PLAIN_ID.test(header) ? header : fresh();
}
