// Scenario fanout: 1,000 / 5,000 / 10,000 websocket clients (bench/fanout-client.ts, another process) of one service; one change reaches all.
//
// Per level: a fresh app with a 1-service config; the client process connects N sockets to
// /api/v1/service/Deployment/bench-fanout/web/status in batches; then ROUNDS times the bench
// scales the Deployment (1 → 2 → 1 …) with its own PATCH, stamping the moment just before the
// request ("trigger"), and every client stamps the first frame showing the new `desired`. The
// latency per client is arrival − trigger: API server write → watch event → the app's status
// hub → server.publish → loopback → the client process's event loop, which must drain N sockets
// on the same 2 cores as the app and the control plane. "spread" = last − first arrival isolates
// the fan-out itself from the API server/watch part.
import { join } from "node:path";
import { applyAndWait, BUN, kubectl, deleteNamespace, deployment, freshNamespace, log, nowMs, observerClient, readLines, ROOT, startApp } from "../lib.ts";
import { cpuByCommand, cpuDelta, procStats, summarize, type Row, type ScenarioResult } from "../stats.ts";
import { MEASURED_SEPARATELY, measured, ORIGINAL } from "../original.ts";

const NS = "bench-fanout";
const NAME = "web";
const LEVELS = (process.env.FANOUT_LEVELS ?? "1000,5000,10000").split(",").map(Number);
const ROUNDS = Number(process.env.FANOUT_ROUNDS ?? 5);
/** Client processes per level: 1, the single client process the scenario is defined with. */
const PROCS = Number(process.env.FANOUT_PROCS ?? 1);
/** A last profiling run at the largest level with this many client processes (0 = none): how much of the time is the client's. */
const PROFILE_PROCS = Number(process.env.FANOUT_PROFILE_PROCS ?? 2);
const TARGET_P99_MS = 250;
const TARGET_RSS_MB = 300;

type Msg = { connected?: number; ms?: number; armed?: number; result?: number; arrivals?: number[]; missing?: number; cpuMs?: number };

