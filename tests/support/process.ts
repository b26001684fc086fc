// Plain helpers shared by the e2e suites and the benchmarks (no bun:test here, so bench/ can import it): the cluster's env file, kubectl, the app as a process.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");

export interface ClusterEnv {
  APISERVER: string;
  CA_FILE: string;
  CLIENT_CERT_FILE: string;
  CLIENT_KEY_FILE: string;
  KUBECONFIG: string;
  AUDIT_LOG: string;
  KUBECTL: string;
  [k: string]: string;
}

/**
 * The running cluster's description (.cluster/env, or CLUSTER_ENV_FILE). A missing cluster is an
 * error, never a skip: `make test` starts one, and a green run must mean it really ran against it.
 */
export function clusterEnv(): ClusterEnv {
  const file = process.env.CLUSTER_ENV_FILE ?? join(ROOT, ".cluster/env");
  if (!existsSync(file)) throw new Error(`no running control plane: ${file} is missing (run: make cluster-up)`);
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  for (const k of ["APISERVER", "KUBECONFIG", "KUBECTL", "CA_FILE", "AUDIT_LOG"]) if (!out[k]) throw new Error(`${file}: ${k} is missing`);
  return out as ClusterEnv;
}

/** Runs the cluster's kubectl (the one built with the control plane) with the admin kubeconfig unless told otherwise. */
export async function runKubectl(
  cluster: ClusterEnv,
  args: string[],
  opts: { input?: string; kubeconfig?: string; allowFail?: boolean } = {},
): Promise<string> {
  const p = Bun.spawn([cluster.KUBECTL, "--kubeconfig", opts.kubeconfig ?? cluster.KUBECONFIG, ...args], {
    stdin: opts.input !== undefined ? new Blob([opts.input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 && !opts.allowFail) throw new Error(`kubectl ${args.join(" ").slice(0, 300)} failed (${code}): ${err.trim()}`);
  return out;
}

/** Calls onLine for every complete line of a byte stream; resolves when the stream ends. */
export async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  }
}

export interface SpawnedApp {
  /** http://127.0.0.1:<port>, from the app's own "listening" log line. */
  url: string;
  proc: Subprocess;
  /** Every line the app printed (stdout and stderr), in order. */
  lines: string[];
}

/**
 * Starts the app and resolves once it says where it listens. Every instance listens on free
 * loopback ports (the monitoring listener too), so several can run side by side.
 */
export async function spawnApp(
  cmd: string[],
  o: { cwd: string; env: Record<string, string>; listenTimeoutMs?: number; onLine?: (line: string) => void },
): Promise<SpawnedApp> {
  const lines: string[] = [];
  const proc = Bun.spawn(cmd, {
    cwd: o.cwd,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      LISTEN_ADDRESS: "127.0.0.1:0",
      LISTEN_MONITORING_ADDRESS: "127.0.0.1:0",
      ...o.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  let resolveUrl!: (u: string) => void;
  const urlP = new Promise<string>((r) => (resolveUrl = r));
  const onLine = (line: string) => {
    lines.push(line);
    o.onLine?.(line);
    if (!line.includes('"msg":"listening"')) return;
    try {
      resolveUrl(JSON.parse(line).url.replace(/\/$/, ""));
    } catch {}
  };
  void readLines(proc.stdout as ReadableStream<Uint8Array>, onLine);
  void readLines(proc.stderr as ReadableStream<Uint8Array>, onLine);
  const limit = o.listenTimeoutMs ?? 15_000;
  const url = await Promise.race([
    urlP,
    proc.exited.then((c) => Promise.reject(new Error(`app exited with ${c} before listening:\n${lines.join("\n")}`))),
    Bun.sleep(limit).then(() => Promise.reject(new Error(`app did not listen within ${limit} ms:\n${lines.join("\n")}`))),
  ]);
  return { url, proc, lines };
}
