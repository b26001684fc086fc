// Wiring only: load config → self-check → locks → watches → service set → status hub → restart flow → serve; stop cleanly on SIGTERM/SIGINT.
import { ConfigError, parseEnv } from "./config/env.ts";
import { type ConfigFile, parseConfigText, readConfigText } from "./config/file.ts";
import { parseArgs, runCommand } from "./config/usage.ts";
import { startupWarnings } from "./config/warnings.ts";
import { makeAuthn } from "./http/auth.ts";
import { describeHosts } from "./http/hosts.ts";
import { startServer } from "./http/server.ts";
import { makeApiClient } from "./kube/api.ts";
import { accessDetail, checkAccess } from "./kube/access.ts";
import { loadCredentials } from "./kube/credentials.ts";
import { startSelfCheck } from "./kube/permissions.ts";
import { selectorScopes, watchCluster } from "./kube/cluster.ts";
import { kubeconfigPath } from "./kube/kubeconfig-path.ts";
import { chooseLocks } from "./kube/lock-store.ts";
import { lockNamespaceFor } from "./kube/namespace.ts";
import { hostName } from "./host.ts";
import { type Logger, makeLogger } from "./log.ts";
import { makeMetrics } from "./metrics.ts";
import { rbacCommand } from "./rbac.ts";
import { makeReleaser } from "./restart/release.ts";
import { makeRestartFlow } from "./restart/wiring.ts";
import { makeStatusHub } from "./status/hub.ts";
import { makeReloader, watchScopes } from "./status/reload.ts";
import { makeServiceSet } from "./status/service-set.ts";
import { feedMetrics } from "./status/metrics-feed.ts";
import { logAbsence, readinessOf } from "./status/readiness.ts";
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

  let fileConfig = config;
  const check = (c: ConfigFile) => checkAccess(client, c.services, lockNamespace, selectorScopes(c));
  const monitor = await startSelfCheck(() => check(fileConfig), log);
  const access = monitor.report;
  const locks = chooseLocks(client, lockNamespace, access.missingLeases);
  if (locks.local) log("warn", "cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)", { lockNamespace, missing: access.missingLeases });
  // Services the app may not list/watch are left out (watchScopes): one forbidden namespace must not keep the rest from syncing.
  const view = watchCluster({ client, services: [], scopes: watchScopes(config, access), lockNamespace, log: (msg, f) => log("warn", msg, f), locks: locks.local, missingDetails: access.missingDetails });
  const services = makeServiceSet(config, view);
  const hub = makeStatusHub({ view, services: config.services, timeoutSec: env.rolloutTimeoutSec, unwatchable: access.unwatchable });
  services.onChange((c) => hub.updateServices(c));
  // A reloaded file is checked at once; the monitor re-checks the file in use from then on.
  const reloadCheck = (c: ConfigFile) => ((fileConfig = c), check(c));
  const reloader = makeReloader({ path: env.configFilePath, text, set: services, view, access, check: reloadCheck, failures: metrics.configReloadFailures, log, refreshed: () => hub.refresh() });
  const absence = logAbsence(hub, log);
  feedMetrics(metrics, hub, view);
  hub.onStatus(makeReleaser((s) => locks.store.release(s.service, s.lock!.holder), (msg, f) => log("info", msg, f)));
  // issue 15 #9: a 403 from a watch or a write re-runs the self-check; its report changes in place.
  view.onForbidden(() => monitor.recheck("a watch was refused (403)"));
  const flow = makeRestartFlow({ env, services, client, view, locks: locks.store, access, instanceId, log, forbidden: (why) => monitor.recheck(why) });
  const accessLines = () => [...accessDetail(access, monitor.checked() ? "" : monitor.lastError() || "no answer yet", !!locks.local), ...reloader.readiness()];

  const app = startServer({ env, services, hub, metrics, authn, flow, version, log, clusterName: env.clusterName ?? creds.clusterName ?? "", unusable: () => access.unusable, configProblem: reloader.problem,
    ready: () => readinessOf(view, accessLines(), hub, monitor.checked()), releaseOwn: (s) => locks.store.release(s, instanceId) });
  monitor.onChange(() => (reloader.reapplyScopes(), hub.refresh(), app.refreshCards())); // issue 15 #9: shown live
  log("info", "listening", { address: `${app.server.hostname}:${app.server.port}`, url: app.server.url.href, monitoring: app.monitoring?.url.href ?? "off",
    services: config.services.length, lockNamespace, server: client.server, kubeconfig: kubeconfigPath(env.kubeConfigPath), version, allowedHosts: describeHosts(env.allowedHosts) });
  process.on("SIGHUP", () => void reloader.reload("SIGHUP", true));

  const started = performance.now();
  void view.start().then(() => {
    hub.refresh();
    log("info", "caches synced", { ms: Math.round(performance.now() - started) });
    Bun.gc(true); // the initial lists' garbage need not stay resident
    queueMicrotask(absence.synced); // after the refresh's push
  });

  stopOnSignals(log, (env.shutdownGraceSec + 5) * 1000, async () => {
    reloader.stop();
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
    makeLogger("error")("error", "configuration error", { error: e.message }); // one JSON line for log pipelines too
    process.exit(2);
  }
  console.error(`k8s-restart-app: fatal: ${(e as Error)?.stack ?? e}`);
  process.exit(1);
});
