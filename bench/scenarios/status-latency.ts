// Scenario status-latency: how long after a change in the cluster a websocket client sees it, over several real rollouts.
//
// The bench runs its own watches (pods of the Deployment, and the Deployment itself) next to the
// app's and stamps every change the moment it sees it; a websocket client stamps every frame. The
// same clock stamps both. A frame is paired with the latest cluster change that produced the value
// it shows (see pair()). Three pairings:
//   pods ready   pods Ready=True and not terminating, counted by the bench → frame `ready`
//                (what a user waits for; includes the Deployment controller's status update)
//   pods_ready   the same pod count → frame `pods_ready` (the app counts Ready pods itself, so
//                this skips the controller's round trip)
//   deployment   Deployment status.readyReplicas seen by the bench → frame `ready`
//                (the app's own share: its watch → status hub → publish → client)
//   pod phases   pods per phase (Terminating for deleted ones), as the app computes them →
//                frame `pod_status` (straight from the pod watch)
import { applyAndWait, deleteNamespace, deployment, freshNamespace, log, nowMs, observerClient, readLines, startApp } from "../lib.ts";
import { summarize, type ScenarioResult } from "../stats.ts";
import { MEASURED_SEPARATELY, ORIGINAL } from "../original.ts";
import type { KubeClient } from "../../src/kube/client.ts";

const NS = "bench-latency";
const NAME = "web";
const REPLICAS = 5;
const RESTARTS = Number(process.env.LATENCY_RESTARTS ?? 5);

interface Change {
  t: number;
  v: string;
}

type Obj = { metadata: { name: string; resourceVersion: string; deletionTimestamp?: string; labels?: Record<string, string> }; status?: any };

/** List + watch from the list's resourceVersion; calls onState with the full current map after each event. */
async function observe(client: KubeClient, path: string, query: Record<string, string>, onState: (items: Map<string, Obj>) => void, signal: AbortSignal) {
  const list = await client.request<{ items: Obj[]; metadata: { resourceVersion: string } }>({ path, query }, `list ${path}`);
  const items = new Map(list.items.map((o) => [o.metadata.name, o]));
  onState(items);
  const res = await client.stream({ path, query: { ...query, watch: 1, resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 900 }, signal });
  if (!res.ok) throw new Error(`watch ${path}: ${res.status}`);
  readLines(res.body!, (line) => {
    const ev = JSON.parse(line) as { type: string; object: Obj };
    if (ev.type === "DELETED") items.delete(ev.object.metadata.name);
    else if (ev.type === "ADDED" || ev.type === "MODIFIED") items.set(ev.object.metadata.name, ev.object);
    onState(items);
  }).catch((e) => {
    if (!signal.aborted) log(`status-latency: watch ${path} ended: ${e}`);
  });
}

/** Appends (now, v) when v differs from the last recorded value. */
function recorder() {
  const changes: Change[] = [];
  return {
    changes,
    note(v: string) {
      if (changes.at(-1)?.v !== v) changes.push({ t: nowMs(), v });
    },
  };
}

/**
 * Pairs each frame change with the cluster change it shows: among the not yet used source changes
 * with the same value, the latest one at or before the frame (the state the frame shows became true
 * then; earlier occurrences of the same value were superseded), else the first after it (a frame
 * that beat the bench's own watch: negative latency, kept). Source changes skipped over were
 * coalesced by the controller or the app into one frame.
 */
export function pair(source: Change[], frames: Change[]): { latencies: number[]; unmatched: number; coalesced: number } {
  const latencies: number[] = [];
  let j = 0;
  let unmatched = 0;
  let used = 0;
  for (const f of frames) {
    let pick = -1;
    for (let k = j; k < source.length; k++) {
      if (source[k]!.v !== f.v) continue;
      if (source[k]!.t <= f.t) pick = k;
      else {
        if (pick < 0) pick = k;
        break;
      }
    }
    if (pick < 0) {
      unmatched++;
      continue;
    }
    latencies.push(f.t - source[pick]!.t);
    used++;
    j = pick + 1;
  }
  return { latencies, unmatched, coalesced: source.length - used };
}

const podReady = (p: Obj) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
const phases = (pods: Iterable<Obj>) => {
  const out: Record<string, number> = {};
  for (const p of pods) {
    const k = p.metadata.deletionTimestamp ? "Terminating" : (p.status?.phase ?? "Unknown");
    out[k] = (out[k] ?? 0) + 1;
  }
  return JSON.stringify(Object.fromEntries(Object.entries(out).sort()));
};

