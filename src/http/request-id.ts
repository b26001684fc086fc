// One request id per request: the caller's X-Request-Id when it is safe to echo, else a fresh UUID; every part of the app asks here.
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ids = new WeakMap<Request, string>();

/** The id of `req`, the same on every call (error bodies, the audit line, the access log, the X-Request-Id header). */
export function requestIdOf(req: Request): string {
  let id = ids.get(req);
  if (!id) {
    id = req.headers.get("x-request-id")?.match(REQUEST_ID)?.[0] ?? crypto.randomUUID();
    ids.set(req, id);
  }
  return id;
}
