// A restart request → validate → authorize → lock → patch → record; every outcome is a value.
import { type ConfigFile, type Kind, KINDS, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import { KubeError } from "../kube/api.ts";
import type { Lease, Workload } from "../kube/types.ts";
import type { Identity } from "./identity.ts";
import { mayRestart, mayView } from "./identity.ts";

export type Reason =
  | "bad-request"
  | "not-found"
  | "forbidden"
  | "unauthenticated"
  | "rate-limited"
  | "missing"
  | "paused"
  | "locked"
  | "upstream"
  | "unavailable";

export type RestartFailure = { ok: false; reason: Reason; detail: string; service?: ServiceKey; retryAfterSec?: number };
export type RestartResult = { ok: true; service: ServiceKey; restartedAt: string; generation: number; user: string } | RestartFailure;

export interface RestartRequest {
  kind: string;
  namespace: string;
  name: string;
  identity: Identity;
  requestId: string;
  source: string;
}

/** The seams the flow needs; main wires the real ones, unit tests inject fakes. */
export interface RestartDeps {
  config: ConfigFile;
  workload(s: ServiceKey): Workload | undefined;
  lease(s: ServiceKey): Lease | undefined;
  acquire(s: ServiceKey, holder: string, user: string, current: Lease | undefined): Promise<boolean>;
  setGeneration(s: ServiceKey, holder: string, generation: number): Promise<void>;
  release(s: ServiceKey, holder: string): Promise<void>;
  patch(s: ServiceKey, restartedAt: string, user: string): Promise<Workload>;
  recordEvent(w: Workload, s: ServiceKey, user: string, at: string): Promise<void>;
  /** False until the permission self-check has run and the caches have synced: a restart is then refused as unavailable. */
  ready(): boolean;
  /** Returns seconds to wait when this caller is over its restart rate, else 0. */
  rateLimit(key: string): number;
  /** Services whose needed permissions the self-check found missing, with why. */
  unusable(s: ServiceKey): string | undefined;
  instanceId: string;
  now(): Date;
  log(msg: string, fields: Record<string, unknown>): void;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Pure: checks the path segments against Kubernetes rules and the allow-list. */
export function findService(
  cfg: ConfigFile,
  kind: string,
  namespace: string,
  name: string,
): RestartFailure | { ok: true; service: ServiceKey; entry: ServiceEntry } {
  if (!(KINDS as readonly string[]).includes(kind)) {
    return { ok: false, reason: "bad-request", detail: `unknown kind ${JSON.stringify(kind)}: expected Deployment, StatefulSet or DaemonSet` };
  }
  if (!DNS_LABEL.test(namespace)) return { ok: false, reason: "bad-request", detail: `invalid namespace ${JSON.stringify(namespace)}` };
  if (!DNS_SUBDOMAIN.test(name)) return { ok: false, reason: "bad-request", detail: `invalid name ${JSON.stringify(name)}` };
  const entry = cfg.services.find((s) => s.kind === kind && s.namespace === namespace && s.name === name);
  if (!entry) return { ok: false, reason: "not-found", detail: `${kind} ${namespace}/${name} is not in the list of restartable services` };
  return { ok: true, service: { kind: kind as Kind, namespace, name }, entry };
}

/** RFC3339 in UTC with second precision, as kubectl writes restartedAt. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export async function restartWorkload(deps: RestartDeps, req: RestartRequest): Promise<RestartResult> {
  const found = findService(deps.config, req.kind, req.namespace, req.name);
  if (!found.ok) return found;
  const { service: s, entry } = found;
  const fail = (reason: Reason, detail: string, extra: { retryAfterSec?: number } = {}): RestartFailure => ({
    ok: false,
    reason,
    detail,
    service: s,
    ...extra,
  });

  // A service the caller may not see answers exactly like one that is not configured.
  if (!mayView(deps.config, entry, req.identity)) {
    return { ok: false, reason: "not-found", detail: `${s.kind} ${s.namespace}/${s.name} is not in the list of restartable services` };
  }
  const denied = mayRestart(deps.config, entry, req.identity);
  if (denied) return fail("forbidden", denied);
  // Before the first sync the cache cannot tell a missing workload from one not yet listed.
  if (!deps.ready()) return fail("unavailable", "the app is starting: its permission check and watch caches are not ready yet", { retryAfterSec: 1 });
  const wait = deps.rateLimit(req.identity.user || `addr:${req.source}`);
  if (wait > 0) return fail("rate-limited", `too many restarts; try again in ${wait}s`, { retryAfterSec: wait });
  const unusable = deps.unusable(s);
  if (unusable) return fail("forbidden", `the app itself lacks permissions for ${serviceId(s)}: ${unusable}`);

  const w = deps.workload(s);
  if (!w) return fail("missing", `${s.kind} ${s.namespace}/${s.name} does not exist in the cluster`);
  if (s.kind === "Deployment" && (w.spec as { paused?: boolean } | undefined)?.paused) {
    return fail("paused", `can't restart paused deployment ${s.namespace}/${s.name} (run rollout resume first)`);
  }

  const holder = `${deps.instanceId}/${req.requestId}`;
  const user = req.identity.user;
  let acquired: boolean;
  try {
    acquired = await deps.acquire(s, holder, user, deps.lease(s));
  } catch (e) {
    return fail("upstream", (e as Error).message);
  }
  if (!acquired) return fail("locked", `a restart of ${s.kind} ${s.namespace}/${s.name} is already in progress`);

  const at = rfc3339(deps.now());
  let patched: Workload;
  try {
    patched = await deps.patch(s, at, user);
  } catch (e) {
    // Nothing changed in the cluster: free the lock so the next attempt is not refused.
    await deps.release(s, holder).catch((err) => deps.log("lock release failed", { service: serviceId(s), error: String(err) }));
    const detail = (e as Error).message;
    return fail("upstream", e instanceof KubeError && e.code === 403 ? `the app is not allowed to do this: ${detail}` : detail);
  }
  const generation = patched.metadata?.generation ?? 0;
  // Best effort after the fact: the restart happened even if these fail; they are logged.
  await Promise.all([
    deps.setGeneration(s, holder, generation).catch((err) => deps.log("lock update failed", { service: serviceId(s), error: String(err) })),
    deps.recordEvent(patched, s, user, deps.now().toISOString()).catch((err) => deps.log("event not recorded", { service: serviceId(s), error: String(err) })),
  ]);
  return { ok: true, service: s, restartedAt: at, generation, user };
}
