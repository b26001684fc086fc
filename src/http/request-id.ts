// One request id per request: the caller's X-Request-Id when it is safe to echo (requestid.ts), else a fresh UUID; every part of the app asks here.
import { requestIdFrom } from "./requestid.ts";

const ids = new WeakMap<Request, string>();

/** The id of `req`, the same on every call (error bodies, the audit line, the access log, the X-Request-Id header). */
export function requestIdOf(req: Request): string {
  let id = ids.get(req);
  if (!id) {
    id = requestIdFrom(req.headers.get("x-request-id"));
    ids.set(req, id);
  }
  return id;
}
