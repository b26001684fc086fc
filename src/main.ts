// Wiring only: load config → credentials → the cluster side (startup.ts) → serve at once, then self-check → locks → watches behind it; stop cleanly on SIGTERM/SIGINT.
import { ConfigError, parseEnv } from "./config/env.ts";
import { parseConfigText, readConfigText } from "./config/file.ts";
import { parseArgs, runCommand } from "./config/usage.ts";
import { startupWarnings } from "./config/warnings.ts";
import { makeAuthn } from "./http/auth.ts";
import { describeHosts } from "./http/hosts.ts";
import { startServer } from "./http/server.ts";
import { makeApiClient } from "./kube/api.ts";
import { loadCredentials } from "./kube/credentials.ts";
import { kubeconfigPath } from "./kube/kubeconfig-path.ts";
import { lockNamespaceFor } from "./kube/namespace.ts";
import { hostName } from "./host.ts";
import { type Logger, makeLogger } from "./log.ts";
import { makeMetrics } from "./metrics.ts";
import { rbacCommand } from "./rbac.ts";
import { assembleCore } from "./startup.ts";
import { commit, version } from "./version.ts";

async function main(): Promise<void> {
  if (await runCommand(parseArgs(process.argv.slice(2)), rbacCommand)) return;
  const env = parseEnv(process.env);
  const log = makeLogger(env.logLevel);
  const text = await readConfigText(env.configFilePath);
  const config = parseConfigText(text, env.configFilePath);
  const creds = await loadCredentials(env.kubeConfigPath, env.serviceAccountDir);
  const authn = await makeAuthn(env.auth, { trustedProxies: env.trustedProxies, log });
  const lockNamespace = await lockNamespaceFor(env.lockNamespace, env.serviceAccountDir, creds);
  for (const w of startupWarnings(env, config)) log("warn", w);
  const instanceId = `${await hostName()}-${process.pid}`;
  // The instance in the User-Agent tells replicas apart in the API server's audit log.
  const client = makeApiClient(creds, `k8s-restart-app/${version} (${instanceId})`);
  const metrics = makeMetrics({ version, commit });

  // Listen first (issue 14): the server answers at once; the self-check and the first sync run behind it (startup.ts).
  const core = assembleCore({ env, config, text, client, lockNamespace, instanceId, metrics, log });
  const { services, hub, flow, monitor, reloader, access } = core;
  const app = startServer({ env, services, hub, metrics, authn, flow, version, log, clusterName: env.clusterName ?? creds.clusterName ?? "", unusable: () => access.unusable, configProblem: reloader.problem,
    ready: core.ready, releaseOwn: core.releaseOwn });
  monitor.onChange(() => (reloader.reapplyScopes(), hub.refresh(), app.refreshCards())); // issue 15 #9: shown live
  log("info", "listening", { address: `${app.server.hostname}:${app.server.port}`, url: app.server.url.href, monitoring: app.monitoring?.url.href ?? "off",
    services: config.services.length, lockNamespace, server: client.server, kubeconfig: kubeconfigPath(env.kubeConfigPath), version, allowedHosts: describeHosts(env.allowedHosts) });
  process.on("SIGHUP", () => void reloader.reload("SIGHUP", true));
  core.start().catch((e) => log("error", "start-up failed", { error: String((e as Error)?.stack ?? e) }));

  stopOnSignals(log, (env.shutdownGraceSec + 5) * 1000, async () => {
    core.stop();
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
    makeLogger("error")("error", "configuration error", { error: e.message }); // one JSON line for log pipelines too
    process.exit(2);
  }
  console.error(`k8s-restart-app: fatal: ${(e as Error)?.stack ?? e}`);
  process.exit(1);
});
