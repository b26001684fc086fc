// In-process restart locks, used only when the app may not use Leases (e.g. the original tool's ClusterRole).
//
// They keep Lease-shaped records so the status model and the release rule stay identical, but
// they are neither shared across replicas nor kept across an app restart: the app says so at start.
import type { ServiceKey } from "../config/file.ts";
import { LOCK_GENERATION, LOCK_UID, LOCK_USER, lockFromLease } from "../status/model.ts";
import { type LockStore, leaseName } from "./lease.ts";
import type { Lease } from "./types.ts";

export interface MemoryLocks extends LockStore {
  lease(s: ServiceKey): Lease | undefined;
  onChange(h: (leaseName: string) => void): void;
}

export function makeMemoryLocks(now = () => Date.now()): MemoryLocks {
  const leases = new Map<string, Lease>();
  const handlers: ((name: string) => void)[] = [];
  let rv = 0;
  const put = (s: ServiceKey, l: Lease) => {
    l.metadata = { ...l.metadata, name: leaseName(s), resourceVersion: String(++rv) };
    leases.set(leaseName(s), l);
    for (const h of handlers) h(leaseName(s));
  };
  return {
    lease: (s) => leases.get(leaseName(s)),
    onChange: (h) => void handlers.push(h),
    // Check-and-set runs synchronously (no await between), so concurrent requests in this
    // process cannot both win.
    async acquire(s, holder, user, durationSec) {
      if (lockFromLease(leases.get(leaseName(s)), now())) return false;
      const t = new Date(now()).toISOString();
      put(s, {
        metadata: { annotations: { [LOCK_USER]: user } },
        spec: { holderIdentity: holder, leaseDurationSeconds: durationSec, acquireTime: t as never, renewTime: t as never },
      });
      return true;
    },
    async setGeneration(s, holder, generation, uid) {
      const l = leases.get(leaseName(s));
      if (!l || l.spec?.holderIdentity !== holder) return;
      const anns = { ...l.metadata?.annotations, [LOCK_GENERATION]: String(generation), ...(uid ? { [LOCK_UID]: uid } : {}) };
      put(s, { ...l, metadata: { ...l.metadata, annotations: anns } });
    },
    async release(s, holder) {
      const l = leases.get(leaseName(s));
      if (!l?.spec?.holderIdentity || (holder !== undefined && l.spec.holderIdentity !== holder)) return;
      put(s, { metadata: {}, spec: { ...l.spec, holderIdentity: "" } });
    },
  };
}
