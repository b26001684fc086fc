// Benchmark (not a test), the start-up footprint of each build variant: binary size, start → first served request, start → ready, idle and loaded RSS.
//
// Runs the app against the running control plane (.cluster/env) with the sample config
// (deploy/examples/config.yaml: 7 services in 2 namespaces), RUNS times per variant:
//   compiled   dist/k8s-restart-app as scripts/build.sh makes it (--minify --sourcemap --bytecode --format=esm)
//   plain      `bun build --compile` with no other flag (what the flags buy)
//   bun run    `bun run src/main.ts` (development)
// "first response" is spawn → first HTTP 200 from /healthz (polled every 2 ms); "ready" is
// spawn → /readyz 200 (every watch cache listed and watching); RSS is VmRSS 2 s after ready with
// no client connected, and VmHWM (peak RSS) at that moment. A last row loads the compiled binary
// with SOCKETS page websockets (/ui/status) held open plus PAGES GETs of / (10 at a time) and
// reports RSS 2 s later: the numbers deploy/base/deployment.yaml sizes its memory from.
//
// Usage: node_modules/.bin/bun bench/startup-footprint.ts   (RUNS=10 VARIANTS=compiled,plain,bun-run SOCKETS=1000 PAGES=1000)
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { clusterEnv } from "../tests/support/process.ts";

const ROOT = resolve(import.meta.dir, "..");
const RUNS = Number(process.env.RUNS ?? 10);
const VARIANTS = (process.env.VARIANTS ?? "compiled,plain,bun-run").split(",");
const SOCKETS = Number(process.env.SOCKETS ?? 1000);
const PAGES = Number(process.env.PAGES ?? 1000);
const env = clusterEnv();
// START_CONFIG: another services file (default: the sample config); APP_BIN: time this binary
// instead of building one for the "compiled" variant.
const CONFIG = process.env.START_CONFIG ?? join(ROOT, "deploy/examples/config.yaml");

const tmp = mkdtempSync(join(tmpdir(), "k8s-restart-app-bench-"));
const bun = join(ROOT, "node_modules/.bin/bun");

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
}

function variantCommand(v: string): string[] {
  if (v === "compiled") {
    if (process.env.APP_BIN) return [resolve(process.env.APP_BIN)];
    const out = join(tmp, "compiled");
    run([join(ROOT, "scripts/build.sh"), out]);
    return [out];
  }
  if (v === "plain") {
    const out = join(tmp, "plain");
    run([bun, "build", "src/main.ts", "--compile", "--outfile", out]);
    return [out];
  }
  if (v === "bun-run") return [bun, "run", join(ROOT, "src/main.ts")];
  throw new Error(`unknown variant ${v}`);
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  await s.stop(true);
  return p;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

async function until(url: string, t0: number, deadlineMs = 20_000): Promise<number> {
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > deadlineMs) throw new Error(`${url}: no 200 within ${deadlineMs} ms`);
    await Bun.sleep(2);
  }
}

interface Sample {
  firstMs: number;
  readyMs: number;
  rssKb: number;
  hwmKb: number;
}

/** Holds SOCKETS websockets open and fetches / PAGES times while the app runs. */
async function load(base: string): Promise<() => void> {
  const sockets: WebSocket[] = [];
  const wsUrl = `${base.replace(/^http/, "ws")}/ui/status`;
  for (let i = 0; i < SOCKETS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, SOCKETS - i) }, () => {
        const ws = new WebSocket(wsUrl);
        sockets.push(ws);
        // The server sends the full state on open: count a socket once that has arrived.
        return new Promise<void>((res, rej) => {
          ws.onmessage = () => res();
          ws.onerror = () => rej(new Error(`websocket ${wsUrl} failed`));
        });
      }),
    );
  }
  let next = 0;
  const worker = async () => {
    while (next++ < PAGES) {
      const r = await fetch(`${base}/`);
      if (r.status !== 200) throw new Error(`GET / answered ${r.status}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return () => sockets.forEach((ws) => ws.close());
}

async function once(cmd: string[], loaded = false): Promise<Sample> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const p = Bun.spawn(cmd, {
    cwd: tmp,
    env: {
      PATH: process.env.PATH ?? "",
      LISTEN_ADDRESS: `127.0.0.1:${port}`,
      // The second listener (/metrics, /healthz, /readyz) on a free port: the default :6060 would
      // collide with any other instance on this machine.
      LISTEN_MONITORING_ADDRESS: "127.0.0.1:0",
      CONFIG_FILE_PATH: CONFIG,
      KUBE_CONFIG_PATH: env.KUBECONFIG,
      LOCK_NAMESPACE: "k8s-restart-app-bench",
      LOG_LEVEL: "error",
      // Every socket here comes from one address: lift the per-address cap (100 by default).
      WEBSOCKET_MAX_PER_ADDRESS: "0",
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  try {
    const firstMs = await until(`${base}/healthz`, t0);
    const readyMs = await until(`${base}/readyz`, t0);
    const unload = loaded ? await load(base) : () => {};
    await Bun.sleep(2000);
    const sample = { firstMs, readyMs, rssKb: statusKb(p.pid, "VmRSS"), hwmKb: statusKb(p.pid, "VmHWM") };
    unload();
    return sample;
  } catch (e) {
    p.kill("SIGKILL");
    throw new Error(`${cmd.join(" ")}: ${(e as Error).message}\n${await new Response(p.stderr).text()}`);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const rows: string[][] = [["variant", "binary size", "first response (median)", "min..max", "ready (median)", "idle RSS (median)", "peak RSS (max)"]];
try {
  for (const v of VARIANTS) {
    const cmd = variantCommand(v);
    const size = v === "bun-run" ? "-" : mb(statSync(cmd[0]!).size);
    await once(cmd); // warm the page cache so the first run is not an outlier of disk reads
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) samples.push(await once(cmd));
    const first = samples.map((s) => s.firstMs);
    rows.push([
      v,
      size,
      `${median(first).toFixed(0)} ms`,
      `${Math.min(...first).toFixed(0)}..${Math.max(...first).toFixed(0)} ms`,
      `${median(samples.map((s) => s.readyMs)).toFixed(0)} ms`,
      mb(median(samples.map((s) => s.rssKb)) * 1024),
      mb(Math.max(...samples.map((s) => s.hwmKb)) * 1024),
    ]);
    if (v === "compiled" && SOCKETS + PAGES > 0) {
      const s = await once(cmd, true);
      rows.push([`compiled, ${SOCKETS} ws + ${PAGES} GET /`, size, "", "", "", mb(s.rssKb * 1024), mb(s.hwmKb * 1024)]);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`k8s-restart-app start-up footprint: ${RUNS} runs per variant, ${env.APISERVER}, ${CONFIG}`);
console.log(line(rows[0]!));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const r of rows.slice(1)) console.log(line(r));
