// Scenario scale: 2,000 services (20 namespaces × 100 one-replica Deployments on kwok nodes), once as explicit entries and once as one selector entry; 10,000 as a stress point.
//
// Per configuration: start → ready (spawn → /readyz 200) and → all services listed, idle RSS, API
// requests at start (audit log, by the app's User-Agent, spawn → ready + 2 s) and while idle
// (10 s, watches excluded: must be 0), then — at 2,000 only — 100 services restarted at once
// (POSTs in parallel; time until the last rollout is complete and unlocked on a status stream)
// and 1,000 websocket clients of the full-state stream (bench/fanout-client.ts, another process:
// time until every socket has every service's status, RSS after).
//
// Setup: the default 3 kwok nodes hold 110 pods each, so the scenario adds fake nodes of its own
// (bench-scale-node-*, managed by kwok-controller like the others) and removes them afterwards,
// with the bench-scale-* namespaces. Workloads are created by `kubectl apply` of one generated
// List per namespace.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnApp } from "../../tests/support/process.ts";
import { auditMark, auditSince, countBy, isApp } from "../audit.ts";
import { appBinary, BUN, cluster, deployment, kubectl, log, readLines, ROOT, tmp } from "../lib.ts";
import { median, pool, procStats, type Row, type ScenarioResult, summarize } from "../stats.ts";

const NAMESPACES = Number(process.env.SCALE_NAMESPACES ?? 20);
const PER_NS = Number(process.env.SCALE_PER_NS ?? 100);
const STRESS_PER_NS = Number(process.env.SCALE_STRESS_PER_NS ?? 500);
const RUNS = Number(process.env.SCALE_RUNS ?? 3);
const RESTARTS = Number(process.env.SCALE_RESTARTS ?? 100);
const CLIENTS = Number(process.env.SCALE_CLIENTS ?? 1000);
const LOCK_NS = "bench-scale-locks";
const LABEL = "k8s-restart-app-bench/scale";
const ns = (i: number) => `bench-scale-${String(i).padStart(2, "0")}`;
const name = (j: number) => `svc-${String(j).padStart(4, "0")}`;
const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;

/** Fake nodes for `pods` more pods (1,000 each), managed by kwok-controller like the cluster's own. */
async function addNodes(pods: number): Promise<string[]> {
  const names = Array.from({ length: Math.ceil(pods / 1000) }, (_, i) => `bench-scale-node-${i}`);
  const items = names.map((n) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: n, labels: { type: "kwok", "kubernetes.io/hostname": n }, annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" } },
    status: { allocatable: { cpu: "1000", memory: "4Ti", pods: "1000" }, capacity: { cpu: "1000", memory: "4Ti", pods: "1000" } },
  }));
  await kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
  await kubectl(["wait", "--for=condition=Ready", "node", ...names, "--timeout=120s"]);
  return names;
}

/**
 * `stress`: paused Deployments of 0 replicas — the Deployment controller then creates no
 * ReplicaSets, which at its default 20 requests/s would take the control plane most of an hour for
 * 10,000; the app sees the same 10,000 workloads either way. Not waited for: only their existence counts.
 */
