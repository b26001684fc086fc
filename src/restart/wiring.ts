// Assembles the restart flow's real dependencies: the watch caches, the lock store, the cluster writes, the rate limiter and the audit log.
import type { Env } from "../config/env.ts";
import { serviceId } from "../config/file.ts";
import type { AccessReport } from "../kube/access.ts";
import type { KubeClient } from "../kube/api.ts";
import type { ClusterView } from "../kube/cluster.ts";
import type { LockStore } from "../kube/lock.ts";
import { patchRestart, recordRestartEvent } from "../kube/workloads.ts";
import type { Logger } from "../log.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { RestartFailure, RestartRequest, RestartResult } from "./outcome.ts";
import { makeRateLimiter } from "./ratelimit.ts";
import { type RestartDeps, refuseRestart, restartWorkload } from "./restart.ts";

export interface RestartFlow {
  restart(req: RestartRequest): Promise<RestartResult>;
  /** A request refused before the flow could run; audited like every other outcome. */
  refuse(req: RestartRequest, r: RestartFailure): RestartFailure;
}

export interface RestartWiring {
  env: Env;
  /** The services offered now: every request looks its service up in the current set. */
  services: ServiceSet;
  client: KubeClient;
  view: ClusterView;
  locks: LockStore;
  access: AccessReport;
  instanceId: string;
  log: Logger;
  /** Told when the API server refuses one of the app's writes with 403 (issue 15 #9: re-run the self-check). */
  forbidden?(why: string): void;
}

export function makeRestartFlow({ env, services, client, view, locks, access, instanceId, log, forbidden }: RestartWiring): RestartFlow {
  const deps: RestartDeps = {
    get config() {
      return services.current();
    },
    workload: (s) => view.workload(s),
    lease: (s) => view.lease(s),
    acquire: (s, holder, user, current) => locks.acquire(s, holder, user, env.forceUnlockSec, current),
    setGeneration: (s, holder, gen, uid) => locks.setGeneration(s, holder, gen, uid),
    release: (s, holder) => locks.release(s, holder),
    heldLock: (s) => locks.held(s),
    patch: (s, at, user) => patchRestart(client, s, { restartedAt: at, user }),
    // Events are the cluster-side record; without the right to create them the audit log alone has it.
    recordEvent: async (w, s, user, at) => {
      if (!access.missingEvents.includes(s.namespace)) await recordRestartEvent(client, w, s, user, at);
    },
    // One limiter for the process: it must remember attempts across requests.
    rateLimit: makeRateLimiter(env.rateLimitPerMinute),
    unusable: (s) => access.unusable.get(serviceId(s)),
    audit: (r) => log(r.outcome === "restarted" ? "info" : "warn", "restart", { ...r }),
    instanceId,
    synced: () => view.synced(), // issue 15 #15
    forbidden,
    now: () => new Date(),
    log: (msg, f) => log("warn", msg, f),
  };
  return { restart: (req) => restartWorkload(deps, req), refuse: (req, r) => refuseRestart(deps, req, r) };
}
