// Scenario slow-readers: 10,000 websocket clients that never read, at 300 services, must keep the app under the manifest's 256 MiB limit.
//
// A client that never reads used to get the whole page state (≈ 330 KB of HTML at 300
// services) buffered in the app: 2,500 such sockets took it to 1 GiB. Now the state is handed
// over one message at a time as the client takes it, renderings are shared, and a socket that
// falls WEBSOCKET_BUFFER_BYTES behind is closed. The client (bench/slow-client.py, its own
// process) opens the sockets to /ui/status from one address (WEBSOCKET_MAX_PER_ADDRESS=0 for the
// run, since they all come from 127.0.0.1), keeps its receive buffers small and never reads.
// The app's RSS is sampled every 250 ms while they connect and for HOLD_S after; meanwhile a
// normal reading client must still get all 300 statuses and /healthz must still answer.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { applyAndWait, deleteNamespace, deployment, freshNamespace, log, readLines, ROOT, serviceList, startApp } from "../lib.ts";
import { procStats, type ScenarioResult } from "../stats.ts";

const NS = "bench-slow";
const SERVICES = Number(process.env.SLOW_SERVICES ?? 300);
const SOCKETS = Number(process.env.SLOW_SOCKETS ?? 10_000);
const HOLD_S = Number(process.env.SLOW_HOLD_S ?? 20);
const LIMIT_MIB = 256;
/** All TCP socket buffers on the machine (kernel memory, both ends of every connection), MiB. */
const tcpKernelMib = () => (Number(/^TCP:.* mem (\d+)/m.exec(readFileSync("/proc/net/sockstat", "utf8"))?.[1] ?? 0) * 4096) / 2 ** 20;

async function readingClient(url: string, expect: number): Promise<{ ms: number; got: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let got = 0;
    const timer = setTimeout(() => (ws.close(), resolve({ ms: -1, got })), 30_000);
    ws.onmessage = (e) => {
      got += (String(e.data).match(/id="state-/g) ?? []).length;
      if (got >= expect) (clearTimeout(timer), ws.close(), resolve({ ms: Math.round(performance.now() - t0), got }));
    };
    ws.onerror = () => (clearTimeout(timer), reject(new Error("reading client failed")));
  });
}

export async function slowReaders(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `s-${String(i).padStart(3, "0")}`);
  await freshNamespace(NS);
  try {
    log(`slow-readers: creating ${SERVICES} Deployments (0 replicas) in ${NS}`);
    await applyAndWait(NS, names.map((n) => ({ ...deployment(NS, n), spec: { ...deployment(NS, n).spec, replicas: 0 } })));
    const app = await startApp({ services: serviceList(NS, names), lockNamespace: NS, env: { WEBSOCKET_MAX_PER_ADDRESS: "0", LISTEN_MONITORING_ADDRESS: "" } });
    try {
      await Bun.sleep(1000);
      const idle = procStats(app.pid);
      const tcp0 = tcpKernelMib();
      const u = new URL(app.url);
      let peakKb = idle.rssKb;
      const sampler = setInterval(() => (peakKb = Math.max(peakKb, procStats(app.pid).rssKb)), 250);
      const client = Bun.spawn(["python3", join(ROOT, "bench/slow-client.py"), u.hostname, u.port, "/ui/status", String(SOCKETS)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const lines: string[] = [];
      const reading = readLines(client.stdout as ReadableStream<Uint8Array>, (l) => void lines.push(l));
      for (const end = Date.now() + 180_000; lines.length === 0; await Bun.sleep(100)) {
        if (client.exitCode !== null) throw new Error(`slow client exited ${client.exitCode}: ${await new Response(client.stderr).text()}`);
        if (Date.now() > end) throw new Error("slow client: not connected within 180 s");
      }
      const conn = JSON.parse(lines[0]!) as { connected: number; failed: number; ms: number };
      log(`slow-readers: ${conn.connected} sockets open (${conn.failed} failed) in ${conn.ms} ms; app RSS ${(procStats(app.pid).rssKb / 1024).toFixed(1)} MiB`);
      await Bun.sleep(5000);
      const tcpHeld = tcpKernelMib() - tcp0;
      await Bun.sleep(Math.max(0, HOLD_S * 1000 - 5000));
      const watchers = async () => Number(/restart_app_connected_status_watchers\{[^}]*name="s-000"[^}]*\} (\d+)/.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1] ?? -1);
      const openAfterHold = await watchers();
      const t0 = performance.now();
      const health = (await fetch(`${app.url}/healthz`)).status;
      const healthMs = Math.round(performance.now() - t0);
      const reader = await readingClient(`${app.wsUrl}/ui/status`, SERVICES);
      const held = procStats(app.pid);
      peakKb = Math.max(peakKb, held.rssKb);
      clearInterval(sampler);
      (client.stdin as import("bun").FileSink).write("close\n");
      (client.stdin as import("bun").FileSink).end();
      await Promise.race([client.exited, Bun.sleep(10_000)]);
      void reading;
      const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10;
      log(`slow-readers: peak RSS ${mib(peakKb)} MiB (limit ${LIMIT_MIB}); ${openAfterHold} sockets still open after ${HOLD_S} s`);
      const note = `${SOCKETS} never-reading /ui/status sockets, ${SERVICES} services`;
      return {
        rows: [
          { metric: "RSS idle (MiB)", ours: String(mib(idle.rssKb)), original: "", ratio: "—", note: `${SERVICES} services` },
          { metric: "RSS peak with slow readers (MiB)", ours: String(mib(peakKb)), original: "", ratio: "—", note: `${note}; limit ${LIMIT_MIB} Mi: ${mib(peakKb) < LIMIT_MIB ? "under" : "OVER"}` },
          { metric: "kernel TCP buffers, both ends (MiB)", ours: String(Math.round(tcpHeld)), original: "", ratio: "—", note: "5 s after connecting; /proc/net/sockstat, includes the client's 4 KiB receive buffers" },
          { metric: "slow sockets still open after hold", ours: String(openAfterHold), original: "", ratio: "—", note: `of ${conn.connected} opened: a client that never answers a ping is closed after 2 × WATCH_INTERVAL` },
          { metric: "reading client: full state (ms)", ours: String(reader.ms), original: "", ratio: "—", note: `${reader.got} of ${SERVICES} statuses while the slow sockets are held` },
          { metric: "/healthz under load (ms)", ours: String(healthMs), original: "", ratio: "—", note: `status ${health}` },
        ],
        details: { services: SERVICES, sockets: SOCKETS, holdSec: HOLD_S, connect: conn, idleRssKb: idle.rssKb, peakRssKb: peakKb, heldRssKb: held.rssKb, tcpKernelMiB: Math.round(tcpHeld), openAfterHold, reader, healthMs, limitMiB: LIMIT_MIB },
      };
    } finally {
      await app.stop();
    }
  } finally {
    await deleteNamespace(NS);
  }
}
