// Listen first: the cluster side of the app (self-check → lock store and watch scopes → watches; service set, status hub, reload, restart flow), built so the server can answer before the cluster has.
//
// Everything the server reads exists at once: the service set (the file's entries), the hub (no
// status before the caches synced), the restart flow (503 `unavailable` with Retry-After until
// they have). What needs the permission self-check's answer — Leases or in-process locks, which
// scopes may be watched — is decided when it arrives (or after 10 s without one: Leases, every
// scope, the monitor retrying), and only then do the watches start. /readyz stays 503 until the
// self-check has answered and the caches have synced.
import type { Env } from "./config/env.ts";
import type { ConfigFile, ServiceKey } from "./config/file.ts";
import { accessDetail, type AccessReport, checkAccess } from "./kube/access.ts";
import type { KubeClient } from "./kube/api.ts";
import { type ClusterView, selectorScopes, watchCluster } from "./kube/cluster.ts";
import { chooseLocks, type LateLocks, lateLocks } from "./kube/lock-store.ts";
import { type PermissionMonitor, startSelfCheck } from "./kube/permissions.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { makeReleaser } from "./restart/release.ts";
import { makeRestartFlow, type RestartFlow } from "./restart/wiring.ts";
import { makeStatusHub, type StatusHub } from "./status/hub.ts";
import { feedMetrics } from "./status/metrics-feed.ts";
import { logAbsence, type Readiness, readinessOf } from "./status/readiness.ts";
import { makeReloader, type Reloader, watchScopes } from "./status/reload.ts";
import { makeServiceSet, type OwnedServiceSet } from "./status/service-set.ts";

export interface CoreDeps {
  env: Env;
  config: ConfigFile;
  /** The text `config` was read from (the reloader compares against it). */
  text: string;
  client: KubeClient;
  lockNamespace: string;
  instanceId: string;
  metrics: Metrics;
  log: Logger;
  /** How long the watches wait for the self-check's first answer before assuming Leases (10 s). */
  selfCheckWaitMs?: number;
}

export interface Core {
  services: OwnedServiceSet;
  hub: StatusHub;
  flow: RestartFlow;
  monitor: PermissionMonitor;
  reloader: Reloader;
  /** The self-check's report (empty, i.e. nothing known missing, until it answers); its maps change in place. */
  access: AccessReport;
  ready(): Readiness;
  /** Frees this instance's lock on a service (a restart cut short by shutdown). */
  releaseOwn(s: ServiceKey): Promise<void>;
  /** Once the server listens: waits for the self-check (or 10 s), chooses the lock store, starts the watches; resolves when they synced. */
  start(): Promise<void>;
  stop(): void;
}

interface Parts {
  d: CoreDeps;
  view: ClusterView;
  hub: StatusHub;
  locks: LateLocks;
  access: AccessReport;
  settled: Promise<void>;
  fileConfig(): ConfigFile;
}

/** The staging: lock store and watch scopes from the self-check's answer, then the watches. */
async function stage(p: Parts, stopped: () => boolean, synced: () => void): Promise<void> {
  const { d, view, access, log } = { ...p, log: p.d.log };
  await p.settled;
  if (stopped()) return;
  const locks = chooseLocks(d.client, d.lockNamespace, access.missingLeases);
  p.locks.choose(locks);
  if (locks.local) log("warn", "cannot use Leases for restart locks; using in-process locks (not shared across replicas, lost on restart)", { lockNamespace: d.lockNamespace, missing: access.missingLeases });
  // Services the app may not list/watch are left out (watchScopes): one forbidden namespace must not keep the rest from syncing.
  view.setScopes(watchScopes(p.fileConfig(), access));
  const started = performance.now();
  await view.start(locks.local);
  if (stopped()) return;
  p.hub.refresh();
  log("info", "caches synced", { ms: Math.round(performance.now() - started) });
  // The initial lists' garbage need not stay resident: collect it, then give the freed memory back (≈ 5 MiB of RSS with 200 services).
  const giveBack = () => (Bun.gc(true), Bun.shrink());
  giveBack();
  queueMicrotask(synced); // after the refresh's push
  // Again once the Events and revisions (fetched after this sync) are in: at 2,000 services their streams leave more.
  void view.detailsFilled?.().then(() => stopped() || giveBack());
}

export function assembleCore(d: CoreDeps): Core {
  const { env, config, client, lockNamespace, log } = d;
  let fileConfig = config;
  let stopped = false;
  // The self-check's first request waits for start(): setting up its TLS connection is not on the way to listening.
  let begin!: () => void;
  const begun = new Promise<void>((r) => (begin = r));
  const check = async (c: ConfigFile) => (await begun, checkAccess(client, c.services, lockNamespace, selectorScopes(c)));
  const { monitor, settled } = startSelfCheck(() => check(fileConfig), log, { waitMs: d.selfCheckWaitMs });
  const access = monitor.report;
  const locks = lateLocks();
  // Every configured scope until the self-check narrows it; nothing is listed before stage() starts the view.
  const view = watchCluster({ client, services: [], scopes: watchScopes(config, access), lockNamespace, log: (msg, f) => log("warn", msg, f), missingDetails: access.missingDetails });
  const services = makeServiceSet(config, view);
  const hub = makeStatusHub({ view, services: config.services, timeoutSec: env.rolloutTimeoutSec, unwatchable: access.unwatchable });
  services.onChange((c) => hub.updateServices(c));
  // A reloaded file is checked at once; the monitor re-checks the file in use from then on.
  const reloadCheck = (c: ConfigFile) => ((fileConfig = c), check(c));
  const reloader = makeReloader({ path: env.configFilePath, text: d.text, set: services, view, access, check: reloadCheck, failures: d.metrics.configReloadFailures, log, refreshed: () => hub.refresh() });
  const absence = logAbsence(hub, log);
  feedMetrics(d.metrics, hub, view);
  hub.onStatus(makeReleaser((s) => locks.store.release(s.service, s.lock!.holder), (msg, f) => log("info", msg, f)));
  // issue 15 #9: a 403 from a watch or a write re-runs the self-check; its report changes in place.
  view.onForbidden(() => monitor.recheck("a watch was refused (403)"));
  const flow = makeRestartFlow({ env, services, client, view, locks: locks.store, access, instanceId: d.instanceId, log, forbidden: (why) => monitor.recheck(why) });
  const accessLines = () => [...accessDetail(access, monitor.checked() ? "" : monitor.lastError() || "no answer yet", !!locks.chosen()?.local), ...reloader.readiness()];
  const parts: Parts = { d, view, hub, locks, access, settled, fileConfig: () => fileConfig };
  return {
    services,
    hub,
    flow,
    monitor,
    reloader,
    access,
    ready: () => readinessOf(view, accessLines(), hub, monitor.checked()),
    releaseOwn: (s) => locks.store.release(s, d.instanceId),
    start: () => (begin(), stage(parts, () => stopped, absence.synced)),
    stop() {
      stopped = true;
      reloader.stop();
      view.stop();
      hub.stop();
      monitor.stop();
    },
  };
}
