// In-process restart locks, used only when the app may not use Leases (e.g. the original tool's ClusterRole).
//
// They keep Lease-shaped records so the status model and the release rule stay identical, but
// they are neither shared across replicas nor kept across an app restart: the app says so at start.
import type { ServiceKey } from "../config/file.ts";
import { LOCK_USER, type LockStore, leaseName, lockFromLease, released, withGeneration } from "./lock.ts";
import type { Lease } from "./types.ts";

export interface MemoryLocks extends LockStore {
  lease(s: ServiceKey): Lease | undefined;
  onChange(h: (leaseName: string) => void): void;
}

export function makeMemoryLocks(now = () => Date.now()): MemoryLocks {
  const leases = new Map<string, Lease>();
  const handlers: ((name: string) => void)[] = [];
  let rv = 0;
  const put = (s: ServiceKey, l: Lease | undefined) => {
    if (!l) return;
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
    setGeneration: async (s, holder, generation, uid) => put(s, withGeneration(leases.get(leaseName(s)), holder, generation, uid)),
    release: async (s, holder) => put(s, released(leases.get(leaseName(s)), holder)),
    held: async (s) => lockFromLease(leases.get(leaseName(s)), now()),
  };
}
