// The API's response bodies as TypeBox schemas: the handlers type their bodies from these, http/openapi.ts publishes them, the e2e suite checks every answer against them.
import { type Static, Type } from "@sinclair/typebox";
import { KINDS } from "../config/file.ts";

const Kind = Type.Union(KINDS.map((k) => Type.Literal(k)));
const Count = Type.Integer({ minimum: 0 });
const Rollout = Type.Union((["complete", "progressing", "failed", "paused", "missing", "unknown"] as const).map((s) => Type.Literal(s)), {
  description: "judged like `kubectl rollout status`",
});

export const ServiceRef = Type.Object({ kind: Kind, namespace: Type.String(), name: Type.String() }, { additionalProperties: false });

export const LockBody = Type.Object(
  {
    since: Type.String({ format: "date-time", description: "when the restart took the lock" }),
    expires_at: Type.String({ format: "date-time", description: "when the lock goes even if the rollout never settles (FORCE_UNLOCK_SEC)" }),
    user: Type.String({ description: "who restarted; empty when anonymous" }),
  },
  { additionalProperties: false },
);

const Outcome = Type.Object(
  {
    restarted_at: Type.String(),
    result: Type.Union((["complete", "failed", "timed-out"] as const).map((r) => Type.Literal(r))),
    seconds: Count,
    why: Type.String(),
  },
  { additionalProperties: false },
);

/** One service's status: one websocket message, and the snapshot's base (the original tool's shape; fields only added). */
export const StatusMessage = Type.Object(
  {
    kind_namespace_name: ServiceRef,
    status: Type.Object(
      {
        message: Type.String({ description: "empty when all is well, the error otherwise (as the original tool)" }),
        rollout_message: Type.String({ description: "the kubectl-style rollout message" }),
        pod_status: Type.Record(Type.String(), Count, { description: "pods by phase, plus Terminating" }),
        last_restart: Type.String({ description: "restartedAt of the pod template (RFC 3339), empty when never restarted" }),
        pods_ready: Count,
        rollout: Rollout,
        desired: Count,
        ready: Count,
        updated: Count,
        restarted_by: Type.String(),
        why: Type.String({ description: "the most likely cause when the rollout failed or is slow; empty otherwise" }),
        outcome: Type.Union([Type.Null(), Outcome], { description: "how the last restart ended, when the app saw it under way" }),
      },
      { additionalProperties: false },
    ),
    is_locked: Type.Boolean(),
    lock: Type.Union([Type.Null(), LockBody]),
  },
  { additionalProperties: false },
);

/**
 * A service that left the list (a config reload, or a workload a selector entry no longer matches),
 * on the JSON websocket streams: a status message with rollout "removed" (clients that only know
 * status messages show an unknown state) plus `removed: true`.
 */
export const RemovalMessage = Type.Object(
  {
    kind_namespace_name: ServiceRef,
    status: Type.Object(
      {
        message: Type.String(),
        rollout_message: Type.String(),
        pod_status: Type.Record(Type.String(), Count),
        last_restart: Type.Literal(""),
        pods_ready: Type.Literal(0),
        rollout: Type.Literal("removed"),
        desired: Type.Literal(0),
        ready: Type.Literal(0),
        updated: Type.Literal(0),
        restarted_by: Type.Literal(""),
      },
      { additionalProperties: false },
    ),
    is_locked: Type.Literal(false),
    lock: Type.Null(),
    removed: Type.Literal(true),
  },
  { additionalProperties: false },
);

/** One message of the JSON websocket streams (/api/v1/service/status and one service's /status): a status, or a removal. */
export const WebSocketMessage = Type.Union([StatusMessage, RemovalMessage]);

const Pod = Type.Object(
  {
    name: Type.String(),
    phase: Type.String({ description: "Pending, Running, Succeeded, Failed, Unknown, or Terminating" }),
    ready: Type.Boolean(),
    restarts: Count,
    age_sec: Type.Number(),
    node: Type.String(),
    current: Type.Union([Type.Boolean(), Type.Null()], { description: "runs the workload's current revision; null when that is not known" }),
    reason: Type.String({ description: "why it is not running well (e.g. CrashLoopBackOff); empty when nothing is wrong" }),
    detail: Type.String(),
    created: Type.String(),
  },
  { additionalProperties: false },
);

const Event = Type.Object(
  {
    type: Type.Union([Type.Literal("Warning"), Type.Literal("Normal")]),
    reason: Type.String(),
    message: Type.String(),
    object: Type.String({ description: "Kind/name it is about" }),
    count: Count,
    first_seen: Type.String(),
    last_seen: Type.String(),
  },
  { additionalProperties: false },
);

