// One service's status as JSON for scripts: GET /api/v1/service/{kind}/{namespace}/{name}, and with ?wait once its current rollout has settled, whoever started it.
import type { Server } from "bun";
import type { Env } from "../config/env.ts";
import { notListed } from "../config/file.ts";
import { mayView } from "../restart/identity.ts";
import { findService } from "../restart/restart.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceDetails } from "../status/details.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { Drain } from "./drain.ts";
import type { Identify } from "./identify.ts";
import { wireStatus } from "./render.ts";
import { wireDetails } from "./render-details.ts";
import { requestIdOf } from "./request-id.ts";
import { json, STATUS } from "./respond.ts";
import type { Handler } from "./router.ts";
import type { SnapshotBody } from "./schemas.ts";
import { replyAfterWait, waitSeconds } from "./wait.ts";

export interface SnapshotDeps {
  env: Env;
  /** The services offered now (a reload or a selector match changes them). */
  services: Pick<ServiceSet, "current">;
  hub: StatusHub;
  identify: Identify;
  /** ?wait callers are answered 503 on shutdown (issue 15 #11). */
  drain?: Pick<Drain, "draining" | "onDrain">;
}

/** The snapshot: the same object as one status websocket message plus the service's details (issue 11); further fields are added here, in one place. */
export function snapshotBody(s: ServiceStatus, details: ServiceDetails): SnapshotBody {
  return { ...wireStatus(s), ...wireDetails(details) };
}

export function makeSnapshotHandler({ env, services, hub, identify, drain }: SnapshotDeps): Handler {
  return (req, p, server) => {
    const who = identify(req);
    const config = services.current();
    if (who instanceof Response) return who;
    if (p.kind === undefined || p.namespace === undefined || p.name === undefined) {
      return json({ error: "bad-request", message: "malformed percent-encoding in the path" }, 400);
    }
    const found = findService(config, p.kind, p.namespace, p.name);
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    // A service the caller may not see answers exactly like one that is not configured.
    if (!mayView(config, found.entry, who)) return json({ error: "not-found", message: notListed(p.kind, p.namespace, p.name) }, 404);
    const waitSec = waitSeconds(req, env.rolloutTimeoutSec);
    if (typeof waitSec === "string") return json({ error: "bad-request", message: waitSec }, 400);
    const current = hub.current(found.service);
    if (!current) return json({ error: "not-ready", message: "the watch caches have not synced yet" }, 503, { "Retry-After": "1" });
    if (waitSec === 0) return json(snapshotBody(current, hub.details(found.service)));
    // Bun would close a connection idle this long; the caller asked to wait.
    (server as Server<never>).timeout(req, waitSec + 30);
    const wait = () => hub.waitForSettled(found.service, waitSec * 1000);
    return replyAfterWait(req, { hub, service: found.service, wait, requestId: requestIdOf(req), heartbeatSec: env.heartbeatSec, drain });
  };
}