async function createWorkloads(perNs: number, stress: boolean): Promise<number> {
  const t0 = performance.now();
  await pool(NAMESPACES, 2, async (i) => {
    await kubectl(["create", "namespace", ns(i)], { allowFail: true });
    const items = Array.from({ length: perNs }, (_, j) => {
      const d = deployment(ns(i), name(j), { replicas: stress ? 0 : 1 });
      (d.metadata.labels as Record<string, string>)[LABEL] = "yes";
      if (stress) (d.spec as Record<string, unknown>).paused = true;
      return d;
    });
    await kubectl(["apply", "--server-side", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
  });
  if (!stress) for (let i = 0; i < NAMESPACES; i++) await kubectl(["-n", ns(i), "wait", "--for=condition=Available", "deployment", "--all", "--timeout=900s"]);
  return performance.now() - t0;
}

function configText(mode: "explicit" | "selector", perNs: number): string {
  if (mode === "selector") return `services:\n  - namespace: "*"\n    selector: "${LABEL}=yes"\n    kinds: [Deployment]\n`;
  const lines: string[] = [];
  for (let i = 0; i < NAMESPACES; i++) for (let j = 0; j < perNs; j++) lines.push(`  - {kind: Deployment, namespace: ${ns(i)}, name: ${name(j)}}`);
  return `services:\n${lines.join("\n")}\n`;
}

interface Started {
  url: string;
  pid: number;
  stop(): Promise<void>;
  readyMs: number;
  listedMs: number;
}

async function start(config: string, total: number): Promise<Started> {
  const t0 = performance.now();
  const { url, proc } = await spawnApp([appBinary()], {
    cwd: tmp,
    env: { CONFIG_FILE_PATH: config, KUBE_CONFIG_PATH: cluster.KUBECONFIG!, LOCK_NAMESPACE: LOCK_NS, RATE_LIMIT_PER_MINUTE: "0", LOG_LEVEL: "info", WEBSOCKET_MAX_PER_ADDRESS: "0" },
    listenTimeoutMs: 30_000,
  });
  let readyMs = 0;
  for (;;) {
    if (!readyMs && (await fetch(`${url}/readyz`)).status === 200) readyMs = performance.now() - t0;
    if (readyMs && ((await (await fetch(`${url}/api/v1/service`)).json()) as { services: unknown[] }).services.length === total) break;
    if (performance.now() - t0 > 120_000) throw new Error("app not ready with every service within 120 s");
    // The full list is large: asking for it every few ms would load the app being timed.
    await Bun.sleep(readyMs ? 25 : 5);
  }
  const listedMs = performance.now() - t0;
  const stop = async () => {
    proc.kill("SIGTERM");
    await Promise.race([proc.exited, Bun.sleep(6000).then(() => proc.kill("SIGKILL"))]);
  };
  return { url, pid: proc.pid, stop, readyMs, listedMs };
}

/** Start RUNS times; the last run stays up and is measured further. */
async function startAndCount(config: string, total: number, runs: number) {
  const ready: number[] = [];
  const listed: number[] = [];
  let app: Started | undefined;
  let atStart: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    await app?.stop();
    const mark = auditMark();
    app = await start(config, total);
    ready.push(app.readyMs);
    listed.push(app.listedMs);
    await Bun.sleep(2000);
    atStart = countBy(await auditSince(mark, (e) => isApp(app!.pid)(e) && (e.stage === "ResponseComplete" || (e.stage === "ResponseStarted" && e.verb === "watch"))));
  }
  const rssKb = procStats(app!.pid).rssKb;
  const idleMark = auditMark();
  await Bun.sleep(10_000);
  const idle = countBy(await auditSince(idleMark, (e) => isApp(app!.pid)(e) && e.stage === "ResponseComplete" && e.verb !== "watch"));
  return { app: app!, ready, listed, rssKb, atStart, idle };
}

/** RESTARTS services at once; until the last one's rollout is complete and unlocked on a status stream. */
async function restartMany(app: Started, keys: { namespace: string; name: string }[]) {
  const ws = new WebSocket(`${app.url.replace("http", "ws")}/api/v1/service/status`);
  const pending = new Map<string, string>();
  let done!: () => void;
  const allDone = new Promise<void>((r) => (done = r));
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    const k = `${m.kind_namespace_name.namespace}/${m.kind_namespace_name.name}`;
    const at = pending.get(k);
    if (at && m.status.last_restart === at && m.status.rollout === "complete" && !m.is_locked) {
      pending.delete(k);
      if (pending.size === 0) done();
    }
  };
  await new Promise((r) => (ws.onopen = r));
  await Bun.sleep(1000);
  const t0 = performance.now();
  const lat: number[] = [];
  const codes: Record<string, number> = {};
  await Promise.all(
    keys.map(async (k) => {
      const t = performance.now();
      const res = await fetch(`${app.url}/api/v1/service/Deployment/${k.namespace}/${k.name}/restart`, { method: "POST" });
      lat.push(performance.now() - t);
      codes[res.status] = (codes[res.status] ?? 0) + 1;
      if (res.ok) pending.set(`${k.namespace}/${k.name}`, ((await res.json()) as { restarted_at: string }).restarted_at);
    }),
  );
  const answered = performance.now() - t0;
  await Promise.race([allDone, Bun.sleep(300_000)]);
  const settled = performance.now() - t0;
  ws.close();
  return { answeredMs: answered, settledMs: settled, unsettled: pending.size, codes, post: summarize(lat) };
}

