// Counts a restart request by outcome, as the original's two counters did and by reason, and times its rollout until it settles.
import type { Metrics } from "../metrics.ts";
import type { Reason, RestartResult } from "../restart/outcome.ts";
import type { StatusHub } from "../status/hub.ts";

/** What the original counted as a failed restart: one that was attempted and failed, not a refusal (locked, forbidden, …). */
const ATTEMPTED_AND_FAILED = new Set<Reason>(["upstream", "missing"]);

export function countRestart(metrics: Metrics, hub: Pick<StatusHub, "waitForRestart">, r: RestartResult, forceUnlockSec: number): void {
  const s = r.service;
  const labels = { kind: s?.kind ?? "", namespace: s?.namespace ?? "", name: s?.name ?? "" };
  metrics.restartRequests.inc({ ...labels, outcome: r.ok ? "restarted" : r.reason });
  if (!s) return;
  metrics.restarts.inc(labels);
  if (!r.ok && ATTEMPTED_AND_FAILED.has(r.reason)) metrics.restartsFailed.inc(labels);
  if (!r.ok) return;
  // The lock goes after FORCE_UNLOCK_SEC at the latest: a rollout not settled by then is a timeout.
  const started = performance.now();
  void hub.waitForRestart(r.service, r.restartedAt, forceUnlockSec * 1000).then((w) => {
    metrics.rolloutDuration.observe({ kind: r.service.kind, outcome: w.outcome }, (performance.now() - started) / 1000);
  });
}
