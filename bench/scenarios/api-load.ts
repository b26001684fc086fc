// Scenario api-load: the API requests the app makes for 200 services — at start, and idle for 60 s with 5 websocket clients.
//
// Only this app instance's requests count: its User-Agent names its pid, and it runs as a
// ServiceAccount of its own (Roles printed by its `rbac` subcommand), so the filter holds even for
// older builds whose User-Agent was plain "k8s-restart-app" — and the run shows that those
// least-privilege Roles are enough for 200 services. Non-watch requests are counted from
// their ResponseComplete audit event; a watch is counted when it opens (ResponseStarted),
// because a long-lived watch completes only when it ends.
import { applyAndWait, appServiceAccount, deleteNamespace, deployment, freshNamespace, log, serviceList, startApp } from "../lib.ts";
import { type AuditEvent, auditMark, auditSince, countBy, isApp, received } from "../audit.ts";
import { procStats, ratio, type ScenarioResult } from "../stats.ts";
import { MEASURED_SEPARATELY, measured, ORIGINAL } from "../original.ts";

const NS = "bench-load";
const SERVICES = Number(process.env.API_LOAD_SERVICES ?? 200);
const CLIENTS = 5;
const IDLE_SEC = Number(process.env.API_LOAD_IDLE_SEC ?? 60);
const WATCH_INTERVAL = 10; // the original's default poll interval, seconds

