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

/** The store the self-check will choose, in use before it has: the server listens before the self-check answers. */
export interface LateLocks {
  /** Delegates to the chosen store; before the choice nothing can be held, so nothing is released and `acquire` fails. */
  store: LockStore;
  /** The first choice stays (a later self-check answer does not move held locks between stores). */
  choose(locks: Locks): void;
  chosen(): Locks | undefined;
}

export function lateLocks(): LateLocks {
  let current: Locks | undefined;
  const chosen = (): LockStore => {
    // Restarts are refused until the caches synced, which happens only after the choice: reaching this is a bug.
    if (!current) throw new Error("restart lock store not chosen yet (the permission self-check has not answered)");
    return current.store;
  };
  return {
    store: {
      acquire: async (...a) => chosen().acquire(...a),
      setGeneration: async (...a) => chosen().setGeneration(...a),
      release: async (s, holder) => current?.store.release(s, holder),
      held: async (s) => (current ? current.store.held(s) : null),
    },
    choose: (locks) => void (current ??= locks),
    chosen: () => current,
  };
}
