// Restart locks stored as coordination.k8s.io/v1 Leases, one per service, with optimistic concurrency.
//
// Create-if-absent and update-with-resourceVersion make the API server the arbiter: of N
// concurrent acquirers (in this process, or in other replicas) exactly one write succeeds and
// the others get 409 Conflict. The lock thus survives an app restart and holds across replicas.
import type { ServiceKey } from "../config/file.ts";
import { LOCK_GENERATION, LOCK_USER, lockFromLease } from "../status/model.ts";
import { type KubeClient, KubeError } from "./api.ts";
import { leasesPath } from "./paths.ts";
import type { Lease } from "./types.ts";

export const LOCK_LABEL = "app.kubernetes.io/managed-by=k8s-restart-app";
export const LOCK_SERVICE_ANNOTATION = "k8s-restart-app.k8scope.io/service";

/** Lease name for a service: readable when it fits, hashed when it would exceed 253 characters. */
export function leaseName(s: ServiceKey): string {
  const n = `restart.${s.kind.toLowerCase()}.${s.namespace}.${s.name}`;
  if (n.length <= 253) return n;
  const h = new Bun.CryptoHasher("sha256").update(n).digest("hex").slice(0, 16);
  return `restart.${s.kind.toLowerCase()}.${s.namespace}.${h}`;
}

export interface LockStore {
  /** Returns true when this caller now holds the lock, false when someone else does. */
  acquire(s: ServiceKey, holder: string, user: string, durationSec: number, current: Lease | undefined): Promise<boolean>;
  /** Records the generation the rollout must reach; the lock is released once it has settled there. */
  setGeneration(s: ServiceKey, holder: string, generation: number): Promise<void>;
  release(s: ServiceKey, holder?: string): Promise<void>;
}

export function makeLeaseLocks(client: KubeClient, namespace: string, now = () => Date.now()): LockStore {
  const base = leasesPath(namespace);
  const path = (s: ServiceKey) => `${base}/${leaseName(s)}`;
  const micro = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

  async function get(s: ServiceKey): Promise<Lease | undefined> {
    try {
      return await client.request<Lease>({ path: path(s) }, `get Lease ${namespace}/${leaseName(s)}`);
    } catch (e) {
      if (e instanceof KubeError && e.code === 404) return undefined;
      throw e;
    }
  }

  function body(s: ServiceKey, holder: string, user: string, durationSec: number, rv?: string): Lease {
    const t = micro(now());
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: leaseName(s),
        namespace,
        resourceVersion: rv,
        labels: { "app.kubernetes.io/managed-by": "k8s-restart-app" },
        annotations: { [LOCK_SERVICE_ANNOTATION]: `${s.kind}/${s.namespace}/${s.name}`, [LOCK_USER]: user },
      },
      spec: { holderIdentity: holder, leaseDurationSeconds: durationSec, acquireTime: t as never, renewTime: t as never },
    };
  }

  async function acquireLease(s: ServiceKey, holder: string, user: string, durationSec: number, current: Lease | undefined): Promise<boolean> {
    // The cached Lease saves a GET; a stale cache only costs a 409, never a double lock.
    const lease = current ?? (await get(s));
    try {
      if (!lease) {
        await client.request({ method: "POST", path: base, body: body(s, holder, user, durationSec) }, `create Lease ${namespace}/${leaseName(s)}`);
        return true;
      }
      if (lockFromLease(lease, now())) return false;
      await client.request(
        { method: "PUT", path: path(s), body: body(s, holder, user, durationSec, lease.metadata?.resourceVersion) },
        `update Lease ${namespace}/${leaseName(s)}`,
      );
      return true;
    } catch (e) {
      if (e instanceof KubeError && (e.code === 409 || e.code === 422)) return false;
      throw e;
    }
  }

  // Acquisitions under way in this process: concurrent requests for the same service are
  // answered "locked" at once instead of each racing the API server for the same Lease.
  const pending = new Set<string>();

  return {
    async acquire(s, holder, user, durationSec, current) {
      const name = leaseName(s);
      if (pending.has(name)) return false;
      pending.add(name);
      try {
        return await acquireLease(s, holder, user, durationSec, current);
      } finally {
        pending.delete(name);
      }
    },

    async setGeneration(s, holder, generation) {
      for (let i = 0; i < 5; i++) {
        const lease = await get(s);
        if (!lease || lease.spec?.holderIdentity !== holder) return;
        lease.metadata!.annotations = { ...(lease.metadata?.annotations ?? {}), [LOCK_GENERATION]: String(generation) };
        try {
          await client.request({ method: "PUT", path: path(s), body: lease }, `update Lease ${namespace}/${leaseName(s)}`);
          return;
        } catch (e) {
          if (!(e instanceof KubeError && e.code === 409)) throw e;
        }
      }
    },

    async release(s, holder) {
      // Retried on 409: another replica may have touched the Lease; give up if it is no longer ours.
      for (let i = 0; i < 5; i++) {
        const lease = await get(s);
        if (!lease?.spec?.holderIdentity) return;
        if (holder !== undefined && lease.spec.holderIdentity !== holder) return;
        const anns = { ...(lease.metadata?.annotations ?? {}) };
        delete anns[LOCK_GENERATION];
        lease.metadata!.annotations = anns;
        lease.spec.holderIdentity = "";
        try {
          await client.request({ method: "PUT", path: path(s), body: lease }, `release Lease ${namespace}/${leaseName(s)}`);
          return;
        } catch (e) {
          if (!(e instanceof KubeError && e.code === 409)) throw e;
        }
      }
    },
  };
}