/** CLIENTS sockets on the full-state stream, in another process; until each has every service's status. */
async function manyClients(app: Started, total: number) {
  const rss0 = procStats(app.pid).rssKb;
  const proc = Bun.spawn([BUN, join(ROOT, "bench/fanout-client.ts"), `${app.url.replace("http", "ws")}/api/v1/service/status`, String(CLIENTS)], {
    env: { ...process.env, FANOUT_FULL: String(total), FANOUT_BATCH: "100" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let connected: { ms?: number } = {};
  const got = new Promise<void>((r) => void readLines(proc.stdout as ReadableStream<Uint8Array>, (l) => ((connected = JSON.parse(l)), r())));
  await Promise.race([got, proc.exited, Bun.sleep(600_000)]);
  const rss = procStats(app.pid).rssKb;
  proc.kill();
  if (connected.ms === undefined) throw new Error(`fanout client failed: ${await new Response(proc.stderr).text()}`);
  return { fullStateMs: connected.ms, rssBeforeKb: rss0, rssWithClientsKb: rss };
}

function rowsFor(label: string, total: number, r: Awaited<ReturnType<typeof startAndCount>>, targets = true): Row[] {
  const target = (t: string) => (targets ? t : "no target");
  const startReqs = Object.values(r.atStart).reduce((a, b) => a + b, 0);
  const idleReqs = Object.values(r.idle).reduce((a, b) => a + b, 0);
  // A list would show in atStart for the other resources too: then the Leases took list + watch as well.
  const HIDDEN_LEASE_REQUESTS = Object.keys(r.atStart).some((k) => k.startsWith("list ")) ? 2 : 1;
  return [
    { metric: `${label}: start → ready, ${total} services (median of ${r.ready.length})`, ours: `${median(r.ready).toFixed(0)} ms`, original: "—", ratio: "—", note: `→ every service listed: ${median(r.listed).toFixed(0)} ms; ${target("target ready < 1 s")}` },
    { metric: `${label}: idle RSS, ${total} services`, ours: mib(r.rssKb), original: "—", ratio: "—", note: `2 s after all listed; ${target("target < 150 MiB")}` },
    {
      metric: `${label}: API requests at start`,
      ours: String(startReqs),
      original: "—",
      ratio: "—",
      // The lock namespace is a namespace too (its rules review, and the Lease watch the audit policy hides:
      // one streaming watch, as for every other resource on this API server).
      note: `${((startReqs + HIDDEN_LEASE_REQUESTS) / (NAMESPACES + 1)).toFixed(2)} per namespace (${NAMESPACES} + the lock namespace, + ${HIDDEN_LEASE_REQUESTS === 1 ? "1 hidden Lease watch" : "a hidden Lease list + watch"}; ${target("target ≤ 5")}): ${JSON.stringify(r.atStart)}`,
    },
    { metric: `${label}: idle API requests in 10 s (watches excluded)`, ours: String(idleReqs), original: "—", ratio: "—", note: idleReqs ? JSON.stringify(r.idle) : "must be 0" },
  ];
}

async function measure(mode: "explicit" | "selector", perNs: number, runs: number) {
  const total = NAMESPACES * perNs;
  const config = join(tmp, `scale-${mode}-${total}.yaml`);
  writeFileSync(config, configText(mode, perNs));
  log(`scale: ${mode}, ${total} services: ${runs} starts`);
  return { total, r: await startAndCount(config, total, runs) };
}

/** Deletes the namespaces (thousands of objects: the garbage collector needs minutes, so wait up to 20), then the nodes. */
async function cleanup(nodes: string[]): Promise<void> {
  const all = [...Array.from({ length: NAMESPACES }, (_, i) => ns(i)), LOCK_NS];
  await kubectl(["delete", "namespace", ...all, "--ignore-not-found", "--wait=false"]);
  await kubectl(["wait", "--for=delete", ...all.map((n) => `namespace/${n}`), "--timeout=1200s"], { allowFail: true });
  if (nodes.length) await kubectl(["delete", "node", ...nodes, "--ignore-not-found"]);
}

export async function scale(): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  let nodes: string[] = [];
  try {
    await cleanup([]);
    await kubectl(["create", "namespace", LOCK_NS]);
    nodes = await addNodes(NAMESPACES * PER_NS);
    log(`scale: creating ${NAMESPACES} × ${PER_NS} Deployments`);
    details.createMs = Math.round(await createWorkloads(PER_NS, false));
    for (const mode of ["explicit", "selector"] as const) {
      const { total, r } = await measure(mode, PER_NS, RUNS);
      rows.push(...rowsFor(mode, total, r));
      const keys = Array.from({ length: RESTARTS }, (_, k) => ({ namespace: ns(k % NAMESPACES), name: name(Math.floor(k / NAMESPACES)) }));
      const rs = await restartMany(r.app, keys);
      rows.push({ metric: `${mode}: ${RESTARTS} services restarted at once`, ours: `${(rs.settledMs / 1000).toFixed(1)} s`, original: "—", ratio: "—", note: `until every rollout complete + unlocked on a status stream; all POSTs answered in ${rs.answeredMs.toFixed(0)} ms (p50 ${rs.post.p50.toFixed(0)} ms, p99 ${rs.post.p99.toFixed(0)} ms); codes ${JSON.stringify(rs.codes)}; unsettled ${rs.unsettled}` });
      await Bun.sleep(5000);
      const mc = await manyClients(r.app, total);
      rows.push({ metric: `${mode}: ${CLIENTS} websocket clients of the full-state stream`, ours: `${(mc.fullStateMs / 1000).toFixed(1)} s`, original: "—", ratio: "—", note: `until each socket had all ${total} statuses; app RSS ${mib(mc.rssBeforeKb)} → ${mib(mc.rssWithClientsKb)}` });
      details[mode] = { ...r, app: undefined, restarts: rs, clients: mc };
      await r.app.stop();
    }
  } finally {
    log("scale: cleaning up");
    await cleanup(nodes);
  }
  return { rows, details };
}

/** The stress point: 20 × 500 = 10,000 services, both configurations, one start each; numbers, no targets. */
export async function scaleStress(): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    await cleanup([]);
    await kubectl(["create", "namespace", LOCK_NS]);
    log(`scale-stress: creating ${NAMESPACES} × ${STRESS_PER_NS} paused Deployments of 0 replicas`);
    details.createMs = Math.round(await createWorkloads(STRESS_PER_NS, true));
    for (const mode of ["explicit", "selector"] as const) {
      const { total, r } = await measure(mode, STRESS_PER_NS, 1);
      rows.push(...rowsFor(`stress ${mode}`, total, r, false));
      details[mode] = { ...r, app: undefined };
      await r.app.stop();
    }
  } finally {
    log("scale-stress: cleaning up");
    await cleanup([]);
  }
  return { rows, details };
}
