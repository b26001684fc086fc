// LOG_LEVEL=debug: one access line per API request (method, path, status, duration, request id).
import { requestUrl } from "./requrl.ts";
import { requestIdOf } from "./request-id.ts";

export type AccessLogger = (level: "debug", msg: string, fields: Record<string, unknown>) => void;

export function logAccess(log: AccessLogger, req: Request, res: Response | undefined, startedMs: number): void {
  const path = requestUrl(req).pathname;
  if (!path.startsWith("/api/")) return;
  // An upgraded websocket has no Response: 101.
  const fields = { method: req.method, path, status: res?.status ?? 101, ms: Math.round((performance.now() - startedMs) * 10) / 10, request_id: requestIdOf(req) };
  log("debug", "request", fields);
}
