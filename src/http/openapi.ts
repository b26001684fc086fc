// The API described as OpenAPI 3.1, built from the TypeBox schemas the handlers use (http/schemas.ts) and the services file's (config/file.ts): one source of truth.
import { type TSchema, Type } from "@sinclair/typebox";
import { ServicesFileSchema } from "../config/file.ts";
import * as S from "./schemas.ts";

type Body = { schema: TSchema; type?: "application/json" | "application/x-ndjson" | "text/plain" | "text/html" };
type Answer = { description: string; bodies?: Body[]; headers?: string[] };
export interface Operation {
  method: "get" | "post";
  /** OpenAPI path template, e.g. /api/v1/service/{kind}/{namespace}/{name} */
  path: string;
  summary: string;
  query?: { name: string; description: string }[];
  responses: Record<string, Answer>;
}

const err = (description: string, headers?: string[]): Answer => ({ description, bodies: [{ schema: S.ApiError }], headers });
const ERRORS = (...codes: [string, string][]) => Object.fromEntries(codes.map(([c, d]) => [c, err(d)]));
const WAIT = { name: "wait", description: "seconds (1–3600; empty = ROLLOUT_TIMEOUT_SEC): answer once the rollout has settled" };
const WAIT_OR_ERROR = [{ schema: Type.Union([S.WaitResult, S.ApiError]) }];
const NDJSON: Body = { schema: S.WaitLine, type: "application/x-ndjson" };
const WS = "websocket: one status message (StatusMessage) per service on connect, then one per change (and each WATCH_INTERVAL); a service that leaves the list: a RemovalMessage";
/** The upgrade; its body documents the JSON text of every websocket message (a status, or a removal when the service set changes). */
const WS_OPEN: Answer = { description: "switching to the websocket; each message is a WebSocketMessage (JSON text)", bodies: [{ schema: S.WebSocketMessage }] };
const DEFAULT = err("any other error (405 with Allow, 413, 500, …)");
/** Answers every route can give (issue 15): a browser's request for a host not in ALLOWED_HOSTS (DNS rebinding). */
const HOSTS: [string, string] = ["403", "a browser request (Origin or Sec-Fetch-*) whose Host is not in ALLOWED_HOSTS"];
/** Identified routes: 400 when the identity header is sent twice or is not UTF-8 (AUTH_MODE=proxy), 401 without a valid identity. */
const IDENTITY: [string, string][] = [["400", "the identity header repeated or undecodable (AUTH_MODE=proxy)"], ["401", "no valid identity"]];
/** Shutdown while waiting (issue 15 #11): a Draining body; or an ApiError. */
const DRAINING_OR_ERROR = [{ schema: Type.Union([S.Draining, S.ApiError]) }];

