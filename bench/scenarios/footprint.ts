// Scenario footprint: start time, memory, idle CPU and size of the compiled app, in-cluster and with a kubeconfig, beside a bare Bun binary.
//
// 200 Deployments in bench-footprint, a config listing them all, and the app's own
// ServiceAccount with the Roles its `rbac` subcommand prints. Variants, each spawned RUNS times:
//   floor        bench/floor.ts, a Bun.serve program compiled with the app's flags (the least any Bun binary costs)
//   floor + TLS  the same, plus one HTTPS request with the ServiceAccount's CA (what Bun's TLS client alone costs)
//   floor + prom-client  the floor plus prom-client loaded, a counter and a gauge registered and rendered once
//                (what keeping prom-client costs: the difference to the floor)
//   in-cluster   the app with KUBERNETES_SERVICE_HOST/PORT and SERVICE_ACCOUNT_DIR (token, ca.crt, namespace)
//   kubeconfig   the app with a kubeconfig holding the same token and CA
// first 200 = spawn → first 200 on /api/v1/service (polled every 2 ms); ready = spawn → /readyz 200
// (floor: its first 200). Then one more start of each variant, side by side, left idle: RSS 3 s
// after spawn, CPU from 3 s to 63 s (/proc/<pid>/stat), RSS at 63 s.
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  applyAndWait, appBinary, appServiceAccount, BUN, cluster, deleteNamespace, deployment, freshNamespace, log, ROOT, serviceList, tmp, writeConfig,
} from "../lib.ts";
import { MEASURED_SEPARATELY, measured, ORIGINAL } from "../original.ts";
import { median, procStats, type Row, type ScenarioResult } from "../stats.ts";

const NS = "bench-footprint";
const SERVICES = Number(process.env.FOOTPRINT_SERVICES ?? 200);
const RUNS = Number(process.env.FOOTPRINT_RUNS ?? 10);
const IDLE_SEC = Number(process.env.FOOTPRINT_IDLE_SEC ?? 60);
const TARGETS = { firstMs: 50, rssMiB: 45, cpuMsPerMin: 100 };
// The original's idle CPU was measured with 5 websocket clients (bench/original.ts): not comparable here.

type Variant = "floor" | "floor + TLS" | "floor + prom-client" | "in-cluster" | "kubeconfig";
const VARIANTS: Variant[] = ["floor", "floor + TLS", "floor + prom-client", "in-cluster", "kubeconfig"];

/** RSS split as the kernel counts it: anonymous memory (heaps, stacks) and pages of the mapped binary (clean, shared, reclaimable). */
function rssSplitMiB(pid: number): { anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { anon: Math.round(kb("RssAnon") / 102.4) / 10, file: Math.round(kb("RssFile") / 102.4) / 10 };
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  await s.stop(true);
  return p;
}

async function until(url: string, t0: number, deadlineMs = 60_000): Promise<number> {
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > deadlineMs) throw new Error(`${url}: no 200 within ${deadlineMs} ms`);
    await Bun.sleep(2);
  }
}

