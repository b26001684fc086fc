// A restart request → validate → authorize → lock → patch → record → audit; every outcome is a value.
import { type ConfigFile, type Kind, KINDS, notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import { isDnsLabel, isDnsSubdomain } from "../config/names.ts";
import { KubeError } from "../kube/client.ts";
import { type LockInfo, lockFromLease } from "../kube/lock.ts";
import type { Lease, Workload } from "../kube/types.ts";
import { type AuditRecord, auditRecord } from "./audit.ts";
import { mayView, whyNotRestart } from "./identity.ts";
import type { Reason, RestartFailure, RestartRequest, RestartResult } from "./outcome.ts";

/** The seams the flow needs; restart/wiring.ts assembles the real ones, unit tests inject fakes. */
export interface RestartDeps {
  config: ConfigFile;
  workload(s: ServiceKey): Workload | undefined;
  lease(s: ServiceKey): Lease | undefined;
  acquire(s: ServiceKey, holder: string, user: string, current: Lease | undefined): Promise<boolean>;
  setGeneration(s: ServiceKey, holder: string, generation: number): Promise<void>;
  release(s: ServiceKey, holder: string): Promise<void>;
  /** Who holds the lock now, from the lock store itself (used when the cached Lease does not show it yet). */
  heldLock(s: ServiceKey): Promise<LockInfo | null>;
  patch(s: ServiceKey, restartedAt: string, user: string): Promise<Workload>;
  recordEvent(w: Workload, s: ServiceKey, user: string, at: string): Promise<void>;
  /** Returns seconds to wait when this caller is over its restart rate, else 0. */
  rateLimit(key: string): number;
  /** The permissions the app itself lacks for a service (the self-check's `unusable`), if any. */
  unusable(s: ServiceKey): string[] | undefined;
  /** Writes the audit line of one outcome. */
  audit(r: AuditRecord): void;
  instanceId: string;
  now(): Date;
  log(msg: string, fields: Record<string, unknown>): void;
}

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
  if (!isDnsLabel(namespace)) return { ok: false, reason: "bad-request", detail: `invalid namespace ${JSON.stringify(namespace)}` };
  if (!isDnsSubdomain(name)) return { ok: false, reason: "bad-request", detail: `invalid name ${JSON.stringify(name)}` };
  const entry = cfg.services.find((s) => s.kind === kind && s.namespace === namespace && s.name === name);
  if (!entry) return { ok: false, reason: "not-found", detail: notListed(kind, namespace, name) };
  return { ok: true, service: { kind: kind as Kind, namespace, name }, entry };
}

/** RFC3339 in UTC with second precision, as kubectl writes restartedAt. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Seconds a locked caller is told to wait: until the lock expires at the latest, but rollouts usually free it much sooner. */
const MAX_RETRY_AFTER_SEC = 60;

/** The 423: who holds the lock, since when, until when. */
async function lockedBy(deps: RestartDeps, s: ServiceKey): Promise<RestartFailure> {
  const nowMs = deps.now().getTime();
  const held = lockFromLease(deps.lease(s), nowMs) ?? (await deps.heldLock(s).catch(() => null));
  const what = `a restart of ${s.kind} ${s.namespace}/${s.name} is already in progress`;
  if (!held) return { ok: false, reason: "locked", detail: what, service: s, retryAfterSec: 5 };
  const retryAfterSec = Math.max(1, Math.min(MAX_RETRY_AFTER_SEC, Math.ceil((Date.parse(held.expiresAt) - nowMs) / 1000)));
  const detail = `${what} (by ${held.user || "anonymous"} since ${held.since}; the lock expires at ${held.expiresAt} at the latest)`;
  return { ok: false, reason: "locked", detail, service: s, retryAfterSec, lock: { user: held.user ?? "", since: held.since, expiresAt: held.expiresAt } };
}

/** Records a request refused before the flow could run (cross-site, no identity, malformed path): audited like any outcome. */
export function refuseRestart(deps: Pick<RestartDeps, "audit">, req: RestartRequest, r: RestartFailure): RestartFailure {
  deps.audit(auditRecord(req, r));
  return r;
}

export async function restartWorkload(deps: RestartDeps, req: RestartRequest): Promise<RestartResult> {
  const r = await attempt(deps, req);
  deps.audit(auditRecord(req, r));
  return r;
}

async function attempt(deps: RestartDeps, req: RestartRequest): Promise<RestartResult> {
  const found = findService(deps.config, req.kind, req.namespace, req.name);
  if (!found.ok) return found;
  const { service: s, entry } = found;
  const fail = (reason: Reason, detail: string, extra: { retryAfterSec?: number } = {}): RestartFailure => ({ ok: false, reason, detail, service: s, ...extra });

  // A service the caller may not see answers exactly like one that is not configured.
  if (!mayView(deps.config, entry, req.identity)) return { ok: false, reason: "not-found", detail: notListed(s.kind, s.namespace, s.name) };
  const refusal = whyNotRestart(deps.config, entry, req.identity, deps.unusable(s));
  if (refusal) return fail("forbidden", refusal.detail);
  const wait = deps.rateLimit(req.identity.user || `addr:${req.source}`);
  if (wait > 0) return fail("rate-limited", `too many restarts; try again in ${wait}s`, { retryAfterSec: wait });

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
  if (!acquired) return lockedBy(deps, s);

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
export type { Reason, RestartFailure, RestartRequest, RestartResult } from "./outcome.ts";
