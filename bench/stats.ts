// Numbers: process RSS/CPU from /proc, percentiles, result rows and ratios.
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 1000 / 100; // CLK_TCK is 100 on Linux

export function procStats(pid: number): { rssKb: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (1-based over the whole line).
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuMs = (Number(rest[11]) + Number(rest[12])) * TICK_MS;
  return { rssKb, cpuMs };
}

/**
 * CPU time (ms) used so far by every process on the machine, summed per command name (for "where
 * did the time go"); `labels` names chosen pids (the app, the client) instead of their command.
 */
export function cpuByCommand(labels: Record<number, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = labels[Number(pid)] ?? stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Kernel threads (children of kthreadd, pid 2) rename themselves per work item: their deltas are meaningless.
      if (pid === "2" || rest[1] === "2") continue;
      out.set(comm, (out.get(comm) ?? 0) + (Number(rest[11]) + Number(rest[12])) * TICK_MS);
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

/** The busiest commands between two cpuByCommand() snapshots, e.g. { "kube-apiserver": 40, "bun": 30 }. */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>, top = 6): Record<string, number> {
  return Object.fromEntries(
    [...after]
      .map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    min: r(s[0] ?? NaN),
    p50: r(percentile(s, 50)),
    p99: r(percentile(s, 99)),
    max: r(s.at(-1) ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Runs `fn` at most `limit` at a time over `n` indexes. */
export async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

export interface Row {
  metric: string;
  ours: string;
  original: string;
  ratio: string;
  note: string;
}

export interface ScenarioResult {
  rows: Row[];
  details: Record<string, unknown>;
}

/** original ÷ ours for "lower is better" metrics, as "N×" (how many times less ours needs). */
export function ratio(original: number, ours: number): string {
  if (!Number.isFinite(original) || !Number.isFinite(ours)) return "—";
  if (ours === 0) return original === 0 ? "1×" : "∞ (ours 0)";
  const r = original / ours;
  return r >= 10 ? `${Math.round(r)}×` : `${r.toFixed(2)}×`;
}
