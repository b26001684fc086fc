// Wiring only: load config → self-check → locks → watches → status hub → restart flow → serve; stop cleanly on SIGTERM/SIGINT.
import { hostname } from "node:os";
import { ConfigError, parseEnv } from "./config/env.ts";
import { loadConfigFile, type ServiceKey, serviceId } from "./config/file.ts";
import { makeAuthn } from "./http/auth.ts";
import { describeHosts } from "./http/hosts.ts";
import { startServer } from "./http/server.ts";
import { type AccessReport, accessDetail, checkAccess, readiness } from "./kube/access.ts";
import { makePermissionMonitor } from "./kube/permissions.ts";
import { type KubeClient, loadKubeConfig, makeKubeClient } from "./kube/client.ts";
import { watchCluster } from "./kube/cluster.ts";
import { chooseLocks } from "./kube/lock-store.ts";
import { clusterNameFor } from "./kube/cluster-name.ts";
import { lockNamespaceFor } from "./kube/namespace.ts";
import { type Logger, makeLogger } from "./log.ts";
import { makeMetrics } from "./metrics.ts";
import { rbacCommand } from "./rbac.ts";
import { makeReleaser } from "./restart/release.ts";
import { makeRestartFlow } from "./restart/wiring.ts";
import { makeStatusHub } from "./status/hub.ts";
import { commit, version } from "./version.ts";

async function main(): Promise<void> {
  if (process.argv.includes("--version")) return console.log(`k8s-restart-app ${version} (commit ${commit})`);
  if (process.argv[2] === "rbac") return void process.stdout.write(await rbacCommand(process.argv.slice(3), process.env));
  const env = parseEnv(process.env);
  const log = makeLogger(env.logLevel);
  const config = await loadConfigFile(env.configFilePath);
  const kc = loadKubeConfig(env.kubeConfigPath);
  const authn = await makeAuthn(env.auth, { trustedProxies: env.trustedProxies, log });
  const lockNamespace = lockNamespaceFor(env.lockNamespace, kc);
  if (env.auth.mode === "none") {
    log("warn", "AUTH_MODE=none: anyone who can reach this service can restart every listed workload; set AUTH_MODE=proxy or token to require an identity");
  }
  const instanceId = `${hostname()}-${process.pid}`;
  // The instance in the User-Agent tells replicas apart in the API server's audit log.
  const client = makeKubeClient(kc, `k8s-restart-app/${version} (${instanceId})`);
  const metrics = makeMetrics({ version, commit });
  const services = config.services;

  const monitor = await selfCheck(client, services, lockNamespace, log);
  const access = monitor.report;
  const locks = chooseLocks(client, lockNamespace, access.missingLeases);
  if (locks.local) {
    log("warn", "cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)", { lockNamespace, missing: access.missingLeases });
  }
  // A service the app may not even list/watch is left out of the watches: one forbidden
  // namespace must not keep every other service from syncing.
  const watched = services.filter((s) => !access.unwatchable.has(serviceId(s)));
  const view = watchCluster({ client, services: watched, lockNamespace, log: (msg, f) => log("warn", msg, f), locks: locks.local, missingDetails: access.missingDetails });
  const hub = makeStatusHub({ view, services, timeoutSec: env.rolloutTimeoutSec, unwatchable: access.unwatchable });
  hub.onStatus(makeReleaser((s) => locks.store.release(s.service, s.lock!.holder), (msg, f) => log("info", msg, f)));
  // issue 15 #9: a 403 from a watch or a write re-runs the self-check; its report changes in place.
  view.onForbidden(() => monitor.recheck("a watch was refused (403)"));
  monitor.onChange(() => hub.refresh());
  const flow = makeRestartFlow({ env, config, client, view, locks: locks.store, access, instanceId, log, forbidden: (why) => monitor.recheck(why) });
  const accessLines = () => accessDetail(access, monitor.checked() ? "" : monitor.lastError() || "no answer yet", !!locks.local);

  const app = startServer({ env, config, hub, metrics, authn, flow, version, log, clusterName: clusterNameFor(env.clusterName, kc, env.kubeConfigPath === ""), unusable: () => access.unusable,
    ready: () => readiness(view, accessLines(), monitor.checked()), releaseOwn: (s) => locks.store.release(s, instanceId) });
  log("info", "listening", { address: `${app.server.hostname}:${app.server.port}`, url: app.server.url.href,
    monitoring: app.monitoring?.url.href ?? "off", services: services.length, lockNamespace, server: client.server, version,
    allowedHosts: describeHosts(env.allowedHosts) });

  const started = performance.now();
  view.start().then(() => {
    hub.refresh();
    log("info", "caches synced", { ms: Math.round(performance.now() - started) });
  });

  stopOnSignals(log, (env.shutdownGraceSec + 5) * 1000, async () => {
    view.stop();
    hub.stop();
    monitor.stop();
    await app.shutdown();
  });
}

/**
 * The permission self-check runs before the watches start: it decides whether locks can live in
 * Leases. Issue 15 #9: it is retried with backoff until it succeeds (start waits up to 10 s for
 * the first answer, then goes on with Leases while it keeps trying) and re-run on a 403.
 */
async function selfCheck(client: KubeClient, services: ServiceKey[], lockNamespace: string, log: Logger) {
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

/** SIGTERM/SIGINT: stop once, exit 0 when done, 1 if stopping hangs. */
function stopOnSignals(log: Logger, hardMs: number, stopAll: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { signal });
    const hard = setTimeout(() => process.exit(1), hardMs); // issue 15 #11: the drain's grace + closing
    await stopAll();
    clearTimeout(hard);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((e) => {
  if (e instanceof ConfigError) {
    console.error(`k8s-restart-app: configuration error: ${e.message}`);
    process.exit(2);
  }
  console.error(`k8s-restart-app: fatal: ${(e as Error)?.stack ?? e}`);
  process.exit(1);
});
