// Wiring only: load config → start watches → status hub → serve; stop cleanly on SIGTERM/SIGINT.
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { ConfigError, parseEnv } from "./config/env.ts";
import { loadConfigFile, serviceId } from "./config/file.ts";
import { makeAuthn } from "./http/auth.ts";
import { describeHosts } from "./http/hosts.ts";
import { makeRateLimiter } from "./http/ratelimit.ts";
import { startServer } from "./http/server.ts";
import { type AccessReport, checkAccess } from "./kube/access.ts";
import { makePermissionMonitor } from "./kube/permissions.ts";
import { loadKubeConfig, makeKubeClient } from "./kube/client.ts";
import { watchCluster } from "./kube/cluster.ts";
import { type LockStore, makeLeaseLocks } from "./kube/lease.ts";
import { makeMemoryLocks } from "./kube/memlocks.ts";
import { patchRestart, recordRestartEvent } from "./kube/workloads.ts";
import { makeLogger } from "./log.ts";
import { makeMetrics } from "./metrics.ts";
import { makeReleaser } from "./restart/release.ts";
import { restartWorkload } from "./restart/restart.ts";
import { rbacCommand } from "./rbac.ts";
import { makeStatusHub } from "./status/hub.ts";
import { commit, version } from "./version.ts";

const SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

async function main(): Promise<void> {
  if (process.argv.includes("--version")) {
    console.log(`k8s-restart-app ${version} (commit ${commit})`);
    return;
  }
  if (process.argv[2] === "rbac") {
    process.stdout.write(await rbacCommand(process.argv.slice(3), process.env));
    return;
  }
  const env = parseEnv(process.env);
  const log = makeLogger(env.logLevel);
  const config = await loadConfigFile(env.configFilePath);
  const kc = loadKubeConfig(env.kubeConfigPath);
  const authn = await makeAuthn(env.auth, { trustedProxies: env.trustedProxies, log });
  const lockNamespace =
    env.lockNamespace || (existsSync(SA_NAMESPACE) ? readFileSync(SA_NAMESPACE, "utf8").trim() : "") || kc.getContextObject(kc.getCurrentContext())?.namespace || "default";
  if (env.auth.mode === "none") {
    log("warn", "AUTH_MODE=none: anyone who can reach this service can restart every listed workload; set AUTH_MODE=proxy or token to require an identity");
  }

  const instanceId = `${hostname()}-${process.pid}`;
  // The instance in the User-Agent tells replicas apart in the API server's audit log.
  const client = makeKubeClient(kc, `k8s-restart-app/${version} (${instanceId})`);
  const metrics = makeMetrics({ version, commit });
  const services = config.services;

  // The self-check runs before the watches start: it decides whether locks can live in Leases.
  // issue 15 #9: retried with backoff until it succeeds and re-run on a 403; its maps change in place.
  const monitor = makePermissionMonitor({ check: () => checkAccess(client, services, lockNamespace), log });
  const access: AccessReport = monitor.report;
  await Promise.race([monitor.first(), Bun.sleep(10_000)]);
  if (!monitor.checked()) log("warn", "permission self-check failed; using Leases and retrying in the background", { error: monitor.lastError() });
  for (const [id, missing] of access.unusable) log("error", "missing permissions: service cannot be restarted", { service: id, missing });
  if (access.missingEvents.length) log("warn", "cannot create Events; restarts are audited in this log only", { namespaces: access.missingEvents });
  const memLocks = access.missingLeases.length ? makeMemoryLocks() : undefined;
  if (memLocks) {
    log("warn", "cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)", {
      lockNamespace,
      missing: access.missingLeases,
    });
  }
  const locks: LockStore = memLocks ?? makeLeaseLocks(client, lockNamespace);
  // A service the app may not even list/watch is left out of the watches: one forbidden
  // namespace must not keep every other service from syncing.
  const watched = services.filter((s) => !access.unwatchable.has(serviceId(s)));
  const view = watchCluster(client, watched, lockNamespace, (msg, f) => log("warn", msg, f), memLocks);
  const hub = makeStatusHub(view, services, env.rolloutTimeoutSec, undefined, access.unwatchable);
  // One limiter for the process: it must remember attempts across requests.
  const rateLimit = makeRateLimiter(env.rateLimitPerMinute);
  const accessProblems = access.unusable;
  view.onForbidden(() => monitor.recheck("a watch was refused (403)")); // issue 15 #9
  monitor.onChange(() => hub.refresh());

  hub.onStatus(
    makeReleaser(
      (s) => locks.release(s.service, s.lock!.holder),
      (msg, f) => log("info", msg, f),
    ),
  );

  const app = startServer({
    env,
    config,
    hub,
    metrics,
    authn,
    version,
    log,
    accessProblems: () => accessProblems,
    releaseOwn: (s) => locks.release(s, instanceId), // issue 15 #11
    ready: () => {
      const detail: string[] = [];
      if (!view.synced()) detail.push("watch caches have not synced yet");
      for (const d of view.disconnected()) detail.push(`watch disconnected: ${d}`);
      if (!monitor.checked()) detail.push(`permission self-check pending: ${monitor.lastError() || "no answer yet"}`);
      for (const [id, missing] of accessProblems) detail.push(`${id}: missing permission: ${missing.join("; ")}`);
      if (memLocks) detail.push(`locks are in-process only: missing ${access.missingLeases.join("; ")}`);
      if (access.missingEvents.length) detail.push(`cannot create Events in: ${access.missingEvents.join(", ")}`);
      // Missing permissions make services unusable, not the app unready: the rest still works.
      // issue 15 #10: a lost watch (silent drops included) means stale data: not ready.
      return { ready: view.synced() && view.disconnected().length === 0 && monitor.checked(), detail };
    },
    restart: (req) =>
      restartWorkload(
        {
          config,
          workload: (s) => view.workload(s),
          lease: (s) => view.lease(s),
          acquire: (s, holder, user, current) => locks.acquire(s, holder, user, env.forceUnlockSec, current),
          setGeneration: (s, holder, gen, uid) => locks.setGeneration(s, holder, gen, uid),
          release: (s, holder) => locks.release(s, holder),
          patch: (s, at, user) => patchRestart(client, s, { restartedAt: at, user }),
          recordEvent: async (w, s, user, at) => {
            if (!access.missingEvents.includes(s.namespace)) await recordRestartEvent(client, w, s, user, at);
          },
          rateLimit,
          unusable: (s) => accessProblems.get(serviceId(s))?.join("; "),
          instanceId,
          synced: () => view.synced(), // issue 15 #15
          forbidden: (why) => monitor.recheck(why), // issue 15 #9
          now: () => new Date(),
          log: (msg, f) => log("warn", msg, f),
        },
        req,
      ),
  });
  log("info", "listening", { address: `${app.server.hostname}:${app.server.port}`, url: app.server.url.href,
    monitoring: app.monitoring?.url.href ?? "off", services: services.length, lockNamespace, server: client.server, version,
    allowedHosts: describeHosts(env.allowedHosts) }); // issue 15 #4

  const started = performance.now();
  view.start().then(() => {
    hub.refresh();
    log("info", "caches synced", { ms: Math.round(performance.now() - started) });
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutting down", { signal });
    const hard = setTimeout(() => process.exit(1), (env.shutdownGraceSec + 5) * 1000); // issue 15 #11: the drain's grace + closing
    view.stop();
    hub.stop();
    monitor.stop();
    await app.shutdown();
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
