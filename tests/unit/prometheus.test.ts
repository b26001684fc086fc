// Covers src/prometheus.ts (the text exposition and the process metrics) and src/metrics.ts (the app's metric names).
import { describe, expect, test } from "bun:test";
import { makeMetrics } from "../../src/metrics.ts";
import { Counter, Gauge, Registry, registerProcessMetrics } from "../../src/prometheus.ts";

describe("exposition", () => {
  test("counters and gauges print HELP, TYPE and one line per label set, escaped", async () => {
    const r = new Registry();
    const c = new Counter({ name: "x_total", help: "a \\ help\nline", labelNames: ["a", "b"] as const, registry: r });
    const g = new Gauge({ name: "g", help: "a gauge", registry: r });
    c.inc({ a: "1", b: 'q"\\\n' });
    c.inc({ a: "1", b: 'q"\\\n' }, 2);
    c.inc({ a: "2", b: "" });
    g.set(5);
    g.dec();
    expect(await r.metrics()).toBe(
      [
        "# HELP x_total a \\\\ help\\nline",
        "# TYPE x_total counter",
        'x_total{a="1",b="q\\"\\\\\\n"} 3',
        'x_total{a="2",b=""} 1',
        "",
        "# HELP g a gauge",
        "# TYPE g gauge",
        "g 4",
        "",
      ].join("\n"),
    );
  });

  test("a labelled metric with no samples prints only its header; an unlabelled one prints 0", async () => {
    const r = new Registry();
    new Counter({ name: "none_total", help: "h", labelNames: ["k"] as const, registry: r });
    new Gauge({ name: "zero", help: "h", registry: r });
    expect(await r.metrics()).toBe("# HELP none_total h\n# TYPE none_total counter\n\n# HELP zero h\n# TYPE zero gauge\nzero 0\n");
  });

  test("a counter refuses to go down, a missing label and a duplicate name are errors", () => {
    const r = new Registry();
    const c = new Counter({ name: "c_total", help: "h", labelNames: ["k"] as const, registry: r });
    expect(() => c.inc({ k: "a" }, -1)).toThrow(/only goes up/);
    expect(() => c.inc({} as never)).toThrow(/label k is missing/);
    expect(() => new Gauge({ name: "c_total", help: "h", registry: r })).toThrow(/registered twice/);
  });
});

describe("process metrics", () => {
  test("are read at scrape time under the usual names", async () => {
    const r = new Registry();
    registerProcessMetrics(r, () => 1_000_000_000_000 + process.uptime() * 1000);
    // The fd limit is read once in the background.
    await Bun.sleep(50);
    const text = await r.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(value("process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(value("process_cpu_seconds_total")).toBeCloseTo(value("process_cpu_user_seconds_total") + value("process_cpu_system_seconds_total"), 1);
    expect(value("process_start_time_seconds")).toBe(1_000_000_000);
    // Our own RSS as the kernel reports it, within 16 MiB of a separate reading.
    expect(Math.abs(value("process_resident_memory_bytes") - process.memoryUsage.rss())).toBeLessThan(16 * 2 ** 20);
    expect(value("process_open_fds")).toBeGreaterThan(2);
    expect(value("process_max_fds")).toBeGreaterThanOrEqual(value("process_open_fds"));
  });
});

describe("the app's metrics", () => {
  test("keep the original names, and carry no runtime-internal metrics", async () => {
    const m = makeMetrics({ version: "1.2.3", commit: "abc" });
    m.restarts.inc({ kind: "Deployment", namespace: "shop", name: "web" });
    m.watchers.inc({ kind: "Deployment", namespace: "shop", name: "web" });
    const text = await m.registry.metrics();
    expect(text).toContain('restart_app_build_info{version="1.2.3",commit="abc"} 1');
    expect(text).toContain('restart_app_restarts_total{kind="Deployment",namespace="shop",name="web"} 1');
    expect(text).toContain('restart_app_connected_status_watchers{kind="Deployment",namespace="shop",name="web"} 1');
    expect(text).toContain("restart_app_watch_connected 0");
    expect(text).toContain("# TYPE restart_app_restarts_failed_total counter");
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1]);
    expect(names.filter((n) => n!.startsWith("process_")).sort()).toEqual([
      "process_cpu_seconds_total",
      "process_cpu_system_seconds_total",
      "process_cpu_user_seconds_total",
      "process_max_fds",
      "process_open_fds",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
    ]);
    expect(names.some((n) => n!.startsWith("nodejs_"))).toBe(false);
  });
});
