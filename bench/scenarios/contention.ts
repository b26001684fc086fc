// Scenario contention: 1,000 concurrent restarts of one service must patch it exactly once; then 100 services restarted at once.
//
// Part 1 sends 1,000 POSTs for one Deployment, at most CONCURRENCY in flight, over keep-alive
// connections. The Lease lock must let exactly one through (200) and refuse the rest (423); the
// audit log must show exactly one PATCH. The target has minReadySeconds 15 so that its rollout —
// and with it the lock, which is released when the rollout completes — outlasts the burst: a
// second PATCH after a finished rollout would be correct behaviour, not a double restart.
// Part 2 restarts 100 different Deployments concurrently: total time, restarts/s, all 200, and
// exactly 100 PATCHes. RATE_LIMIT_PER_MINUTE=0 so that the per-caller limit does not interfere.
import { applyAndWait, deleteNamespace, deployment, freshNamespace, log, serviceList, startApp } from "../lib.ts";
import { auditMark, auditSince, countBy, diffCounts, isApp, leaseWrites, received } from "../audit.ts";
import { pool, summarize, type ScenarioResult } from "../stats.ts";
import { MEASURED_SEPARATELY, measured, ORIGINAL } from "../original.ts";

const NS = "bench-contention";
const TARGET = "target";
const POSTS = Number(process.env.CONTENTION_POSTS ?? 1000);
const CONCURRENCY = Number(process.env.CONTENTION_CONCURRENCY ?? 200);
const MANY = Number(process.env.CONTENTION_SERVICES ?? 100);

async function post(url: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", keepalive: true });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

const codes = (rs: { status: number }[]) => {
  const out: Record<string, number> = {};
  for (const r of rs) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
};
const codeText = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${v}×${k}`).join(", ");
const countText = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${v} ${k}`).join(", ") || "none";

