// ?wait=<seconds> for scripts: parse it, and answer once a rollout has settled (200 complete, 502 failed, 504 timeout).
import type { ServiceKey } from "../config/file.ts";
import type { ServiceStatus } from "../status/model.ts";
import { isHtmx } from "./identify.ts";
import { json } from "./respond.ts";
import type { WaitResultBody } from "./schemas.ts";
import { wireStatus } from "./render.ts";

/** How a wait ended: a rollout state, or "timeout". */
export type WaitOutcome = WaitResultBody["status"];

/** Outcome → HTTP status and error reason (none for 200). */
const ANSWER: Record<WaitOutcome, [number, string?]> = {
  complete: [200],
  failed: [502, "rollout-failed"],
  timeout: [504, "rollout-timeout"],
  paused: [409, "paused"],
  missing: [404, "missing"],
  unknown: [502, "rollout-unknown"],
  progressing: [504, "rollout-timeout"],
};

/** ?wait=<seconds> (1–3600; empty = ROLLOUT_TIMEOUT_SEC capped at 3600): 0 when absent or asked by the page; a string says what is wrong. */
export function waitSeconds(req: Request, rolloutTimeoutSec: number): number | string {
  const raw = new URL(req.url).searchParams.get("wait");
  if (raw === null || isHtmx(req)) return 0;
  const sec = raw === "" ? Math.min(rolloutTimeoutSec, 3600) : /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  return sec >= 1 && sec <= 3600 ? sec : `wait: expected seconds from 1 to 3600, got ${JSON.stringify(raw)}`;
}

export interface Waited {
  outcome: WaitOutcome;
  status?: ServiceStatus;
}

/** The result body and its HTTP status; `extra` carries what the POST adds (restarted_at, generation). */
export function waitResult(service: ServiceKey, w: Waited, requestId: string, extra: Partial<WaitResultBody> = {}): { code: number; body: WaitResultBody } {
  const [code, error] = ANSWER[w.outcome];
  const body: WaitResultBody = {
    status: w.outcome,
    service: { kind: service.kind, namespace: service.namespace, name: service.name },
    ...extra,
    ...(w.status ? { rollout: wireStatus(w.status) } : {}),
    request_id: requestId,
    ...(error ? { error, message: w.status?.message || `the rollout ended as ${w.outcome}` } : {}),
  };
  return { code, body };
}

/** Waits, then answers with one JSON body. */
export async function replyAfterWait(service: ServiceKey, wait: () => Promise<Waited>, requestId: string, extra: Partial<WaitResultBody> = {}): Promise<Response> {
  const { code, body } = waitResult(service, await wait(), requestId, extra);
  return json(body, code, { "X-Request-Id": requestId });
}
