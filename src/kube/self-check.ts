// The permission self-check at start: a permission monitor whose first answer start waits for (up to 10 s), with its findings logged.
import type { ServiceKey } from "../config/file.ts";
import type { Logger } from "../log.ts";
import { type AccessReport, checkAccess } from "./access.ts";
import type { KubeClient } from "./client.ts";
import { makePermissionMonitor } from "./permissions.ts";

/**
 * The permission self-check runs before the watches start: it decides whether locks can live in
 * Leases. Issue 15 #9: it is retried with backoff until it succeeds (start waits up to 10 s for
 * the first answer, then goes on with Leases while it keeps trying) and re-run on a 403.
 */
export async function selfCheck(client: KubeClient, services: ServiceKey[], lockNamespace: string, log: Logger) {
  const monitor = makePermissionMonitor({ check: () => checkAccess(client, services, lockNamespace), log });
  const logProblems = (access: AccessReport) => {
    for (const [id, missing] of access.unusable) log("error", "missing permissions: service cannot be restarted", { service: id, missing });
    if (access.missingEvents.length) log("warn", "cannot create Events; restarts are audited in this log only", { namespaces: access.missingEvents });
  };
  monitor.onChange(logProblems);
  await Promise.race([monitor.first(), Bun.sleep(10_000)]);
  if (!monitor.checked()) log("warn", "permission self-check failed; using Leases and retrying in the background", { error: monitor.lastError() });
  return monitor;
}
