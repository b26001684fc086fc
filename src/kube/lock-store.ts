// Which lock store the app uses: Leases when it may write them, else in-process locks (and it says so).
import type { KubeClient } from "./api.ts";
import { makeLeaseLocks } from "./lease-locks.ts";
import type { LockStore } from "./lock.ts";
import { type MemoryLocks, makeMemoryLocks } from "./memory-locks.ts";

export interface Locks {
  store: LockStore;
  /** Set when locks are in-process: the cluster view reads lock records from here instead of a Lease watch. */
  local?: MemoryLocks;
}

export function chooseLocks(client: KubeClient, lockNamespace: string, missingLeaseRights: string[]): Locks {
  if (missingLeaseRights.length === 0) return { store: makeLeaseLocks(client, lockNamespace) };
  const local = makeMemoryLocks();
  return { store: local, local };
}
