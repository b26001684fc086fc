// Shared bench plumbing: the running control plane, kubectl, bench namespaces, the app binary as a process.
//
// The cluster's env file, kubectl and the app process come from tests/support/process.ts, shared
// with the e2e suites; this adds what a benchmark needs: the compiled binary built once per run,
// readiness timed from spawn, the app under its own ServiceAccount. The audit log is read in audit.ts (from a byte
// offset, not the whole file), process CPU/RSS and percentiles are in stats.ts.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { type ClusterEnv, clusterEnv, ROOT, readLines, runKubectl, spawnApp } from "../tests/support/process.ts";
import { kwokPodTemplate, PAUSE_IMAGE } from "../tests/support/workloads.ts";
import { type KubeClient, loadKubeConfig, makeKubeClient } from "../src/kube/client.ts";

export { ROOT, readLines };
export const BUN = join(ROOT, "node_modules/.bin/bun");

export const cluster: ClusterEnv = clusterEnv();

export const tmp = mkdtempSync(join(tmpdir(), "k8s-restart-app-bench-"));
export const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${msg}`);
/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on this machine. */
export const nowMs = () => performance.timeOrigin + performance.now();

export function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}): Promise<string> {
  return runKubectl(cluster, args, opts);
}

/** The bench's own API client (admin kubeconfig), with a User-Agent the audit filters never confuse with the app's. */
export function observerClient(): KubeClient {
  return makeKubeClient(loadKubeConfig(cluster.KUBECONFIG!), "bench-observer");
}

// ---------- namespaces and workloads ----------

export async function deleteNamespace(ns: string): Promise<void> {
  if (!ns.startsWith("bench-")) throw new Error(`refusing to delete ${ns}: the bench only owns bench-* namespaces`);
  await kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
}

/** A fresh, empty namespace (a leftover from an interrupted run is deleted first). */
export async function freshNamespace(ns: string): Promise<void> {
  await deleteNamespace(ns);
  await kubectl(["create", "namespace", ns]);
  await kubectl(["label", "namespace", ns, "k8s-restart-app-bench=true"]);
}

export interface DeploymentOpts {
  replicas?: number;
  maxSurge?: number;
  maxUnavailable?: number;
  minReadySeconds?: number;
}

/** A Deployment whose pods land on kwok's fake nodes (tests/support/workloads.ts), tiny requests so 200 fit. */
export function deployment(ns: string, name: string, o: DeploymentOpts = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      replicas: o.replicas ?? 1,
      minReadySeconds: o.minReadySeconds ?? 0,
      selector: { matchLabels: { app: name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: o.maxSurge ?? 1, maxUnavailable: o.maxUnavailable ?? 0 } },
      template: kwokPodTemplate(name, {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: "main", image: PAUSE_IMAGE, resources: { requests: { cpu: "1m", memory: "1Mi" } } }],
      }),
    },
  };
}

/** Applies the objects and waits until every Deployment in the namespace is Available. */
export async function applyAndWait(ns: string, items: object[], timeoutSec = 300): Promise<number> {
  const t0 = performance.now();
  await kubectl(["apply", "--server-side", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
  await kubectl(["-n", ns, "wait", "--for=condition=Available", "deployment", "--all", `--timeout=${timeoutSec}s`]);
  return performance.now() - t0;
}

export const serviceList = (ns: string, names: string[]) => names.map((name) => ({ kind: "Deployment", namespace: ns, name }));


// ---------- the app ----------

let builtBinary: string | undefined;
/** APP_BIN when set, else scripts/build.sh into a temp dir once per run (dist/ is left alone). */
export function appBinary(): string {
  if (process.env.APP_BIN) return resolve(process.env.APP_BIN);
  if (builtBinary) return builtBinary;
  const out = join(tmp, "k8s-restart-app");
  log(`building ${out} with scripts/build.sh`);
  const r = Bun.spawnSync([join(ROOT, "scripts/build.sh"), out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`scripts/build.sh failed: ${r.stderr.toString()}`);
  builtBinary = out;
  return out;
}

export function appVersion(): string {
  return Bun.spawnSync([appBinary(), "--version"]).stdout.toString().trim();
}

export interface App {
  url: string;
  wsUrl: string;
  pid: number;
  proc: Subprocess;
  /** spawn → /readyz 200 */
  readyMs: number;
  lines: string[];
  stop(): Promise<void>;
}

export interface AppOptions {
  services: { kind: string; namespace: string; name: string }[];
  lockNamespace: string;
  kubeconfig?: string;
  env?: Record<string, string>;
  /** Called right before spawn (e.g. to mark the audit log). */
  beforeSpawn?: () => void;
}

export function writeConfig(name: string, services: AppOptions["services"]): string {
  const path = join(tmp, `${name}.yaml`);
  writeFileSync(path, `services:\n${services.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`);
  return path;
}

export async function startApp(o: AppOptions): Promise<App> {
  const cfg = writeConfig(`config-${o.lockNamespace}-${Date.now()}`, o.services);
  o.beforeSpawn?.();
  const t0 = performance.now();
  const { url, proc, lines } = await spawnApp([appBinary()], {
    cwd: tmp,
    env: {
      CONFIG_FILE_PATH: cfg,
      KUBE_CONFIG_PATH: o.kubeconfig ?? cluster.KUBECONFIG,
      LOCK_NAMESPACE: o.lockNamespace,
      LOG_LEVEL: "info",
      ...o.env,
    },
    listenTimeoutMs: 20_000,
  });
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (performance.now() - t0 > 60_000) throw new Error(`app not ready within 60 s: ${await r?.text()}`);
    await Bun.sleep(5);
  }
  const readyMs = performance.now() - t0;
  return {
    url,
    wsUrl: url.replace(/^http/, "ws"),
    pid: proc.pid,
    proc,
    readyMs,
    lines,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(6000).then(() => proc.kill("SIGKILL"))]);
    },
  };
}

/** A ServiceAccount in `ns` with exactly the Roles the app's own `rbac` subcommand prints, and a kubeconfig using its token. */
export async function appServiceAccount(ns: string, services: AppOptions["services"]): Promise<{ kubeconfig: string; username: string }> {
  const sa = "restart-app";
  await kubectl(["-n", ns, "create", "serviceaccount", sa]);
  const cfg = writeConfig(`rbac-${ns}`, services);
  const r = Bun.spawnSync([appBinary(), "rbac", "--namespace", ns, "--service-account", sa], {
    env: { PATH: process.env.PATH ?? "", CONFIG_FILE_PATH: cfg, LOCK_NAMESPACE: ns },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`rbac subcommand failed: ${r.stderr.toString()}`);
  await kubectl(["apply", "-f", "-"], { input: r.stdout.toString() });
  const token = (await kubectl(["-n", ns, "create", "token", sa, "--duration=2h"])).trim();
  const kubeconfig = join(tmp, `kubeconfig-${ns}`);
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "bench", cluster: { server: cluster.APISERVER, "certificate-authority": cluster.CA_FILE } }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: "bench", context: { cluster: "bench", user: sa, namespace: ns } }],
      "current-context": "bench",
    }),
  );
  return { kubeconfig, username: `system:serviceaccount:${ns}:${sa}` };
}
