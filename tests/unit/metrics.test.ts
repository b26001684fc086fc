// Covers src/metrics.ts: prom-client without its default collectors; our metrics plus the cheap process metrics, computed at scrape time.
import { describe, expect, test } from "bun:test";
import { makeMetrics } from "../../src/metrics.ts";

const valueIn = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);

describe("the app's metrics", () => {
  test("keep the original names, and carry no runtime-internal metrics", async () => {
    const m = makeMetrics({ version: "1.2.3", commit: "abc" });
    m.restarts.inc({ kind: "Deployment", namespace: "shop", name: "web" });
    m.watchers.inc();
    m.serviceWatchers.inc({ kind: "Deployment", namespace: "shop", name: "web" });
    const text = await m.registry.metrics();
    expect(text).toContain('restart_app_build_info{version="1.2.3",commit="abc"} 1');
    expect(text).toContain('restart_app_restarts_total{kind="Deployment",namespace="shop",name="web"} 1');
    expect(text).toContain("restart_app_connected_status_watchers 1");
    expect(text).toContain('restart_app_service_status_watchers{kind="Deployment",namespace="shop",name="web"} 1');
    expect(text).toContain("# TYPE restart_app_restarts_failed_total counter");
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1]!);
    expect(names.filter((n) => n.startsWith("process_")).sort()).toEqual([
      "process_cpu_seconds_total",
      "process_cpu_system_seconds_total",
      "process_cpu_user_seconds_total",
      "process_max_fds",
      "process_open_fds",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
    ]);
    expect(names.some((n) => n.startsWith("nodejs_"))).toBe(false);
  });

  test("process metrics are read at each scrape, synchronously, and plausible", async () => {
    const m = makeMetrics({ version: "1", commit: "c" });
    await Bun.sleep(20); // the one background read of /proc/self/limits
    const first = await m.registry.metrics();
    expect(first).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(first).toContain("# TYPE process_resident_memory_bytes gauge");
    expect(valueIn(first, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(valueIn(first, "process_cpu_seconds_total")).toBeCloseTo(valueIn(first, "process_cpu_user_seconds_total") + valueIn(first, "process_cpu_system_seconds_total"), 1);
    const startedAt = Date.now() / 1000 - process.uptime();
    expect(Math.abs(valueIn(first, "process_start_time_seconds") - startedAt)).toBeLessThan(2);
    expect(Math.abs(valueIn(first, "process_resident_memory_bytes") - process.memoryUsage.rss())).toBeLessThan(16 * 2 ** 20);
    expect(valueIn(first, "process_open_fds")).toBeGreaterThan(2);
    expect(valueIn(first, "process_max_fds")).toBeGreaterThanOrEqual(valueIn(first, "process_open_fds"));
    // Burn some CPU: the next scrape reports more, not a value cached from the first.
    const until = performance.now() + 50;
    while (performance.now() < until);
    const second = await m.registry.metrics();
    expect(valueIn(second, "process_cpu_seconds_total")).toBeGreaterThan(valueIn(first, "process_cpu_seconds_total"));
  });
});