function buildFloor(): string {
  const out = join(tmp, "floor");
  // The app's flags (scripts/build.sh), so the difference is the app, not the build.
  const r = Bun.spawnSync(
    [BUN, "build", "bench/floor.ts", "--compile", "--target=bun", "--splitting", "--minify", "--sourcemap", "--bytecode", "--format=esm",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--outfile", out],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`building the floor failed: ${r.stderr.toString()}`);
  return out;
}

export async function footprint(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(3, "0")}`);
  const services = serviceList(NS, names);
  await freshNamespace(NS);
  try {
    log(`footprint: creating ${SERVICES} Deployments in ${NS}`);
    await applyAndWait(NS, names.map((n) => deployment(NS, n)));
    const { kubeconfig, username } = await appServiceAccount(NS, services);
    // In-cluster files from the same ServiceAccount token: both modes run as the same identity.
    const token = JSON.parse(readFileSync(kubeconfig, "utf8")).users[0].user.token as string;
    const saDir = join(tmp, "serviceaccount");
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, "token"), token);
    copyFileSync(cluster.CA_FILE, join(saDir, "ca.crt"));
    writeFileSync(join(saDir, "namespace"), NS);
    const api = new URL(cluster.APISERVER);
    const config = writeConfig("footprint-services", services);
    const app = appBinary();
    const floor = buildFloor();
    const inCluster = { KUBE_CONFIG_PATH: "", SERVICE_ACCOUNT_DIR: saDir, KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port || "443" };

    const command = (v: Variant): { bin: string; env: Record<string, string> } => {
      if (v === "floor") return { bin: floor, env: {} };
      if (v === "floor + TLS") return { bin: floor, env: { FLOOR_TLS: "1", ...inCluster } };
      if (v === "floor + prom-client") return { bin: floor, env: { FLOOR_PROM: "1" } };
      if (v === "in-cluster") return { bin: app, env: inCluster };
      return { bin: app, env: { KUBE_CONFIG_PATH: kubeconfig } };
    };

    async function spawn(v: Variant) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const { bin, env } = command(v);
      const t0 = performance.now();
      const proc = Bun.spawn([bin], {
        cwd: tmp,
        env: {
          PATH: process.env.PATH ?? "",
          LISTEN_ADDRESS: `127.0.0.1:${port}`,
          LISTEN_MONITORING_ADDRESS: "",
          CONFIG_FILE_PATH: config,
          LOCK_NAMESPACE: NS,
          LOG_LEVEL: "warn",
          ...env,
        },
        stdout: "ignore",
        stderr: "pipe",
      });
      const stop = async () => {
        if (proc.exitCode === null) proc.kill("SIGTERM");
        await Promise.race([proc.exited, Bun.sleep(6000).then(() => proc.kill("SIGKILL"))]);
      };
      try {
        const firstMs = await until(`${base}/api/v1/service`, t0);
        const readyMs = v.startsWith("floor") ? firstMs : await until(`${base}/readyz`, t0);
        return { proc, t0, firstMs, readyMs, stop };
      } catch (e) {
        proc.kill("SIGKILL");
        throw new Error(`${v}: ${(e as Error).message}\n${await new Response(proc.stderr).text()}`);
      }
    }

    const starts: Record<string, { firstMs: number[]; readyMs: number[] }> = {};
    for (const v of VARIANTS) {
      // One start first warms the page cache, so the samples are not disk reads of a 100 MB file.
      await (await spawn(v)).stop();
      starts[v] = { firstMs: [], readyMs: [] };
      for (let i = 0; i < RUNS; i++) {
        const s = await spawn(v);
        starts[v]!.firstMs.push(Math.round(s.firstMs * 10) / 10);
        starts[v]!.readyMs.push(Math.round(s.readyMs * 10) / 10);
        await s.stop();
      }
      log(`footprint: ${v}: first 200 median ${median(starts[v]!.firstMs).toFixed(0)} ms, ready median ${median(starts[v]!.readyMs).toFixed(0)} ms`);
    }

    log(`footprint: all variants idle side by side for ${IDLE_SEC} s`);
    const running = await Promise.all(VARIANTS.map(spawn));
    const idle: Record<string, { rss3sMiB: number; rssEndMiB: number; split3s: { anon: number; file: number }; splitEnd: { anon: number; file: number }; cpuMs: number; cpuMsPerMin: number }> = {};
    try {
      await Promise.all(
        running.map(async (r, i) => {
          await Bun.sleep(Math.max(0, r.t0 + 3000 - performance.now()));
          const a = procStats(r.proc.pid);
          const split3s = rssSplitMiB(r.proc.pid);
          await Bun.sleep(IDLE_SEC * 1000);
          const b = procStats(r.proc.pid);
          const splitEnd = rssSplitMiB(r.proc.pid);
          const cpuMs = b.cpuMs - a.cpuMs;
          idle[VARIANTS[i]!] = { rss3sMiB: a.rssKb / 1024, rssEndMiB: b.rssKb / 1024, split3s, splitEnd, cpuMs, cpuMsPerMin: (cpuMs * 60) / IDLE_SEC };
        }),
      );
    } finally {
      await Promise.all(running.map((r) => r.stop()));
    }

    const size = { app: statSync(app).size, floor: statSync(floor).size };
    const ms = (x: number) => `${x.toFixed(0)} ms`;
    const mib = (x: number) => `${x.toFixed(1)} MiB`;
    const target = (value: number, limit: number) => (value < limit ? "met" : `MISSED by ${(value - limit).toFixed(1)}`);
    const others = (f: (v: Variant) => string) => `kubeconfig ${f("kubeconfig")}; floor ${f("floor")}; floor + TLS ${f("floor + TLS")}; floor + prom-client ${f("floor + prom-client")}`;
    const promCost = (at: "rss3sMiB" | "rssEndMiB") => idle["floor + prom-client"]![at] - idle.floor![at];
    const first = (v: Variant) => median(starts[v]!.firstMs);
    const ready = (v: Variant) => median(starts[v]!.readyMs);
    const rows: Row[] = [
      {
        metric: `start → first 200 on /api/v1/service, in-cluster, median of ${RUNS}`,
        ours: ms(first("in-cluster")),
        original: measured(`${ORIGINAL.firstResponseMs} ms, median of 5`),
        ratio: "",
        note: `target < ${TARGETS.firstMs} ms: ${target(first("in-cluster"), TARGETS.firstMs)}; ${others((v) => ms(first(v)))}`,
      },
      {
        metric: `start → ready (/readyz 200), ${SERVICES} services, in-cluster, median of ${RUNS}`,
        ours: ms(ready("in-cluster")),
        original: "",
        ratio: "",
        note: `kubeconfig ${ms(ready("kubeconfig"))}`,
      },
      {
        metric: `idle RSS 3 s after start, ${SERVICES} services, in-cluster`,
        ours: mib(idle["in-cluster"]!.rss3sMiB),
        original: measured(`${ORIGINAL.idleRssMiB} MiB`),
        ratio: "",
        note: `target < ${TARGETS.rssMiB} MiB: ${target(idle["in-cluster"]!.rss3sMiB, TARGETS.rssMiB)}; ${others((v) => mib(idle[v]!.rss3sMiB))}`,
      },
      {
        metric: `idle RSS ${3 + IDLE_SEC} s after start, ${SERVICES} services, in-cluster`,
        ours: mib(idle["in-cluster"]!.rssEndMiB),
        original: measured(`${ORIGINAL.idleRssMiB} MiB`),
        ratio: "",
        note: `target < ${TARGETS.rssMiB} MiB: ${target(idle["in-cluster"]!.rssEndMiB, TARGETS.rssMiB)}; ${others((v) => mib(idle[v]!.rssEndMiB))}; anon + binary pages: in-cluster ${idle["in-cluster"]!.splitEnd.anon} + ${idle["in-cluster"]!.splitEnd.file}, floor ${idle.floor!.splitEnd.anon} + ${idle.floor!.splitEnd.file} MiB`,
      },
      {
        metric: "RSS cost of prom-client (floor + prom-client minus floor; no default metrics)",
        ours: mib(promCost("rssEndMiB")),
        original: "",
        ratio: "",
        note: `3 s after start ${mib(promCost("rss3sMiB"))}; anon + binary pages: floor + prom-client ${idle["floor + prom-client"]!.splitEnd.anon} + ${idle["floor + prom-client"]!.splitEnd.file}, floor ${idle.floor!.splitEnd.anon} + ${idle.floor!.splitEnd.file} MiB`,
      },
      {
        metric: `idle CPU over ${IDLE_SEC} s (3 s after start), ${SERVICES} services, in-cluster, no clients`,
        ours: `${idle["in-cluster"]!.cpuMsPerMin.toFixed(0)} ms/min`,
        original: "",
        ratio: "",
        note: `target < ${TARGETS.cpuMsPerMin} ms/min: ${target(idle["in-cluster"]!.cpuMsPerMin, TARGETS.cpuMsPerMin)}; ${others((v) => `${idle[v]!.cpuMsPerMin.toFixed(0)} ms/min`)} (10 ms ticks)`,
      },
      {
        metric: "binary size",
        ours: `${(size.app / 1e6).toFixed(1)} MB`,
        original: measured(`${ORIGINAL.binaryMB} MB`),
        ratio: "",
        note: `floor ${(size.floor / 1e6).toFixed(1)} MB (the Bun runtime)`,
      },
    ];
    return {
      rows,
      details: { services: SERVICES, runs: RUNS, idleSec: IDLE_SEC, identity: username, targets: TARGETS, original: { firstResponseMs: ORIGINAL.firstResponseMs, idleRssMiB: ORIGINAL.idleRssMiB, binaryMB: ORIGINAL.binaryMB, source: MEASURED_SEPARATELY }, starts, idle, sizeBytes: size },
    };
  } finally {
    await deleteNamespace(NS);
  }
}