export async function statusLatency(): Promise<ScenarioResult> {
  await freshNamespace(NS);
  const abort = new AbortController();
  try {
    await applyAndWait(NS, [deployment(NS, NAME, { replicas: REPLICAS, maxSurge: 1, maxUnavailable: 0 })]);
    const app = await startApp({ services: [{ kind: "Deployment", namespace: NS, name: NAME }], lockNamespace: NS, env: { RATE_LIMIT_PER_MINUTE: "0" } });
    try {
      const ready = recorder();
      const depReady = recorder();
      const podPhases = recorder();
      const frameReady = recorder();
      const framePodsReady = recorder();
      const framePhases = recorder();
      const client = observerClient();
      await observe(client, `/api/v1/namespaces/${NS}/pods`, { labelSelector: `app=${NAME}` }, (pods) => {
        ready.note(String([...pods.values()].filter(podReady).length));
        podPhases.note(phases(pods.values()));
      }, abort.signal);
      await observe(client, `/apis/apps/v1/namespaces/${NS}/deployments`, { fieldSelector: `metadata.name=${NAME}` }, (ds) => {
        depReady.note(String(ds.get(NAME)?.status?.readyReplicas ?? 0));
      }, abort.signal);

      let last: any;
      const waiters: (() => void)[] = [];
      const ws = new WebSocket(`${app.wsUrl}/api/v1/service/Deployment/${NS}/${NAME}/status`);
      ws.onmessage = (e) => {
        const t = nowMs();
        last = JSON.parse(String(e.data));
        const s = last.status;
        if (frameReady.changes.at(-1)?.v !== String(s.ready)) frameReady.changes.push({ t, v: String(s.ready) });
        if (framePodsReady.changes.at(-1)?.v !== String(s.pods_ready)) framePodsReady.changes.push({ t, v: String(s.pods_ready) });
        const ph = JSON.stringify(Object.fromEntries(Object.entries(s.pod_status).sort()));
        if (framePhases.changes.at(-1)?.v !== ph) framePhases.changes.push({ t, v: ph });
        for (const w of waiters.splice(0)) w();
      };
      await new Promise<void>((res, rej) => ((ws.onopen = () => res()), (ws.onerror = () => rej(new Error("status websocket failed")))));
      const settled = (restartedAt: string) =>
        last && last.status.rollout === "complete" && !last.is_locked && last.status.last_restart === restartedAt && last.status.ready === REPLICAS;
      const rollouts: number[] = [];
      for (let i = 0; i < RESTARTS; i++) {
        const t0 = nowMs();
        const res = await fetch(`${app.url}/api/v1/service/Deployment/${NS}/${NAME}/restart`, { method: "POST" });
        const body = (await res.json()) as { restarted_at?: string };
        if (res.status !== 200) throw new Error(`restart ${i + 1}: ${res.status} ${JSON.stringify(body)}`);
        const deadline = Date.now() + 120_000;
        while (!settled(body.restarted_at!)) {
          if (Date.now() > deadline) throw new Error(`restart ${i + 1}: not settled after 120 s: ${JSON.stringify(last)}`);
          await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 1000)));
        }
        rollouts.push(nowMs() - t0);
        log(`status-latency: restart ${i + 1}/${RESTARTS} rolled out and unlocked in ${(rollouts.at(-1)! / 1000).toFixed(1)} s`);
        await Bun.sleep(1000);
      }
      ws.close();
      abort.abort();

      const podsPair = pair(ready.changes.slice(1), frameReady.changes.slice(1));
      const podsReadyPair = pair(ready.changes.slice(1), framePodsReady.changes.slice(1));
      const depPair = pair(depReady.changes.slice(1), frameReady.changes.slice(1));
      const phasePair = pair(podPhases.changes.slice(1), framePhases.changes.slice(1));
      const s = { pods: summarize(podsPair.latencies), podsReady: summarize(podsReadyPair.latencies), deployment: summarize(depPair.latencies), phases: summarize(phasePair.latencies) };
      const fmt = (x: ReturnType<typeof summarize>) => `p50 ${x.p50.toFixed(1)} / p99 ${x.p99.toFixed(1)} / max ${x.max.toFixed(1)} ms`;
      // The original was measured per restart with 200 services (bench/original.ts), not per pod
      // change with one: nothing here is comparable, so its cells stay empty.
      const original = "";
      const note = (p: { unmatched: number; coalesced: number }, n: number) => `${n} pairs over ${RESTARTS} restarts; ${p.coalesced} coalesced, ${p.unmatched} unmatched`;
      return {
        rows: [
          {
            metric: "pod readiness change → ws frame `ready` (bench watch → client)",
            ours: fmt(s.pods),
            original,
            ratio: "",
            note: `${note(podsPair, s.pods.n)}; includes the Deployment controller's status update`,
          },
          {
            metric: "pod readiness change → ws frame `pods_ready` (the app's own pod count)",
            ours: fmt(s.podsReady),
            original,
            ratio: "",
            note: note(podsReadyPair, s.podsReady.n),
          },
          {
            metric: "Deployment readyReplicas change → ws frame `ready` (app's share)",
            ours: fmt(s.deployment),
            original,
            ratio: "",
            note: note(depPair, s.deployment.n),
          },
          {
            metric: "pod phase change → ws frame `pod_status`",
            ours: fmt(s.phases),
            original,
            ratio: "",
            note: note(phasePair, s.phases.n),
          },
          {
            metric: `restart → rollout complete and unlocked (${REPLICAS} replicas, maxSurge 1, maxUnavailable 0)`,
            ours: `median ${(summarize(rollouts).p50 / 1000).toFixed(1)} s`,
            original: "",
            ratio: "",
            note: "the rollout itself is kwok's and the controllers' speed, not the app's",
          },
        ],
        details: {
          replicas: REPLICAS,
          restarts: RESTARTS,
          latencyMs: s,
          pairing: { pods: podsPair, podsReady: podsReadyPair, deployment: depPair, phases: phasePair },
          rolloutMs: rollouts.map(Math.round),
          changes: { podsReady: ready.changes, deploymentReady: depReady.changes, frameReady: frameReady.changes, framePodsReady: framePodsReady.changes, podPhases: podPhases.changes, framePhases: framePhases.changes },
          original: { source: MEASURED_SEPARATELY, services: ORIGINAL.services, restartToFrameMs: ORIGINAL.restartToFrameMs, doneToUnlockedMs: ORIGINAL.doneToUnlockedMs, note: "per restart with 200 services; not comparable with the per-change latencies of one Deployment here" },
        },
      };
    } finally {
      abort.abort();
      await app.stop();
    }
  } finally {
    await deleteNamespace(NS);
  }
}
