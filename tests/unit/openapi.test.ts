// Covers src/http/openapi.ts (the OpenAPI 3.1 document from the TypeBox schemas) and the e2e schema checker of tests/support/api-schema.ts.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { parseConfigFile, ServicesFileSchema } from "../../src/config/file.ts";
import { wireRemoval } from "../../src/http/render.ts";
import { OPERATIONS, openApiDocument } from "../../src/http/openapi.ts";
import { schemaProblem } from "../support/api-schema.ts";

const doc = openApiDocument("1.2.3") as any;
const u = (p: string) => new URL(`http://127.0.0.1:1${p}`);
const status = {
  kind_namespace_name: { kind: "Deployment", namespace: "shop", name: "web" },
  status: { message: "", rollout_message: "ok", pod_status: { Running: 1 }, last_restart: "", pods_ready: 1, rollout: "complete", desired: 1, ready: 1, updated: 1, restarted_by: "", why: "", outcome: null },
  is_locked: false,
  lock: null,
};
const details = {
  pods: [{ name: "web-1", phase: "Running", ready: true, restarts: 0, age_sec: 5, node: "n1", current: true, reason: "", detail: "", created: "2026-01-01T00:00:00Z" }],
  events: [{ type: "Normal", reason: "ScalingReplicaSet", message: "m", object: "Deployment/web", count: 1, first_seen: "", last_seen: "" }],
  history: [{ restarted_at: "2026-01-01T00:00:00Z", restarted_by: "", revision: 2, outcome: "complete", duration_sec: 3, why: "" }],
  missing_permissions: [],
};

