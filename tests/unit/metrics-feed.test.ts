// Covers src/status/metrics-feed.ts: the rollout-state and watch-connection gauges follow issue 12's changing service set and watches.
import { expect, test } from "bun:test";
import type { ServiceKey } from "../../src/config/file.ts";
import type { WatchState } from "../../src/kube/cluster.ts";
import { makeMetrics } from "../../src/metrics.ts";
import type { StatusHub, StatusListener } from "../../src/status/hub.ts";
import { feedMetrics } from "../../src/status/metrics-feed.ts";
import type { ServiceStatus } from "../../src/status/model.ts";

const WEB: ServiceKey = { kind: "Deployment", namespace: "shop", name: "web" };

test("a removed service's rollout-state series go; a watch no longer watched leaves restart_app_watch_connected", async () => {
  const metrics = makeMetrics({ version: "t", commit: "c" });
  const onStatus: StatusListener[] = [];
  const onRemoved: ((s: ServiceKey) => void)[] = [];
  const hub = { onStatus: (l: StatusListener) => (onStatus.push(l), () => {}), onRemoved: (l: (s: ServiceKey) => void) => onRemoved.push(l) } as unknown as StatusHub;
  let watches: WatchState[] = [
    { resource: "deployments", namespace: "shop", connected: true },
    { resource: "deployments", namespace: "*", connected: false },
  ];
  const conn: (() => void)[] = [];
  feedMetrics(metrics, hub, { watches: () => watches, onConnection: (h) => void conn.push(h) });
  onStatus.forEach((l) => l({ service: WEB, rollout: "complete" } as ServiceStatus));
  const text = () => metrics.registry.metrics();
  expect(await text()).toContain('restart_app_service_rollout_state{kind="Deployment",namespace="shop",name="web",state="complete"} 1');
  expect(await text()).toContain('restart_app_watch_connected{resource="deployments",namespace="*"} 0');
  onRemoved.forEach((l) => l(WEB));
  watches = [watches[0]!];
  conn.forEach((h) => h());
  expect(await text()).not.toContain('restart_app_service_rollout_state{kind="Deployment",namespace="shop",name="web"');
  expect(await text()).not.toContain('namespace="*"');
  expect(await text()).toContain('restart_app_watch_connected{resource="deployments",namespace="shop"} 1');
  // Back in the set: its state is set again on the next push, even if unchanged.
  onStatus.forEach((l) => l({ service: WEB, rollout: "complete" } as ServiceStatus));
  expect(await text()).toContain('restart_app_service_rollout_state{kind="Deployment",namespace="shop",name="web",state="complete"} 1');
});
