// Frees a restart lock once its rollout has settled at the generation the PATCH produced (the rule is status/settle.ts).
import { serviceId } from "../config/file.ts";
import type { ServiceStatus } from "../status/model.ts";
import { lockReleasable } from "../status/settle.ts";

/**
 * Any replica may release: the holder recorded in the Lease is passed along, so a lock taken
 * anew in between is never freed by mistake.
 */
export function makeReleaser(release: (s: ServiceStatus) => Promise<void>, log: (msg: string, f: Record<string, unknown>) => void) {
  const inFlight = new Set<string>();
  return (s: ServiceStatus) => {
    if (!lockReleasable(s)) return;
    const key = `${serviceId(s.service)}@${s.lock!.holder}`;
    if (inFlight.has(key)) return;
    inFlight.add(key);
    release(s)
      .then(() => log("restart lock released", { service: serviceId(s.service), rollout: s.rollout, holder: s.lock!.holder }))
      .catch((e) => log("restart lock release failed", { service: serviceId(s.service), error: String(e) }))
      .finally(() => inFlight.delete(key));
  };
}