describe("the OpenAPI document", () => {
  test("is OpenAPI 3.1 with every operation, and every $ref resolves to a component", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe("1.2.3");
    for (const op of OPERATIONS) expect(doc.paths[op.path]?.[op.method]?.responses).toBeDefined();
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(5);
    for (const r of refs) expect(doc.components.schemas[r]).toBeDefined();
  });

  test("publishes the services file's schema: explicit and selector entries (issue 12), accepting what the config loader accepts", () => {
    expect(doc.components.schemas.ServicesFile).toEqual(JSON.parse(JSON.stringify(ServicesFileSchema)));
    const good = [
      { services: [{ kind: "Deployment", namespace: "shop", name: "web" }] },
      { services: [{ namespace: "shop", selector: "tier=web", kinds: ["StatefulSet"], allowedGroups: ["web"] }, { namespace: "*", selector: "a in (b)" }], viewUsers: ["x"] },
      { services: [] },
    ];
    for (const d of good) {
      expect(() => parseConfigFile(d, "f.yaml")).not.toThrow();
      expect([...Value.Errors(ServicesFileSchema, d)]).toEqual([]);
    }
    const bad = [
      { services: [{ namespace: "shop", selector: "tier=web", name: "web" }] },
      { services: [{ namespace: "shop", selector: "tier=web", kinds: ["Pod"] }] },
      { services: [{ kind: "Deployment", namespace: "shop" }] },
      { services: [], extra: 1 },
    ];
    for (const d of bad) {
      expect(() => parseConfigFile(d, "f.yaml")).toThrow();
      expect(Value.Check(ServicesFileSchema, d)).toBe(false);
    }
  });

  test("documents the JSON websocket messages on the upgrade: a status, or issue 12's removal message", () => {
    for (const path of ["/api/v1/service/status", "/api/v1/service/{kind}/{namespace}/{name}/status"]) {
      expect(doc.paths[path].get.responses["101"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/WebSocketMessage" });
    }
    const removal = wireRemoval({ kind: "Deployment", namespace: "shop", name: "web" });
    for (const p of ["/api/v1/service/status", "/api/v1/service/Deployment/shop/web/status"]) {
      expect(schemaProblem("GET", u(p), 101, "application/json", status)).toBeUndefined();
      expect(schemaProblem("GET", u(p), 101, "application/json", removal)).toBeUndefined();
      expect(schemaProblem("GET", u(p), 101, "application/json", { ...removal, removed: false })).toContain("does not match");
    }
    // A removal is not a snapshot: GET answers only ever carry a status.
    expect(schemaProblem("GET", u("/api/v1/service/Deployment/shop/web"), 200, "application/json", removal)).toContain("does not match");
  });

  test("every API route of the server's table is documented", () => {
    const server = readFileSync(join(import.meta.dir, "../../src/http/server.ts"), "utf8");
    const routes = [...server.matchAll(/path: "(\/api\/[^"]+)"/g)].map((m) => m[1]!.replace(/:(\w+)/g, "{$1}")).filter((p) => !p.endsWith("/"));
    expect(routes.length).toBeGreaterThan(4);
    for (const r of routes) expect(Object.keys(doc.paths)).toContain(r);
  });
});

describe("the e2e schema checker", () => {
  test("accepts what the schemas describe", () => {
    // issue 11: the snapshot is the status message plus the service's details; the details route answers them alone.
    expect(schemaProblem("GET", u("/api/v1/service/Deployment/shop/web"), 200, "application/json", { ...status, ...details })).toBeUndefined();
    expect(schemaProblem("GET", u("/ui/service/Deployment/shop/web/details"), 200, "application/json", details)).toBeUndefined();
    expect(schemaProblem("GET", u("/ui/service/Deployment/shop/web/details"), 200, "application/json", { ...details, extra: 1 })).toContain("does not match");
    expect(schemaProblem("GET", u("/nope"), 404, "application/json", { error: "not-found", message: "m", request_id: "r" })).toBeUndefined();
    expect(schemaProblem("GET", u("/readyz"), 503, "application/json", { status: "not ready", reasons: ["x"] })).toBeUndefined();
    expect(schemaProblem("GET", u("/api/v1/service/"), 200, "application/json", { services: [] })).toBeUndefined();
  });

  test("documents issue 15's answers: 403 ALLOWED_HOSTS, 429 per-address websocket cap, 400 repeated identity header, 401 on /metrics, 503 draining", () => {
    const e = (error: string) => ({ error, message: "m", request_id: "r" });
    const ref = { kind: "Deployment", namespace: "shop", name: "web" };
    for (const path of ["/api/v1/service", "/api/v1/service/Deployment/shop/web", "/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"]) {
      expect(doc.paths[path.replace("Deployment/shop/web", "{kind}/{namespace}/{name}")].get.responses["403"].description).toContain("ALLOWED_HOSTS");
    }
    for (const path of ["/api/v1/service/status", "/api/v1/service/{kind}/{namespace}/{name}/status"]) expect(doc.paths[path].get.responses["429"].description).toContain("WEBSOCKET_MAX_PER_ADDRESS");
    expect(doc.paths["/api/v1/service"].get.responses["400"].description).toContain("identity header");
    expect(doc.paths["/metrics"].get.responses["401"]).toBeDefined();
    expect(schemaProblem("GET", u("/api/v1/service"), 400, "application/json", e("bad-request"))).toBeUndefined();
    expect(schemaProblem("GET", u("/api/v1/service/status"), 429, "application/json", e("rate-limited"))).toBeUndefined();
    const restart = u("/api/v1/service/Deployment/shop/web/restart?wait=5");
    const draining = { status: "restarting", error: "unavailable", message: "m", service: ref, restarted_at: "2025-03-01T10:00:00Z", generation: 2, request_id: "r" };
    expect(schemaProblem("POST", restart, 503, "application/json", draining)).toBeUndefined();
    expect(schemaProblem("POST", restart, 503, "application/json", e("unavailable"))).toBeUndefined();
    expect(schemaProblem("POST", restart, 200, "application/x-ndjson", draining)).toBeUndefined();
    expect(schemaProblem("GET", u("/api/v1/service/Deployment/shop/web?wait=5"), 503, "application/json", { error: "unavailable", message: "m", service: ref, request_id: "r" })).toBeUndefined();
    expect(schemaProblem("POST", restart, 503, "application/json", { ...draining, status: "complete" })).toContain("does not match");
  });

  test("fails an undocumented field, a wrong type, a missing field and an undocumented status", () => {
    expect(schemaProblem("GET", u("/api/v1/service/Deployment/shop/web"), 200, "application/json", { ...status, extra: 1 })).toContain("does not match");
    expect(schemaProblem("GET", u("/api/v1/service"), 200, "application/json", { services: [{ kind: "Pod", name: "a", namespace: "b" }] })).toContain("does not match");
    expect(schemaProblem("POST", u("/api/v1/service/Deployment/shop/web/restart"), 423, "application/json", { error: "locked", message: "m" })).toContain("does not match");
    expect(schemaProblem("GET", u("/api/v1/service"), 201, "application/json", {})).toContain("no schema documented");
    expect(schemaProblem("GET", u("/api/v1/service"), 200, "application/x-ndjson", {})).toContain("no schema documented");
  });
});
