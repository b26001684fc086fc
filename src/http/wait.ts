// ?wait=<seconds> for scripts: parse it, and answer once a rollout has settled (200 complete, 502 failed, 504 timeout).
import { requestUrl } from "./requrl.ts";
import { type ServiceKey, serviceId } from "../config/file.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceStatus } from "../status/model.ts";
import { isHtmx } from "./identify.ts";
import { json, withHeaders } from "./respond.ts";
import type { Drain } from "./drain.ts";
import type { DrainingBody, WaitResultBody } from "./schemas.ts";
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
  const raw = requestUrl(req).searchParams.get("wait");
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

export interface WaitReply {
  hub: Pick<StatusHub, "current" | "onStatus">;
  service: ServiceKey;
  /** Starts the wait (hub.waitForRestart or hub.waitForSettled). */
  wait: () => Promise<Waited>;
  requestId: string;
  /** What the POST adds to the result (restarted_at, generation). */
  extra?: Partial<WaitResultBody>;
  /** WATCH_INTERVAL: a quiet NDJSON stream repeats the current status this often, so idle proxies see traffic. */
  heartbeatSec: number;
  /** Shutdown: a wait in progress is answered 503 (issue 15 #11). */
  drain?: Pick<Drain, "draining" | "onDrain">;
}

/** The wait's result, or "draining" once shutdown begins (issue 15 #11). */
function untilSettledOrDraining(o: WaitReply): Promise<Waited | "draining"> {
  const { drain } = o;
  if (!drain) return o.wait();
  if (drain.draining()) return Promise.resolve("draining");
  let off = () => {};
  const draining = new Promise<"draining">((resolve) => (off = drain.onDrain(() => resolve("draining"))));
  return Promise.race([o.wait(), draining]).finally(() => off());
}

/** Shutting down: this instance cannot follow the rollout to its end (a restart, if any, was applied and goes on). */
export function drainingBody(o: Pick<WaitReply, "service" | "requestId" | "extra">): DrainingBody {
  const applied = o.extra?.restarted_at !== undefined;
  const message = applied ? "the app is shutting down; the restart was applied, its rollout goes on" : "the app is shutting down; ask again (another replica will answer)";
  const service = { kind: o.service.kind, namespace: o.service.namespace, name: o.service.name };
  const restart = applied ? { status: "restarting" as const, restarted_at: o.extra?.restarted_at, generation: o.extra?.generation } : {};
  return { ...restart, error: "unavailable", message, service, request_id: o.requestId };
}

/** Waits, then answers with one JSON body; with `Accept: application/x-ndjson`, streams while waiting. */
export async function replyAfterWait(req: Request, o: WaitReply): Promise<Response> {
  if ((req.headers.get("accept") ?? "").includes("application/x-ndjson")) return streamWait(o);
  const w = await untilSettledOrDraining(o);
  if (w === "draining") return json(drainingBody(o), 503, { "X-Request-Id": o.requestId, "Retry-After": "1" });
  const { code, body } = waitResult(o.service, w, o.requestId, o.extra);
  return json(body, code, { "X-Request-Id": o.requestId });
}

/**
 * One JSON line per status change of the service (the current one first), the result last. The
 * HTTP status is sent before the outcome is known, so it is 200: the last line's `status` and
 * `error` say how it ended.
 */
function streamWait(o: WaitReply): Response {
  const id = serviceId(o.service);
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const enc = new TextEncoder();
      let last = Date.now();
      const send = (line: unknown) => {
        last = Date.now();
        try {
          controller.enqueue(enc.encode(`${JSON.stringify(line)}\n`));
        } catch {
          stop(); // the client went away
        }
      };
      const current = o.hub.current(o.service);
      if (current) send(wireStatus(current));
      const off = o.hub.onStatus((s) => serviceId(s.service) === id && send(wireStatus(s)));
      const quiet = setInterval(() => {
        const s = o.hub.current(o.service);
        if (s && Date.now() - last >= o.heartbeatSec * 1000) send(wireStatus(s));
      }, o.heartbeatSec * 1000);
      stop = () => (off(), clearInterval(quiet));
      void untilSettledOrDraining(o).then((w) => {
        stop();
        send(w === "draining" ? drainingBody(o) : waitResult(o.service, w, o.requestId, o.extra).body);
        controller.close();
      });
    },
    cancel: () => stop(),
  });
  return withHeaders(new Response(body, { headers: { "Content-Type": "application/x-ndjson", "Cache-Control": "no-store", "X-Request-Id": o.requestId } }));
}
