// Wiring only: load config → serve → (self-check → locks → watches, behind the listener) → status hub → restart flow; stop cleanly on SIGTERM/SIGINT.
import { ConfigError, parseEnv } from "./config/env.ts";
import { loadConfigFile } from "./config/file.ts";
import { makeAuthn } from "./http/auth.ts";
import { describeHosts } from "./http/hosts.ts";
import { startServer } from "./http/server.ts";
import { makeApiClient } from "./kube/api.ts";
import { loadCredentials } from "./kube/credentials.ts";
import { lockNamespaceFor } from "./kube/namespace.ts";
import { prepareCluster } from "./kube/startup.ts";
import { hostName } from "./host.ts";
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
  const creds = await loadCredentials(env.kubeConfigPath, env.serviceAccountDir);
  const authn = await makeAuthn(env.auth, { trustedProxies: env.trustedProxies, log });
  const lockNamespace = await lockNamespaceFor(env.lockNamespace, env.serviceAccountDir, creds);
  if (env.auth.mode === "none") {
    log("warn", "AUTH_MODE=none: anyone who can reach this service can restart every listed workload; set AUTH_MODE=proxy or token to require an identity");
  }
  const instanceId = `${await hostName()}-${process.pid}`;
  // The instance in the User-Agent tells replicas apart in the API server's audit log.
  const client = makeApiClient(creds, `k8s-restart-app/${version} (${instanceId})`);
  const metrics = makeMetrics({ version, commit });
  const services = config.services;

  // The self-check (retried, re-run on 403), the lock store and the watches start in view.start()
  // below, behind the listening server: only /readyz and restarts (503 until synced) wait for them.
  const { view, locks, monitor, access, readiness } = prepareCluster({ client, services, lockNamespace, log });
  const hub = makeStatusHub({ view, services, timeoutSec: env.rolloutTimeoutSec, unwatchable: access.unwatchable });
  hub.onStatus(makeReleaser((s) => locks.release(s.service, s.lock!.holder), (msg, f) => log("info", msg, f)));
  monitor.onChange(() => hub.refresh());
  const flow = makeRestartFlow({ env, config, client, view, locks, access, instanceId, log, forbidden: (why) => monitor.recheck(why) });

  const app = startServer({ env, config, hub, metrics, authn, flow, version, log, unusable: () => access.unusable,
    ready: readiness, releaseOwn: (s) => locks.release(s, instanceId) });
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