/** Every operation of the API with every answer it can give; the e2e suite checks each response against these. */
export const OPERATIONS: Operation[] = [
  { method: "get", path: "/api/v1/service", summary: "The services you may see", responses: { 200: { description: "the list", bodies: [{ schema: S.ServiceList }] }, ...ERRORS(...IDENTITY, HOSTS), default: DEFAULT } },
  {
    method: "get",
    path: "/api/v1/service/status",
    summary: WS,
    responses: {
      101: WS_OPEN,
      ...ERRORS(["400", "not a websocket request, or the identity header repeated or undecodable"], ["401", "no valid identity"], ["403", "cross-site upgrade, or a Host not in ALLOWED_HOSTS"]),
      429: err("too many open websockets from this client address (WEBSOCKET_MAX_PER_ADDRESS)"),
      default: DEFAULT,
    },
  },
  {
    method: "get",
    path: "/api/v1/service/{kind}/{namespace}/{name}",
    summary: "One service's status plus its details: pods, Events, restart history (the snapshot); with ?wait, once its current rollout has settled, whoever started it",
    query: [WAIT],
    responses: {
      200: { description: "the snapshot, or with ?wait the rollout completed (streamed with Accept: application/x-ndjson)", bodies: [{ schema: Type.Union([S.Snapshot, S.WaitResult]) }, NDJSON] },
      ...ERRORS(["400", "bad path or ?wait, or the identity header repeated or undecodable"], ["401", "no valid identity"], HOSTS),
      404: { description: "not configured, or not visible to you; with ?wait: absent from the cluster", bodies: WAIT_OR_ERROR },
      409: { description: "?wait: the Deployment is paused", bodies: WAIT_OR_ERROR },
      502: { description: "?wait: the rollout failed", bodies: WAIT_OR_ERROR },
      503: { description: "the watch caches have not synced yet; with ?wait: the app is shutting down", bodies: DRAINING_OR_ERROR, headers: ["Retry-After"] },
      504: { description: "?wait: still rolling when the wait ended", bodies: WAIT_OR_ERROR },
      default: DEFAULT,
    },
  },
  {
    method: "get",
    path: "/api/v1/service/{kind}/{namespace}/{name}/status",
    summary: `${WS} (one service)`,
    responses: {
      101: WS_OPEN,
      ...ERRORS(
        ["400", "bad path or not a websocket request, or the identity header repeated or undecodable"],
        ["401", "no valid identity"],
        ["403", "cross-site upgrade, or a Host not in ALLOWED_HOSTS"],
        ["404", "not configured or not visible (both answer alike)"],
      ),
      429: err("too many open websockets from this client address (WEBSOCKET_MAX_PER_ADDRESS)"),
      default: DEFAULT,
    },
  },
  {
    method: "post",
    path: "/api/v1/service/{kind}/{namespace}/{name}/restart",
    summary: "Restart the service (kubectl rollout restart); with ?wait, answer once its rollout has settled",
    query: [WAIT],
    responses: {
      200: { description: "restarted; with ?wait, its rollout completed", bodies: [{ schema: Type.Union([S.RestartAccepted, S.WaitResult]) }, NDJSON], headers: ["X-Request-Id"] },
      ...ERRORS(
        ["400", "unknown kind, invalid name, malformed encoding or ?wait, or the identity header repeated or undecodable"],
        ["401", "no valid identity"],
        ["403", "cross-site request, a Host not in ALLOWED_HOSTS, a user not allowed, or the app lacks rights"],
        ["404", "not configured (or not visible), or absent from the cluster (missing)"],
        ["409", "a paused Deployment"],
      ),
      423: err("a restart of this service is in progress: `lock` names who and until when", ["Retry-After"]),
      429: err("too many applied restarts by this caller", ["Retry-After"]),
      503: { description: "the app is starting (its permission self-check or the first sync of the watch caches has not finished), or it is shutting down (with ?wait after the restart was applied: a Draining body)", bodies: DRAINING_OR_ERROR, headers: ["Retry-After"] },
      502: { description: "the API server refused or failed the PATCH; with ?wait, the rollout failed", bodies: WAIT_OR_ERROR },
      504: { description: "?wait: still rolling when the wait ended", bodies: WAIT_OR_ERROR },
      default: DEFAULT,
    },
  },
  {
    method: "get",
    path: "/ui/service/{kind}/{namespace}/{name}/details",
    summary: "One service's details (pods, Events, restart history): the page's panel as HTML, or JSON with Accept: application/json",
    responses: {
      200: { description: "the details", bodies: [{ schema: S.Details }, { schema: Type.String(), type: "text/html" }] },
      ...ERRORS(["400", "bad path, or the identity header repeated or undecodable"], ["401", "no valid identity"], HOSTS, ["404", "not configured or not visible (both answer alike)"]),
      default: DEFAULT,
    },
  },
  { method: "get", path: "/api/v1/openapi.json", summary: "This document", responses: { 200: { description: "OpenAPI 3.1", bodies: [{ schema: S.OpenApiDocument }] }, ...ERRORS(HOSTS), default: DEFAULT } },
  { method: "get", path: "/healthz", summary: "Alive", responses: { 200: { description: "ok", bodies: [{ schema: Type.String(), type: "text/plain" }] }, ...ERRORS(HOSTS), default: DEFAULT } },
  {
    method: "get",
    path: "/readyz",
    summary: "ok / degraded (200, with reasons) / not ready (503: before the first sync, before the permission self-check first answered, or while every watch is down); ?format=json as JSON",
    query: [{ name: "format", description: "json for a JSON body" }],
    responses: {
      200: { description: "ok or degraded", bodies: [{ schema: S.Readiness }, { schema: Type.String(), type: "text/plain" }] },
      503: { description: "not ready", bodies: [{ schema: S.Readiness }, { schema: Type.String(), type: "text/plain" }] },
      ...ERRORS(HOSTS),
      default: DEFAULT,
    },
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (on the main port with AUTH_MODE≠none: an identity is needed; the monitoring listener stays open)",
    responses: { 200: { description: "text exposition format", bodies: [{ schema: Type.String(), type: "text/plain" }] }, ...ERRORS(...IDENTITY, HOSTS), default: DEFAULT },
  },
];

