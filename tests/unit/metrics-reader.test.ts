// Covers tests/support/metrics.ts, the /metrics reader the e2e suites and benchmarks compare numbers with, on prom-client's own output.
import { describe, expect, test } from "bun:test";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { parseMetrics } from "../support/metrics.ts";

describe("parseMetrics", () => {
  test("reads counters, gauges and histograms as prom-client writes them, labels unescaped", async () => {
    const registry = new Registry();
    const restarts = new Counter({ name: "x_restarts_total", help: "h", labelNames: ["kind", "name"], registers: [registry] });
    restarts.inc({ kind: "Deployment", name: "web" }, 3);
    restarts.inc({ kind: "StatefulSet", name: 'quote " back \\ slash' }, 1);
    new Gauge({ name: "x_connected", help: "h", registers: [registry] }).set(-2.5);
    new Histogram({ name: "x_seconds", help: "h", buckets: [0.1], registers: [registry] }).observe(0.05);
    const m = parseMetrics(await registry.metrics());
    expect(m.value("x_restarts_total", { kind: "Deployment", name: "web" })).toBe(3);
    expect(m.value("x_restarts_total", { name: 'quote " back \\ slash' })).toBe(1);
    expect(m.value("x_connected")).toBe(-2.5);
    expect(m.value("x_seconds_bucket", { le: "+Inf" })).toBe(1);
    expect(m.value("x_seconds_sum")).toBe(0.05);
    expect(m.value("x_restarts_total", { kind: "DaemonSet" })).toBeUndefined();
  });

  test("several matching samples are an error, not the first one", () => {
    const m = parseMetrics('a_total{k="1"} 1\na_total{k="2"} 2\n');
    expect(() => m.value("a_total")).toThrow(/2 samples of a_total/);
    expect(m.value("a_total", { k: "2" })).toBe(2);
  });

  test("special values, timestamps and comments", () => {
    const m = parseMetrics("# HELP b h\n# TYPE b gauge\nb +Inf\nc NaN 1700000000000\n\nd 1.5e-3\n");
    expect(m.value("b")).toBe(Infinity);
    expect(m.value("c")).toBeNaN();
    expect(m.value("d")).toBe(0.0015);
  });

  test("an unreadable line is an error naming it", () => {
    expect(() => parseMetrics("x{k=1} 2\n")).toThrow(/unreadable labels in "x\{k=1\} 2"/);
    expect(() => parseMetrics("x twelve\n")).toThrow(/unreadable value/);
  });
});
