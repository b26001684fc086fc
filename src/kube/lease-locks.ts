// Restart locks stored as coordination.k8s.io/v1 Leases, one per service, with optimistic concurrency.
//
// Create-if-absent and update-with-resourceVersion make the API server the arbiter: of N
// concurrent acquirers (in this process, or in other replicas) exactly one write succeeds and
// the others get 409 Conflict. The lock thus survives an app restart and holds across replicas.
import type { ServiceKey } from "../config/file.ts";
import { type KubeClient, KubeError } from "./api.ts";
import { LOCK_LABELS, LOCK_SERVICE_ANNOTATION, LOCK_USER, type LockInfo, type LockStore, leaseName, lockFromLease, released, retryOnConflict, withGeneration } from "./lock.ts";
import { leasesPath } from "./paths.ts";
import type { Lease } from "./types.ts";

const micro = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** The lock Lease of `s` held by `holder` from now on. */
function heldLease(s: ServiceKey, namespace: string, holder: string, user: string, durationSec: number, nowMs: number, rv?: string): Lease {
  const t = micro(nowMs);
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: leaseName(s),
      namespace,
      resourceVersion: rv,
      labels: { ...LOCK_LABELS },
      annotations: { [LOCK_SERVICE_ANNOTATION]: `${s.kind}/${s.namespace}/${s.name}`, [LOCK_USER]: user },
    },
    spec: { holderIdentity: holder, leaseDurationSeconds: durationSec, acquireTime: t as never, renewTime: t as never },
  };
}

export function makeLeaseLocks(client: KubeClient, namespace: string, now = () => Date.now()): LockStore {
  const base = leasesPath(namespace);
  const path = (s: ServiceKey) => `${base}/${leaseName(s)}`;

  async function get(s: ServiceKey): Promise<Lease | undefined> {
    try {
      return await client.request<Lease>({ path: path(s) }, `get Lease ${namespace}/${leaseName(s)}`);
    } catch (e) {
      if (e instanceof KubeError && e.code === 404) return undefined;
      throw e;
    }
  }
  const put = (s: ServiceKey, what: string) => (l: Lease) => client.request({ method: "PUT", path: path(s), body: l }, `${what} Lease ${namespace}/${leaseName(s)}`);

  async function acquireLease(s: ServiceKey, holder: string, user: string, durationSec: number, current: Lease | undefined): Promise<boolean> {
    // The cached Lease saves a GET; a stale cache only costs a 409, never a double lock.
    const lease = current ?? (await get(s));
    try {
      if (!lease) {
        const body = heldLease(s, namespace, holder, user, durationSec, now());
        await client.request({ method: "POST", path: base, body }, `create Lease ${namespace}/${leaseName(s)}`);
        return true;
      }
      if (lockFromLease(lease, now())) return false;
      await put(s, "update")(heldLease(s, namespace, holder, user, durationSec, now(), lease.metadata?.resourceVersion));
      return true;
    } catch (e) {
      if (e instanceof KubeError && (e.code === 409 || e.code === 422)) return false;
      throw e;
    }
  }

  // Acquisitions under way in this process: concurrent requests for the same service are
  // answered "locked" at once instead of each racing the API server for the same Lease.
  // The value says who is acquiring, for the 423 of those answered "locked" meanwhile.
  const pending = new Map<string, LockInfo>();

  return {
    async acquire(s, holder, user, durationSec, current) {
      const name = leaseName(s);
      if (pending.has(name)) return false;
      pending.set(name, { holder, user, since: new Date(now()).toISOString(), expiresAt: new Date(now() + durationSec * 1000).toISOString() });
      try {
        return await acquireLease(s, holder, user, durationSec, current);
      } finally {
        pending.delete(name);
      }
    },
    setGeneration: (s, holder, generation, uid) => retryOnConflict(() => get(s), (l) => withGeneration(l, holder, generation, uid), put(s, "update")),
    // Any replica may release; one that finds the Lease taken anew by someone else leaves it.
    release: (s, holder) => retryOnConflict(() => get(s), (l) => released(l, holder), put(s, "release")),
    held: async (s) => pending.get(leaseName(s)) ?? lockFromLease(await get(s), now()),
  };
}