/** Named schemas: referenced by $ref where a response uses exactly one of them. */
const COMPONENTS: Record<string, TSchema> = {
  StatusMessage: S.StatusMessage,
  Snapshot: S.Snapshot,
  Details: S.Details,
  RemovalMessage: S.RemovalMessage,
  WebSocketMessage: S.WebSocketMessage,
  ServiceList: S.ServiceList,
  RestartAccepted: S.RestartAccepted,
  ApiError: S.ApiError,
  WaitResult: S.WaitResult,
  WaitLine: S.WaitLine,
  Draining: S.Draining,
  Readiness: S.Readiness,
  ServicesFile: ServicesFileSchema,
};

/** A schema as plain JSON (TypeBox's symbol keys dropped), by reference when it is a named component. */
function schemaJson(schema: TSchema): unknown {
  const name = Object.entries(COMPONENTS).find(([, s]) => s === schema)?.[0];
  if (name) return { $ref: `#/components/schemas/${name}` };
  if (schema.anyOf) return { anyOf: (schema.anyOf as TSchema[]).map(schemaJson) };
  return JSON.parse(JSON.stringify(schema));
}

function operationJson(op: Operation) {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  const query = (op.query ?? []).map((q) => ({ name: q.name, in: "query", required: false, description: q.description, schema: { type: "string" } }));
  const responses = Object.fromEntries(
    Object.entries(op.responses).map(([code, a]) => [
      code,
      {
        description: a.description,
        ...(a.headers ? { headers: Object.fromEntries(a.headers.map((h) => [h, { schema: { type: "string" } }])) } : {}),
        ...(a.bodies ? { content: Object.fromEntries(a.bodies.map((b) => [b.type ?? "application/json", { schema: schemaJson(b.schema) }])) } : {}),
      },
    ]),
  );
  return { summary: op.summary, ...(params.length || query.length ? { parameters: [...params, ...query] } : {}), responses };
}

export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationJson(op);
  return {
    openapi: "3.1.0",
    info: {
      title: "k8s-restart-app",
      version,
      description:
        "Restart allow-listed Kubernetes workloads and follow their rollouts. Every non-2xx answer of the API is an ApiError with X-Request-Id. " +
        "components.schemas.ServicesFile describes the services file (CONFIG_FILE_PATH).",
    },
    paths,
    components: { schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([n, s]) => [n, JSON.parse(JSON.stringify(s))])) },
  };
}

/** The schema a response must match, by method, concrete path, status and content type; undefined when none is documented. */
export function responseSchema(method: string, pathname: string, status: number, type: string): TSchema | undefined {
  // The list also answers on /api/v1/service/ (the original tool's clients use both).
  const path = pathname === "/api/v1/service/" ? "/api/v1/service" : pathname;
  const op = OPERATIONS.find((o) => o.method === method.toLowerCase() && new RegExp(`^${o.path.replace(/\{\w+\}/g, "[^/]+")}$`).test(path));
  const answer = op ? (op.responses[String(status)] ?? (status >= 400 ? op.responses.default : undefined)) : status >= 400 ? DEFAULT : undefined;
  return answer?.bodies?.find((b) => (b.type ?? "application/json") === type)?.schema;
}
