// Feeds the gauges that follow state rather than requests: each service's rollout state and each watch's connection.
import { serviceId } from "../config/file.ts";
import type { ClusterView } from "../kube/cluster.ts";
import type { Metrics } from "../metrics.ts";
import type { StatusHub } from "./hub.ts";
import type { RolloutState } from "./rollout.ts";

const STATES: RolloutState[] = ["complete", "progressing", "failed", "paused", "missing", "unknown"];

export function feedMetrics(metrics: Pick<Metrics, "rolloutState" | "watchConnected">, hub: StatusHub, view: Pick<ClusterView, "watches" | "onConnection">): void {
  const last = new Map<string, RolloutState>();
  hub.onStatus((s) => {
    // Pushes come per change of anything; the gauge moves only when the state does.
    if (last.get(serviceId(s.service)) === s.rollout) return;
    last.set(serviceId(s.service), s.rollout);
    const { kind, namespace, name } = s.service;
    for (const state of STATES) metrics.rolloutState.set({ kind, namespace, name, state }, state === s.rollout ? 1 : 0);
  });
  // A service that left the set (reload, selector) takes its series with it.
  hub.onRemoved((s) => {
    last.delete(serviceId(s));
    for (const state of STATES) metrics.rolloutState.remove({ kind: s.kind, namespace: s.namespace, name: s.name, state });
  });
  // The set of watches follows the service set (setScopes): a watch no longer needed leaves the gauge.
  const connections = () => {
    metrics.watchConnected.reset();
    for (const w of view.watches()) metrics.watchConnected.set({ resource: w.resource, namespace: w.namespace }, w.connected ? 1 : 0);
  };
  view.onConnection(connections);
  connections();
}