/** One client process and a reader of its JSON lines. */
function spawnClient(url: string, n: number) {
  const proc = Bun.spawn([BUN, join(ROOT, "bench/fanout-client.ts"), url, String(n)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const queue: Msg[] = [];
  let wake: (() => void) | undefined;
  void readLines(proc.stdout as ReadableStream<Uint8Array>, (line) => {
    queue.push(JSON.parse(line));
    wake?.();
  }).then(() => wake?.());
  const stderr = new Response(proc.stderr).text();
  return {
    proc,
    async next(timeoutMs: number): Promise<Msg> {
      const end = Date.now() + timeoutMs;
      while (queue.length === 0) {
        if (proc.exitCode !== null) throw new Error(`fanout client exited ${proc.exitCode}: ${await stderr}`);
        if (Date.now() > end) throw new Error(`fanout client: no message within ${timeoutMs} ms`);
        await new Promise<void>((r) => ((wake = r), setTimeout(r, 200)));
      }
      return queue.shift()!;
    },
    send(line: string) {
      (proc.stdin as import("bun").FileSink).write(`${line}\n`);
      (proc.stdin as import("bun").FileSink).flush();
    },
  };
}

async function scale(client: ReturnType<typeof observerClient>, replicas: number): Promise<void> {
  await client.request(
    { method: "PATCH", path: `/apis/apps/v1/namespaces/${NS}/deployments/${NAME}`, body: { spec: { replicas } }, contentType: "application/merge-patch+json" },
    `scale ${NS}/${NAME} to ${replicas}`,
  );
}

async function level(n: number, procs: number) {
  const client = observerClient();
  // Every level starts from 1 replica: round 1 scales to 2, so its frames always carry a new `desired`.
  await scale(client, 1);
  await kubectl(["-n", NS, "rollout", "status", `deployment/${NAME}`, "--timeout=60s"]);
  const app = await startApp({ services: [{ kind: "Deployment", namespace: NS, name: NAME }], lockNamespace: NS });
  try {
    await Bun.sleep(1000);
    const idle = procStats(app.pid);
    const url = `${app.wsUrl}/api/v1/service/Deployment/${NS}/${NAME}/status`;
    const per = Math.ceil(n / procs);
    const clients = Array.from({ length: procs }, (_, i) => spawnClient(url, Math.min(per, n - i * per)));
    const connected = await Promise.all(clients.map((c) => c.next(180_000)));
    await Bun.sleep(2000);
    const held = procStats(app.pid);
    log(`fanout ${n}: connected in ${Math.max(...connected.map((c) => c.ms!))} ms; app RSS ${(held.rssKb / 1024).toFixed(1)} MiB`);
    let replicas = 1;
    const rounds = [];
    const pooled: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      replicas = replicas === 1 ? 2 : 1;
      for (const c of clients) c.send(`arm ${r} "desired":${replicas},`);
      for (const c of clients) await c.next(10_000);
      const labels = { [app.pid]: "app", [process.pid]: "bench runner", ...Object.fromEntries(clients.map((c) => [c.proc.pid, "fanout client"])) };
      const machine0 = cpuByCommand(labels);
      const before = procStats(app.pid);
      const trigger = nowMs();
      await scale(client, replicas);
      const patchedMs = nowMs() - trigger;
      const results = await Promise.all(clients.map((c) => c.next(30_000)));
      const after = procStats(app.pid);
      const machine = cpuDelta(machine0, cpuByCommand(labels));
      const arrivals = results.flatMap((x) => x.arrivals!);
      const latencies = arrivals.map((t) => t - trigger);
      pooled.push(...latencies);
      const latency = summarize(latencies);
      const spread = Math.max(...arrivals) - Math.min(...arrivals);
      rounds.push({
        replicas,
        latencyMs: latency,
        spreadMs: Math.round(spread * 10) / 10,
        patchResponseMs: Math.round(patchedMs * 10) / 10,
        missing: results.reduce((a, x) => a + x.missing!, 0),
        appCpuMs: after.cpuMs - before.cpuMs,
        clientCpuMs: results.reduce((a, x) => a + x.cpuMs!, 0),
        // Whole machine, trigger → last arrival, per command (10 ms ticks): the control plane reacting to the scale competes for the same 2 cores.
        machineCpuMs: machine,
      });
      log(`fanout ${n} round ${r + 1}: p50 ${latency.p50.toFixed(1)} p99 ${latency.p99.toFixed(1)} max ${latency.max.toFixed(1)} ms, spread ${spread.toFixed(1)} ms, missing ${rounds.at(-1)!.missing}`);
      // Let the scale finish (pods created/removed) before the next round's marker.
      await Bun.sleep(3000);
    }
    const end = procStats(app.pid);
    for (const c of clients) c.proc.kill();
    await Promise.all(clients.map((c) => c.proc.exited));
    const all = rounds.map((r) => r.latencyMs);
    return {
      clients: n,
      clientProcesses: procs,
      pooled: summarize(pooled),
      connectMs: Math.max(...connected.map((c) => c.ms!)),
      rssKb: { idle: idle.rssKb, connected: held.rssKb, end: end.rssKb },
      rssPerSocketKb: Math.round(((held.rssKb - idle.rssKb) / n) * 100) / 100,
      appCpuMsConnecting: held.cpuMs - idle.cpuMs,
      rounds,
      worst: { p50: Math.max(...all.map((x) => x.p50)), p99: Math.max(...all.map((x) => x.p99)), max: Math.max(...all.map((x) => x.max)) },
    };
  } finally {
    await app.stop();
  }
}

export async function fanout(): Promise<ScenarioResult> {
  await freshNamespace(NS);
  try {
    await applyAndWait(NS, [deployment(NS, NAME, { replicas: 1 })]);
    const levels = [];
    for (const n of LEVELS) levels.push(await level(n, PROCS));
    const biggest = Math.max(...LEVELS);
    if (PROFILE_PROCS > 1) levels.push(await level(biggest, PROFILE_PROCS));
    const rows: Row[] = [];
    for (const l of levels) {
      const profile = l.clientProcesses !== PROCS;
      const big = l.clients === biggest && !profile;
      const peak = Math.max(l.rssKb.connected, l.rssKb.end) / 1024;
      const r0 = l.rounds.reduce((a, r) => (r.latencyMs.p99 > a.latencyMs.p99 ? r : a));
      const missing = l.rounds.reduce((a, r) => a + r.missing, 0);
      const who = `${l.clients} clients${profile ? ` in ${l.clientProcesses} client processes (profile)` : ""}`;
      rows.push({
        metric: `${who}: trigger → frame, worst of ${ROUNDS} rounds`,
        ours: `p50 ${l.worst.p50.toFixed(0)} / p99 ${l.worst.p99.toFixed(0)} / max ${l.worst.max.toFixed(0)} ms`,
        original: "",
        ratio: "",
        note: [
          big ? `target p99 < ${TARGET_P99_MS} ms: ${l.worst.p99 < TARGET_P99_MS && missing === 0 ? "met" : "MISSED"}` : "",
          `all rounds pooled p50 ${l.pooled.p50.toFixed(0)} / p99 ${l.pooled.p99.toFixed(0)} ms`,
          `worst round: spread ${r0.spreadMs} ms, CPU ${Object.entries(r0.machineCpuMs).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(", ")} ms`,
          `missing ${missing}`,
        ].filter(Boolean).join("; "),
      });
      if (profile) continue;
      rows.push({
        metric: `${who}: app RSS idle → connected → end`,
        ours: `${(l.rssKb.idle / 1024).toFixed(0)} → ${(l.rssKb.connected / 1024).toFixed(0)} → ${(l.rssKb.end / 1024).toFixed(0)} MiB`,
        original: l.clients === 1000 ? measured(`${ORIGINAL.rss1000ClientsMiB} MiB with 1,000 clients`) : "",
        ratio: "",
        note: `${big ? `target < ${TARGET_RSS_MB} MB: ${peak < TARGET_RSS_MB ? "met" : "MISSED"}; ` : ""}${l.rssPerSocketKb} KiB/socket; all connected in ${l.connectMs} ms (app CPU ${l.appCpuMsConnecting} ms)`,
      });
    }
    return {
      rows,
      details: {
        levels,
        rounds: ROUNDS,
        clientProcesses: PROCS,
        profileClientProcesses: PROFILE_PROCS,
        trigger: "merge-PATCH of spec.replicas by the bench (1 → 2 → 1 …); latency = frame arrival in the client process − moment before the PATCH was sent",
        original: { source: MEASURED_SEPARATELY, rss1000ClientsMiB: ORIGINAL.rss1000ClientsMiB },
      },
    };
  } finally {
    await deleteNamespace(NS);
  }
}
