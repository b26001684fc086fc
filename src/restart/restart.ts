// A restart request → validate → authorize → lock → patch → record → audit; every outcome is a value.
import { type ConfigFile, type Kind, KINDS, notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import { isDnsLabel, isDnsSubdomain } from "../config/names.ts";
import { KubeError } from "../kube/api.ts";
import { type LockInfo, lockFromLease } from "../kube/lock.ts";
import { type Lease, RESTARTED_AT, type Workload } from "../kube/types.ts";
import { type AuditRecord, auditRecord } from "./audit.ts";
import { mayView, whyNotRestart } from "./identity.ts";
import type { Reason, RestartFailure, RestartRequest, RestartResult } from "./outcome.ts";

/** The seams the flow needs; restart/wiring.ts assembles the real ones, unit tests inject fakes. */
export interface RestartDeps {
  config: ConfigFile;
  workload(s: ServiceKey): Workload | undefined;
  lease(s: ServiceKey): Lease | undefined;
  acquire(s: ServiceKey, holder: string, user: string, current: Lease | undefined): Promise<boolean>;
  setGeneration(s: ServiceKey, holder: string, generation: number, uid?: string): Promise<void>;
  release(s: ServiceKey, holder: string): Promise<void>;
  /** Who holds the lock now, from the lock store itself (used when the cached Lease does not show it yet). */
  heldLock(s: ServiceKey): Promise<LockInfo | null>;
  patch(s: ServiceKey, restartedAt: string, user: string): Promise<Workload>;
  recordEvent(w: Workload, s: ServiceKey, user: string, at: string): Promise<void>;
  /** Restarts per caller: `wait` says how long this caller must wait (0: go), `spend` records an applied one. */
  rateLimit: { wait(key: string): number; spend(key: string): void };
  /** The permissions the app itself lacks for a service (the self-check's `unusable`), if any. */
  unusable(s: ServiceKey): string[] | undefined;
  /** Writes the audit line of one outcome. */
  audit(r: AuditRecord): void;
  instanceId: string;
  /** Whether the watch caches hold the cluster's state yet; before that "absent" means nothing. */
  synced?(): boolean;
  /** Told when the API server refused one of the app's own writes (403): its rights changed. */
  forbidden?(detail: string): void;
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

/**
 * The restartedAt to write: now, but always at least a second after the workload's current
 * value. Writing the same second again would change nothing, roll out nothing, and still look
 * like a restart (issue 15 #13).
 */
export function nextRestartedAt(now: Date, current: string | undefined): string {
  const prev = current ? Date.parse(current) : NaN;
  const t = Number.isNaN(prev) ? now.getTime() : Math.max(now.getTime(), Math.floor(prev / 1000) * 1000 + 1000);
  return rfc3339(new Date(t));
}

const restartedAtOf = (w: Workload | undefined) => w?.spec?.template?.metadata?.annotations?.[RESTARTED_AT];

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
  const rateKey = req.identity.user || `addr:${req.source}`;
  const wait = deps.rateLimit.wait(rateKey);
  if (wait > 0) return fail("rate-limited", `too many restarts; try again in ${wait}s`, { retryAfterSec: wait });

  // Before the first list the cache is empty: "does not exist" would be a guess.
  if (deps.synced && !deps.synced()) {
    return fail("unavailable", "the app is still loading the cluster's state; try again in a moment", { retryAfterSec: 2 });
  }
  const w = deps.workload(s);
  if (!w) return fail("missing", `${s.kind} ${s.namespace}/${s.name} does not exist in the cluster`);
  if (s.kind === "Deployment" && (w.spec as { paused?: boolean } | undefined)?.paused) {
    return fail("paused", `can't restart paused deployment ${s.namespace}/${s.name} (run rollout resume first)`);
  }
  const r = await lockAndPatch(deps, s, w, req.identity.user, fail);
  // Only applied restarts spend budget: a refused one changed nothing.
  if (r.ok) deps.rateLimit.spend(rateKey);
  return r;
}

/** Lock → PATCH → record. The lock holder is this instance, never anything the client chose. */
async function lockAndPatch(
  deps: RestartDeps,
  s: ServiceKey,
  w: Workload,
  user: string,
  fail: (reason: Reason, detail: string) => RestartFailure,
): Promise<RestartResult> {
  const holder = deps.instanceId;
  // The app's own rights lost after start: 403 `forbidden` (it lacks rights), not a 502.
  const failure = (e: unknown) => {
    if (!(e instanceof KubeError && e.code === 403)) return fail("upstream", (e as Error).message);
    deps.forbidden?.(e.message);
    return fail("forbidden", `the app itself lacks permissions for ${serviceId(s)}: ${e.message}`);
  };
  let acquired: boolean;
  try {
    acquired = await deps.acquire(s, holder, user, deps.lease(s));
  } catch (e) {
    return failure(e);
  }
  if (!acquired) return lockedBy(deps, s);
  let patched: Workload;
  let at: string;
  try {
    [patched, at] = await patchForward(deps, s, w, user);
  } catch (e) {
    // Nothing changed in the cluster: free the lock so the next attempt is not refused.
    await deps.release(s, holder).catch((err) => deps.log("lock release failed", { service: serviceId(s), error: String(err) }));
    return failure(e);
  }
  const generation = patched.metadata?.generation ?? 0;
  // Best effort after the fact: the restart happened even if these fail; they are logged.
  await Promise.all([
    deps.setGeneration(s, holder, generation, patched.metadata?.uid).catch((err) => deps.log("lock update failed", { service: serviceId(s), error: String(err) })),
    deps.recordEvent(patched, s, user, deps.now().toISOString()).catch((err) => deps.log("event not recorded", { service: serviceId(s), error: String(err) })),
  ]);
  return { ok: true, service: s, restartedAt: at, generation, user };
}

/**
 * PATCHes a restartedAt later than the current one. An unchanged generation means the cache was
 * behind and the object already had that value: go once more past what the API server answered;
 * a second no-op is an error, never a 200 (issue 15 #13).
 */
async function patchForward(deps: RestartDeps, s: ServiceKey, w: Workload, user: string): Promise<[Workload, string]> {
  const before = w.metadata?.generation ?? 0;
  let at = nextRestartedAt(deps.now(), restartedAtOf(w));
  let patched = await deps.patch(s, at, user);
  if ((patched.metadata?.generation ?? 0) > before) return [patched, at];
  at = nextRestartedAt(deps.now(), restartedAtOf(patched) ?? at);
  patched = await deps.patch(s, at, user);
  if ((patched.metadata?.generation ?? 0) > before) return [patched, at];
  throw new Error(`patch ${s.kind} ${s.namespace}/${s.name}: the PATCH changed nothing (generation stayed ${patched.metadata?.generation ?? 0})`);
}
export type { Reason, RestartFailure, RestartRequest, RestartResult } from "./outcome.ts";
