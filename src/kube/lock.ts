// The restart lock as a noun: a Lease per service — its name, label, annotations, how a held lock is read, and the 409 retry.
//
// Both stores (Leases in the cluster, in-process records) keep the same Lease-shaped record, so
// the status model and the release rule read one shape whichever store holds it.
import type { ServiceKey } from "../config/file.ts";
import { KubeError } from "./api.ts";
import type { Lease } from "./types.ts";

const MANAGED_BY = ["app.kubernetes.io/managed-by", "k8s-restart-app"] as const;
/** Labels on every lock Lease; the watch selects exactly these. */
export const LOCK_LABELS: Record<string, string> = { [MANAGED_BY[0]]: MANAGED_BY[1] };
/** The label selector for LOCK_LABELS. */
export const LOCK_SELECTOR = `${MANAGED_BY[0]}=${MANAGED_BY[1]}`;
export const LOCK_SERVICE_ANNOTATION = "k8s-restart-app.k8scope.io/service";
/** Generation the restart PATCH produced; the lock is released once it is observed and settled. */
export const LOCK_GENERATION = "k8s-restart-app.k8scope.io/generation";
export const LOCK_USER = "k8s-restart-app.k8scope.io/user";
/** uid of the workload the PATCH hit: a re-created workload (new uid) is not this rollout. */
export const LOCK_UID = "k8s-restart-app.k8scope.io/uid";

/** A held lock, read from its Lease. */
export interface LockInfo {
  holder: string;
  since: string;
  expiresAt: string;
  /** Generation the restart PATCH produced; the lock is released once it is observed and settled. */
  generation?: number;
  /** uid of the workload the PATCH hit (issue 15 #14). */
  uid?: string;
  user?: string;
}

/** Where restart locks are kept: Leases in the cluster, or in this process when Leases are not allowed. */
export interface LockStore {
  /** Returns true when this caller now holds the lock, false when someone else does. */
  acquire(s: ServiceKey, holder: string, user: string, durationSec: number, current: Lease | undefined): Promise<boolean>;
  /** Records the generation the rollout must reach; the lock is released once it has settled there. */
  setGeneration(s: ServiceKey, holder: string, generation: number, uid?: string): Promise<void>;
  release(s: ServiceKey, holder?: string): Promise<void>;
  /** Who holds the lock now, asked of the store itself (the watch cache may not have seen a fresh Lease yet); null when free. */
  held(s: ServiceKey): Promise<LockInfo | null>;
}

/** Lease name for a service: readable when it fits, hashed when it would exceed 253 characters. */
export function leaseName(s: ServiceKey): string {
  const n = `restart.${s.kind.toLowerCase()}.${s.namespace}.${s.name}`;
  if (n.length <= 253) return n;
  // Bun's hasher: node:crypto would cost ≈ 6 MiB of RSS to load.
  const h = new Bun.CryptoHasher("sha256").update(n).digest("hex").slice(0, 16);
  return `restart.${s.kind.toLowerCase()}.${s.namespace}.${h}`;
}

/** A Lease is a held lock while it has a holder and its duration since renewTime has not passed. */
export function lockFromLease(l: Lease | undefined, nowMs: number): LockInfo | null {
  const spec = l?.spec;
  if (!spec?.holderIdentity) return null;
  const renewed = Date.parse(String(spec.renewTime ?? spec.acquireTime ?? ""));
  if (Number.isNaN(renewed)) return null;
  const expires = renewed + (spec.leaseDurationSeconds ?? 0) * 1000;
  if (expires <= nowMs) return null;
  const gen = Number(l?.metadata?.annotations?.[LOCK_GENERATION]);
  const acquired = Date.parse(String(spec.acquireTime ?? ""));
  return {
    holder: spec.holderIdentity,
    since: new Date(Number.isNaN(acquired) ? renewed : acquired).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    generation: Number.isFinite(gen) && gen > 0 ? gen : undefined,
    uid: l?.metadata?.annotations?.[LOCK_UID] || undefined,
    user: l?.metadata?.annotations?.[LOCK_USER],
  };
}

/** The Lease with `holder`'s generation recorded, or undefined when the lock is no longer theirs. */
export function withGeneration(l: Lease | undefined, holder: string, generation: number, uid?: string): Lease | undefined {
  if (!l || l.spec?.holderIdentity !== holder) return undefined;
  const annotations = { ...l.metadata?.annotations, [LOCK_GENERATION]: String(generation), ...(uid ? { [LOCK_UID]: uid } : {}) };
  return { ...l, metadata: { ...l.metadata, annotations } };
}

/** The Lease emptied of its holder, or undefined when there is nothing to release (or it is someone else's). */
export function released(l: Lease | undefined, holder: string | undefined): Lease | undefined {
  if (!l?.spec?.holderIdentity || (holder !== undefined && l.spec.holderIdentity !== holder)) return undefined;
  const annotations = { ...l.metadata?.annotations };
  delete annotations[LOCK_GENERATION];
  delete annotations[LOCK_UID];
  return { ...l, metadata: { ...l.metadata, annotations }, spec: { ...l.spec, holderIdentity: "" } };
}

/**
 * Read → change → write, again on 409 Conflict: another replica may have written the Lease in
 * between. `change` returns undefined when there is nothing (left) to write.
 */
export async function retryOnConflict(read: () => Promise<Lease | undefined>, change: (l: Lease | undefined) => Lease | undefined, write: (l: Lease) => Promise<unknown>, attempts = 5): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const next = change(await read());
    if (!next) return;
    try {
      await write(next);
      return;
    } catch (e) {
      if (!(e instanceof KubeError && e.code === 409)) throw e;
    }
  }
}