export async function apiLoad(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(3, "0")}`);
  const services = serviceList(NS, names);
  await freshNamespace(NS);
  try {
    log(`api-load: creating ${SERVICES} Deployments in ${NS}`);
    const setupMs = await applyAndWait(NS, names.map((n) => deployment(NS, n)));
    log(`api-load: ${SERVICES} Deployments available after ${(setupMs / 1000).toFixed(1)} s`);
    const sa = await appServiceAccount(NS, services);

    let offset = auditMark();
    let tStart = 0;
    const app = await startApp({
      services,
      lockNamespace: NS,
      kubeconfig: sa.kubeconfig,
      beforeSpawn: () => {
        offset = auditMark();
        tStart = Date.now();
      },
    });
    try {
      if (app.lines.some((l) => l.includes("missing permissions") || l.includes("in-process locks"))) {
        throw new Error(`the app's self-check found missing permissions:\n${app.lines.join("\n")}`);
      }
      // Five clients of the all-services stream; each gets the full state (one message per service) on open.
      const frames: number[] = [];
      const sockets: WebSocket[] = [];
      await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) => {
          const ws = new WebSocket(`${app.wsUrl}/api/v1/service/status`);
          sockets.push(ws);
          frames[i] = 0;
          return new Promise<void>((res, rej) => {
            ws.onmessage = () => {
              if (++frames[i]! === SERVICES) res();
            };
            ws.onerror = () => rej(new Error("status websocket failed"));
            setTimeout(() => rej(new Error(`client ${i} got ${frames[i]} of ${SERVICES} initial messages`)), 30_000);
          });
        }),
      );
      const tIdle0 = Date.now();
      const before = procStats(app.pid);
      const framesBefore = frames.reduce((a, b) => a + b, 0);
      log(`api-load: ready in ${app.readyMs.toFixed(0)} ms, ${CLIENTS} clients hold the full state; idle for ${IDLE_SEC} s`);
      await Bun.sleep(IDLE_SEC * 1000);
      const tIdle1 = Date.now();
      const after = procStats(app.pid);
      const idleFrames = frames.reduce((a, b) => a + b, 0) - framesBefore;
      for (const ws of sockets) ws.close();
      // ResponseComplete of requests received in the window may land a moment after it.
      await Bun.sleep(2000);
      const fromApp = isApp(app.pid);
      const events = await auditSince(offset, (e) => fromApp(e) && e.user.username === sa.username);
      // The app certainly listed and watched at start: nothing matched means the filter is wrong, not that ours is perfect.
      if (!events.some((e) => e.verb === "list")) throw new Error(`no audit event matched app pid ${app.pid} as ${sa.username}: is the filter out of date?`);
      const inWindow = (e: AuditEvent, a: number, b: number) => received(e) >= a && received(e) < b;
      const completed = events.filter((e) => e.stage === "ResponseComplete" && e.verb !== "watch");
      const watchOpens = events.filter((e) => e.stage === "ResponseStarted" && e.verb === "watch");
      const watchEnds = events.filter((e) => e.stage === "ResponseComplete" && e.verb === "watch");
      const startNonWatch = completed.filter((e) => inWindow(e, tStart, tIdle0));
      const startWatch = watchOpens.filter((e) => inWindow(e, tStart, tIdle0));
      const idleNonWatch = completed.filter((e) => inWindow(e, tIdle0, tIdle1));
      const idleWatchOpens = watchOpens.filter((e) => inWindow(e, tIdle0, tIdle1));
      const idleWatchEnds = watchEnds.filter((e) => Date.parse(e.stageTimestamp) >= tIdle0 && Date.parse(e.stageTimestamp) < tIdle1);
      const openDuringIdle = watchOpens.filter(
        (e) => received(e) < tIdle1 && !watchEnds.some((x) => x.auditID === e.auditID && Date.parse(x.stageTimestamp) < tIdle0),
      );

      // Where the start time goes: spawn → first request, the self-check's span, the lists and watches.
      const at = (xs: AuditEvent[], pick: (t: number[]) => number) => (xs.length ? Math.round(pick(xs.map(received)) - tStart) : null);
      const ssar = startNonWatch.filter((e) => e.objectRef?.resource === "selfsubjectaccessreviews");
      const lists = startNonWatch.filter((e) => e.verb === "list");
      const timeline = {
        firstRequestMs: at(startNonWatch, (t) => Math.min(...t)),
        selfCheckFirstMs: at(ssar, (t) => Math.min(...t)),
        selfCheckLastMs: at(ssar, (t) => Math.max(...t)),
        firstListMs: at(lists, (t) => Math.min(...t)),
        lastWatchMs: at(startWatch, (t) => Math.max(...t)),
        readyMs: Math.round(app.readyMs),
      };
      // The original's measured run had exactly this shape; with other parameters nothing is comparable.
      const same = SERVICES === ORIGINAL.services && CLIENTS === ORIGINAL.clients && IDLE_SEC === ORIGINAL.idleSec;
      const orig = (value: string) => (same ? measured(value) : "");
      const startTotal = startNonWatch.length + startWatch.length;
      const idleTotal = idleNonWatch.length + idleWatchOpens.length;
      const rows = [
        {
          metric: `API requests while idle, ${IDLE_SEC} s, ${SERVICES} services, ${CLIENTS} ws clients (non-watch + new watches)`,
          ours: `${idleTotal} (${idleNonWatch.length} non-watch, ${idleWatchOpens.length} watch opened)`,
          original: orig(`${ORIGINAL.idleRequests}`),
          ratio: same ? ratio(ORIGINAL.idleRequests, idleTotal) : "",
          note: `the original polls every ${WATCH_INTERVAL} s; client-go's default 5 requests/s throttles it at ${ORIGINAL.services} services (18 of its requests were 500s)`,
        },
        {
          metric: "long-lived watch connections held during the idle window",
          ours: String(openDuringIdle.length),
          original: "",
          ratio: "",
          note: `audited: ${Object.keys(countBy(openDuringIdle)).join(", ")}; + 1 Lease watch (Leases are not audited)`,
        },
        {
          metric: "API requests at start (self-check + one streaming watch per resource)",
          ours: String(startTotal),
          original: orig(`${ORIGINAL.startRequests10s} in its first 10 s, spread over 0.07–4.9 s`),
          ratio: "",
          note: `ours once: ${Object.entries(countBy([...startNonWatch, ...startWatch])).map(([k, v]) => `${v} ${k}`).join(", ")}; self-check ${timeline.selfCheckFirstMs}–${timeline.selfCheckLastMs} ms after spawn, ready at ${timeline.readyMs} ms`,
        },
        {
          metric: `websocket frames sent while idle (${CLIENTS} clients)`,
          ours: String(idleFrames),
          original: orig(`${ORIGINAL.idleFrames}`),
          ratio: same ? ratio(ORIGINAL.idleFrames, idleFrames) : "",
          note: `the original re-sends every service's status to every client every ${WATCH_INTERVAL} s, plus error and empty "locked" frames for failed polls`,
        },
        {
          metric: `app CPU time while idle (${IDLE_SEC} s)`,
          ours: `${(after.cpuMs - before.cpuMs).toFixed(0)} ms`,
          original: orig(`${ORIGINAL.idleCpuMs} ms`),
          ratio: same ? ratio(ORIGINAL.idleCpuMs, after.cpuMs - before.cpuMs) : "",
          note: `RSS ${(before.rssKb / 1024).toFixed(1)} → ${(after.rssKb / 1024).toFixed(1)} MiB (/proc VmRSS); CPU ticks are 10 ms`,
        },
      ];
      return {
        rows,
        details: {
          services: SERVICES,
          clients: CLIENTS,
          idleSec: IDLE_SEC,
          user: sa.username,
          readyMs: Math.round(app.readyMs),
          window: { start: new Date(tStart).toISOString(), idleFrom: new Date(tIdle0).toISOString(), idleTo: new Date(tIdle1).toISOString() },
          start: { nonWatch: countBy(startNonWatch), watchOpened: countBy(startWatch), total: startTotal, timelineMsAfterSpawn: timeline },
          idle: {
            nonWatch: countBy(idleNonWatch),
            watchOpened: countBy(idleWatchOpens),
            watchEnded: countBy(idleWatchEnds),
            watchesHeld: countBy(openDuringIdle),
            total: idleTotal,
            frames: idleFrames,
            cpuMs: after.cpuMs - before.cpuMs,
            rssKb: { before: before.rssKb, after: after.rssKb },
          },
          original: same ? { ...ORIGINAL, source: MEASURED_SEPARATELY } : "not comparable: the original was measured with 200 services, 5 clients, 60 s",
          leasesNotAudited: "the cluster's audit policy logs coordination.k8s.io/leases at level None: the app's Lease list/watch do not appear",
        },
      };
    } finally {
      await app.stop();
    }
  } finally {
    await deleteNamespace(NS);
  }
}
