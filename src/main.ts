// Wiring only: load config → start watches → status hub → serve; stop cleanly on SIGTERM/SIGINT.
import { ConfigError, parseEnv } from "./config/env.ts";
import { loadConfigFile, serviceId } from "./config/file.ts";
import { makeAuthn } from "./http/auth.ts";
import { makeRateLimiter } from "./http/ratelimit.ts";
import { startServer } from "./http/server.ts";
import { makeApiClient } from "./kube/api.ts";
import { loadCredentials } from "./kube/credentials.ts";
import { serviceAccountNamespace } from "./kube/incluster.ts";
import { prepareCluster } from "./kube/startup.ts";
import { patchRestart, recordRestartEvent } from "./kube/workloads.ts";
import { hostName } from "./host.ts";
import { makeLogger } from "./log.ts";
import { makeMetrics } from "./metrics.ts";
import { makeReleaser } from "./restart/release.ts";
import { restartWorkload } from "./restart/restart.ts";
import { rbacCommand } from "./rbac.ts";
import { makeStatusHub } from "./status/hub.ts";
import { commit, version } from "./version.ts";

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
  const creds = await loadCredentials(env.kubeConfigPath, env.serviceAccountDir);
  const authn = await makeAuthn(env.auth);
  const lockNamespace =
    env.lockNamespace || (await serviceAccountNamespace(env.serviceAccountDir)) || creds.namespace || "default";
  if (env.auth.mode === "none") {
    log("warn", "AUTH_MODE=none: anyone who can reach this service can restart every listed workload; set AUTH_MODE=proxy or token to require an identity");
  }

  const instanceId = `${await hostName()}-${process.pid}`;
  // The instance in the User-Agent tells replicas apart in the API server's audit log.
  const client = makeApiClient(creds, `k8s-restart-app/${version} (${instanceId})`);
  const metrics = makeMetrics({ version, commit });
  const services = config.services;

  // The self-check, the lock store and the watches start in the background (view.start() below):
  // the server listens first and only /readyz and restarts wait for them.
  const cluster = prepareCluster(client, services, lockNamespace, log);
  const { view, locks } = cluster;
  const hub = makeStatusHub(view, services, env.rolloutTimeoutSec, undefined, cluster.unwatchable);
  // One limiter for the process: it must remember attempts across requests.
  const rateLimit = makeRateLimiter(env.rateLimitPerMinute);

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
    accessProblems: () => cluster.access().unusable,
    ready: () => cluster.readiness(),
    restart: (req) =>
      restartWorkload(
        {
          config,
          workload: (s) => view.workload(s),
          lease: (s) => view.lease(s),
          acquire: (s, holder, user, current) => locks.acquire(s, holder, user, env.forceUnlockSec, current),
          setGeneration: (s, holder, gen) => locks.setGeneration(s, holder, gen),
          release: (s, holder) => locks.release(s, holder),
          patch: (s, at, user) => patchRestart(client, s, { restartedAt: at, user }),
          recordEvent: async (w, s, user, at) => {
            if (!cluster.access().missingEvents.includes(s.namespace)) await recordRestartEvent(client, w, s, user, at);
          },
          ready: () => cluster.ready(),
          rateLimit,
          unusable: (s) => cluster.access().unusable.get(serviceId(s))?.join("; "),
          instanceId,
          now: () => new Date(),
          log: (msg, f) => log("warn", msg, f),
        },
        req,
      ),
  });
  log("info", "listening", { address: `${app.server.hostname}:${app.server.port}`, url: app.server.url.href,
    monitoring: app.monitoring?.url.href ?? "off", services: services.length, lockNamespace, server: client.server, version });

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
    const hard = setTimeout(() => process.exit(1), 4500);
    view.stop();
    hub.stop();
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