const HistoryEntry = Type.Object(
  {
    restarted_at: Type.String(),
    restarted_by: Type.String(),
    revision: Count,
    outcome: Type.Union((["complete", "failed", "timed-out", "in-progress", "unknown"] as const).map((r) => Type.Literal(r))),
    duration_sec: Type.Union([Count, Type.Null()]),
    why: Type.String(),
  },
  { additionalProperties: false },
);

const detailFields = {
  pods: Type.Array(Pod),
  events: Type.Array(Event, { description: "the service's rollout Events and every Warning (empty when the app may not read Events)" }),
  history: Type.Array(HistoryEntry, { description: "past restarts, newest first" }),
  missing_permissions: Type.Array(Type.String(), { description: "detail reads the app lacks rights for (their parts stay empty), e.g. \"events in shop\"" }),
};

/** One service's details (the on-call panel): pods, Events, restart history. */
export const Details = Type.Object(detailFields, { additionalProperties: false });

/** GET /api/v1/service/{kind}/{namespace}/{name}: the status message plus the service's details. */
export const Snapshot = Type.Object({ ...StatusMessage.properties, ...detailFields }, { additionalProperties: false });

export const ServiceList = Type.Object(
  { services: Type.Array(Type.Object({ kind: Kind, name: Type.String(), namespace: Type.String() }, { additionalProperties: false })) },
  { additionalProperties: false },
);

const RequestId = Type.String({ description: "also in the X-Request-Id header and the audit line" });

export const RestartAccepted = Type.Object(
  {
    status: Type.Literal("restarting"),
    service: ServiceRef,
    restarted_at: Type.String({ format: "date-time" }),
    generation: Count,
    request_id: RequestId,
  },
  { additionalProperties: false },
);

/** Every non-2xx answer of the API. */
export const ApiError = Type.Object(
  {
    error: Type.String({ description: "a stable reason: bad-request, unauthenticated, forbidden, not-found, missing, paused, locked, rate-limited, upstream, …" }),
    message: Type.String({ description: "what happened, for people" }),
    request_id: RequestId,
    lock: Type.Optional(LockBody),
  },
  { additionalProperties: false },
);

/** The answer of ?wait (GET snapshot and POST restart), and the last line of its NDJSON stream. */
export const WaitResult = Type.Object(
  {
    status: Type.Union([Rollout, Type.Literal("timeout")], { description: "how the rollout settled, or timeout" }),
    service: ServiceRef,
    restarted_at: Type.Optional(Type.String({ format: "date-time", description: "POST only" })),
    generation: Type.Optional(Count),
    rollout: Type.Optional(StatusMessage),
    request_id: RequestId,
    error: Type.Optional(Type.String({ description: "rollout-failed, rollout-timeout, …: set whenever the code is not 200" })),
    message: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** 503 to a ?wait caller when the app shuts down (issue 15 #11): after a restart, `status` says it was applied and rolls on. */
export const Draining = Type.Object(
  {
    status: Type.Optional(Type.Literal("restarting")),
    error: Type.Literal("unavailable"),
    message: Type.String(),
    service: ServiceRef,
    restarted_at: Type.Optional(Type.String({ format: "date-time", description: "POST only" })),
    generation: Type.Optional(Count),
    request_id: RequestId,
  },
  { additionalProperties: false },
);

/** One line of an `Accept: application/x-ndjson` wait: status messages while it rolls, the result (or the shutdown notice) last. */
export const WaitLine = Type.Union([StatusMessage, WaitResult, Draining]);

export const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal("ok"), Type.Literal("degraded"), Type.Literal("not ready")]),
    reasons: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

/** GET /api/v1/openapi.json: described by its own standard; only its frame is checked here. */
export const OpenApiDocument = Type.Object({ openapi: Type.Literal("3.1.0"), info: Type.Object({ title: Type.String(), version: Type.String() }), paths: Type.Record(Type.String(), Type.Unknown()) });

export type StatusMessageBody = Static<typeof StatusMessage>;
export type SnapshotBody = Static<typeof Snapshot>;
export type DetailsBody = Static<typeof Details>;
export type RemovalMessageBody = Static<typeof RemovalMessage>;
export type ServiceListBody = Static<typeof ServiceList>;
export type RestartAcceptedBody = Static<typeof RestartAccepted>;
export type ApiErrorBody = Static<typeof ApiError>;
export type WaitResultBody = Static<typeof WaitResult>;
export type DrainingBody = Static<typeof Draining>;
export type ReadinessBody = Static<typeof Readiness>;
