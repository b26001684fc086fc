// e2e and browser helpers: the real control plane started by scripts/cluster.sh, kubectl, the app as a real process, its websockets.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import type { Subprocess } from "bun";
import { installSchemaCheck, schemaProblem, streamProblems } from "./api-schema.ts";
import { type ClusterEnv, clusterEnv, ROOT, runKubectl, spawnApp } from "./process.ts";
import { atEndOfRun } from "./teardown.ts";
import { waitFor } from "./wait.ts";

export { ROOT, type ClusterEnv, waitFor };
export const cluster = clusterEnv();

/** The sample workloads of deploy/examples/workloads.yaml that the suites restart (api is left alone). */
export const SAMPLE_SERVICES = [
  { kind: "Deployment", name: "web", namespace: "shop" },
  { kind: "Deployment", name: "frozen", namespace: "shop" },
  { kind: "StatefulSet", name: "db", namespace: "shop" },
  { kind: "DaemonSet", name: "agent", namespace: "shop" },
  { kind: "Deployment", name: "worker", namespace: "billing" },
  { kind: "StatefulSet", name: "ledger", namespace: "billing" },
];

/** Runs the project's kubectl (the one built with the control plane) against the admin kubeconfig. */
export function kubectl(args: string[], opts: { input?: string; kubeconfig?: string; allowFail?: boolean } = {}): Promise<string> {
  return runKubectl(cluster, args, opts);
}

export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, "-o", "json"])) as T;
}

/** `kubectl apply` of these objects as one List. */
export async function applyObjects(items: unknown[]): Promise<void> {
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
}

export function tempDir(prefix = "k8s-restart-app-e2e-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface AppProcess {
  url: string;
  wsUrl: string;
  proc: Subprocess;
  logs(): string[];
  /** Parsed JSON log lines. */
  entries(): Record<string, any>[];
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface StartOptions {
  services?: { kind: string; name: string; namespace: string; [k: string]: unknown }[];
  configYaml?: string;
  env?: Record<string, string>;
  kubeconfig?: string;
  /** Wait for /readyz 200 (default true). */
  waitReady?: boolean;
}

// Apps a test file left running are killed when the whole run ends, whichever file started them.
const running = new Set<AppProcess>();
atEndOfRun(async () => {
  await Promise.all([...running].map((a) => a.stop("SIGKILL")));
});

// Every JSON answer of the app in every e2e suite is checked against the OpenAPI description (src/http/openapi.ts).
installSchemaCheck();
atEndOfRun(() => {
  if (streamProblems.length) throw new Error(`API schema check (streamed bodies):\n${streamProblems.join("\n")}`);
});

/** The command that runs the app: the compiled binary when APP_BIN is set, else bun on the source. */
function appCommand(): string[] {
  if (process.env.APP_BIN) return [process.env.APP_BIN];
  return [process.execPath, "run", join(ROOT, "src/main.ts")];
}

export async function startApp(o: StartOptions = {}): Promise<AppProcess> {
  const dir = tempDir();
  const cfgPath = join(dir, "config.yaml");
  const yaml = o.configYaml ?? `services:\n${(o.services ?? []).map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`;
  writeFileSync(cfgPath, yaml);
  const { url, proc, lines } = await spawnApp(appCommand(), {
    cwd: dir,
    env: {
      CONFIG_FILE_PATH: cfgPath,
      KUBE_CONFIG_PATH: o.kubeconfig ?? cluster.KUBECONFIG,
      LOCK_NAMESPACE: "k8s-restart-app-e2e",
      ...o.env,
    },
    onLine: (line) => {
      if (process.env.E2E_APP_LOGS) console.error(`[app] ${line}`);
    },
  });
  const app: AppProcess = {
    url,
    wsUrl: url.replace(/^http/, "ws"),
    proc,
    logs: () => lines,
    entries: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      }),
    async stop(signal = "SIGTERM") {
      running.delete(app);
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
  running.add(app);
  if (o.waitReady !== false) await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 20_000, "app /readyz");
  return app;
}

/** A websocket client that records every message; `until` waits for one matching a predicate. */
export async function openStatus(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers } as never);
  const messages: string[] = [];
  const waiters: { pred: (m: string) => boolean; resolve: (m: string) => void }[] = [];
  let closed: { code: number; reason: string } | undefined;
  const closedP = new Promise<{ code: number; reason: string }>((r) => {
    ws.onclose = (e) => {
      closed = { code: e.code, reason: e.reason };
      r(closed);
    };
  });
  const checked = new URL(url.replace(/^ws/, "http"));
  ws.onmessage = (e) => {
    const m = String(e.data);
    // The JSON streams' messages are documented on the upgrade (101) as WebSocketMessage: a status or a removal; a mismatch fails the suite.
    if (checked.pathname.startsWith("/api/")) {
      const p = schemaProblem("GET", checked, 101, "application/json", JSON.parse(m));
      if (p) streamProblems.push(`websocket ${url}: ${p}`);
    }
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(m));
  };
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error(`websocket ${url} failed to open`));
  });
  return {
    ws,
    messages,
    closed: () => closed,
    closedP,
    /** Resolves with the first message (at index ≥ `from`) matching `pred`, waiting for it if needed. */
    until(pred: (m: string) => boolean, timeoutMs = 30_000, what = "a matching message", from = 0): Promise<string> {
      const bad = streamProblems.find((p) => p.startsWith(`websocket ${url}:`));
      if (bad) return Promise.reject(new Error(`API schema check: ${bad}`));
      const hit = messages.slice(from).find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}; last messages:\n${messages.slice(-5).join("\n")}`));
          }
        }, timeoutMs);
      });
    },
    close: () => ws.close(),
  };
}

export function writeFile(dir: string, name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Current restartedAt annotation of a workload's pod template. */
export async function restartedAt(kind: string, ns: string, name: string): Promise<string | undefined> {
  const o = await getJson(["-n", ns, "get", kind.toLowerCase(), name]);
  return o.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"];
}

export async function waitRollout(kind: string, ns: string, name: string, timeout = "120s"): Promise<void> {
  await kubectl(["-n", ns, "rollout", "status", `${kind.toLowerCase()}/${name}`, `--timeout=${timeout}`]);
}

/**
 * A kustomize directory moved into `namespace` as a user would re-home it (RoleBinding subjects
 * included, and the Namespace object's own name), with cluster-scoped names given `suffix` so a
 * test copy never collides with the real one; rendered by kubectl and parsed.
 */
export async function renderRehomed(source: string, namespace: string, suffix: string): Promise<Record<string, any>[]> {
  const dir = mkdtempSync(join(tmpdir(), "k8s-restart-app-kustomize-"));
  writeFileSync(
    join(dir, "kustomization.yaml"),
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(dir, source)}
transformers:
  - |-
    apiVersion: builtin
    kind: NamespaceTransformer
    metadata: {name: namespace, namespace: ${namespace}}
    setRoleBindingSubjects: allServiceAccounts
    fieldSpecs: [{path: metadata/namespace, create: true}, {path: metadata/name, kind: Namespace, create: true}]
  - |-
    apiVersion: builtin
    kind: PrefixSuffixTransformer
    metadata: {name: cluster-scoped-suffix}
    suffix: ${suffix}
    fieldSpecs: [{path: metadata/name, kind: ClusterRole}, {path: metadata/name, kind: ClusterRoleBinding}]
`,
  );
  try {
    return parseAllDocuments(await kubectl(["kustomize", dir])).map((d) => d.toJS() as Record<string, any>);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