export async function contention(): Promise<ScenarioResult> {
  const names = Array.from({ length: MANY }, (_, i) => `r-${String(i).padStart(3, "0")}`);
  await freshNamespace(NS);
  try {
    log(`contention: creating ${MANY + 1} Deployments in ${NS}`);
    await applyAndWait(NS, [deployment(NS, TARGET, { minReadySeconds: 15 }), ...names.map((n) => deployment(NS, n))]);
    const services = serviceList(NS, [TARGET, ...names]);
    const app = await startApp({ services, lockNamespace: NS, env: { RATE_LIMIT_PER_MINUTE: "0" } });
    try {
      const fromApp = isApp(app.pid);
      // Part 1: one service, many callers.
      const url = `${app.url}/api/v1/service/Deployment/${NS}/${TARGET}/restart`;
      let offset = auditMark();
      let leases0 = await leaseWrites();
      let t0 = Date.now();
      let start = performance.now();
      const burst: { status: number; ms: number }[] = [];
      await pool(POSTS, CONCURRENCY, async () => void burst.push(await post(url)));
      const burstMs = performance.now() - start;
      const burstLeases = diffCounts(leases0, await leaseWrites());
      const stillLocked = JSON.parse(
        await new Promise<string>((res, rej) => {
          const ws = new WebSocket(`${app.wsUrl}/api/v1/service/Deployment/${NS}/${TARGET}/status`);
          ws.onmessage = (e) => (res(String(e.data)), ws.close());
          ws.onerror = () => rej(new Error("status websocket failed"));
        }),
      ).is_locked as boolean;
      await Bun.sleep(2000);
      const burstAudit = await auditSince(offset, (e) => fromApp(e) && e.stage === "ResponseComplete" && e.objectRef?.namespace === NS && received(e) >= t0);
      if (burstAudit.length === 0) throw new Error(`no audit event matched app pid ${app.pid} in ${NS}: is the filter out of date?`);
      const patches1 = burstAudit.filter((e) => e.verb === "patch" && e.objectRef?.resource === "deployments");
      const c1 = codes(burst);
      log(`contention: ${POSTS} POSTs in ${burstMs.toFixed(0)} ms: ${codeText(c1)}; PATCHes ${patches1.length}`);

      // Part 2: many services at once.
      offset = auditMark();
      leases0 = await leaseWrites();
      t0 = Date.now();
      start = performance.now();
      const many = await Promise.all(names.map((n) => post(`${app.url}/api/v1/service/Deployment/${NS}/${n}/restart`)));
      const manyMs = performance.now() - start;
      const manyLeases = diffCounts(leases0, await leaseWrites());
      await Bun.sleep(2000);
      const manyAudit = await auditSince(offset, (e) => fromApp(e) && e.stage === "ResponseComplete" && e.objectRef?.namespace === NS && received(e) >= t0);
      const patches2 = manyAudit.filter((e) => e.verb === "patch" && e.objectRef?.resource === "deployments");
      const c2 = codes(many);
      const lat2 = summarize(many.map((r) => r.ms));
      log(`contention: ${MANY} services restarted in ${manyMs.toFixed(0)} ms: ${codeText(c2)}; PATCHes ${patches2.length}`);

      const lat1 = summarize(burst.map((r) => r.ms));
      const ok1 = c1["200"] === 1 && patches1.length === 1;
      const ok2 = c2["200"] === MANY && patches2.length === MANY;
      return {
        rows: [
          {
            metric: `${POSTS} concurrent POSTs for one service (≤ ${CONCURRENCY} in flight): codes`,
            ours: codeText(c1),
            original: POSTS === 1000 ? measured(ORIGINAL.concurrentPosts) : "",
            ratio: "",
            note: `${ok1 ? "exactly one restart" : "NOT exactly one restart"}; all done in ${burstMs.toFixed(0)} ms; lock still held at the end: ${stillLocked}`,
          },
          {
            metric: `  … PATCHes of the Deployment in the audit log`,
            ours: String(patches1.length),
            original: "—",
            ratio: "—",
            note: `must be 1; per POST p50 ${lat1.p50.toFixed(1)} / p99 ${lat1.p99.toFixed(1)} ms; Lease writes (API server metrics, cluster-wide): ${countText(burstLeases)}`,
          },
          {
            metric: `${MANY} services restarted concurrently: total time`,
            ours: `${manyMs.toFixed(0)} ms (${(MANY / (manyMs / 1000)).toFixed(0)} restarts/s)`,
            original: "—",
            ratio: "—",
            note: `${codeText(c2)}; per POST p50 ${lat2.p50.toFixed(0)} / p99 ${lat2.p99.toFixed(0)} ms`,
          },
          {
            metric: `  … PATCHes in the audit log`,
            ours: String(patches2.length),
            original: "—",
            ratio: "—",
            note: `must be ${MANY}${ok2 ? "" : " — MISMATCH"}; other audited app requests: ${Object.entries(countBy(manyAudit.filter((e) => e.verb !== "patch"))).map(([k, v]) => `${v} ${k}`).join(", ") || "none"}; Lease writes (API server metrics, cluster-wide): ${countText(manyLeases)}`,
          },
        ],
        details: {
          burst: { leaseWritesClusterWide: burstLeases, posts: POSTS, concurrency: CONCURRENCY, ms: Math.round(burstMs), codes: c1, latencyMs: lat1, patches: patches1.length, lockHeldAtEnd: stillLocked, audited: countBy(burstAudit) },
          many: { leaseWritesClusterWide: manyLeases, services: MANY, ms: Math.round(manyMs), restartsPerSec: Math.round((MANY / (manyMs / 1000)) * 10) / 10, codes: c2, latencyMs: lat2, patches: patches2.length, audited: countBy(manyAudit) },
          original: { source: MEASURED_SEPARATELY, concurrentPosts: ORIGINAL.concurrentPosts },
        },
      };
    } finally {
      await app.stop();
    }
  } finally {
    await deleteNamespace(NS);
  }
}
