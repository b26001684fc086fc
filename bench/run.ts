// Bench entry point: runs the chosen scenarios against the real control plane, prints one table, writes bench/results/<scenario>.json.
//
// Usage: node_modules/.bin/bun bench/run.ts [api-load status-latency fanout contention startup-at-scale slow-readers footprint scale scale-stress page]
// (no argument = all, in that order). APP_BIN=dist/k8s-restart-app skips the build.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { appBinary, appVersion, cluster, kubectl, log, ROOT, tmp } from "./lib.ts";
import { cpuByCommand, cpuDelta, type Row, type ScenarioResult } from "./stats.ts";
import { apiLoad } from "./scenarios/api-load.ts";
import { contention } from "./scenarios/contention.ts";
import { fanout } from "./scenarios/fanout.ts";
import { footprint } from "./scenarios/footprint.ts";
import { page } from "./scenarios/page.ts";
import { slowReaders } from "./scenarios/slow-readers.ts";
import { startupAtScale } from "./scenarios/startup-at-scale.ts";
import { scale, scaleStress } from "./scenarios/scale.ts";
import { statusLatency } from "./scenarios/status-latency.ts";

const SCENARIOS: Record<string, () => Promise<ScenarioResult>> = {
  "api-load": apiLoad,
  "status-latency": statusLatency,
  fanout,
  contention,
  "startup-at-scale": startupAtScale,
  "slow-readers": slowReaders,
  footprint,
  scale,
  "scale-stress": scaleStress,
  page,
};

const chosen = process.argv.slice(2);
for (const s of chosen) if (!SCENARIOS[s]) throw new Error(`unknown scenario ${s}; known: ${Object.keys(SCENARIOS).join(", ")}`);
const names = chosen.length ? chosen : Object.keys(SCENARIOS);

appBinary();
const machine = {
  app: appVersion(),
  bun: Bun.version,
  cpus: cpus().length,
  memMiB: Math.round(totalmem() / 2 ** 20),
  kubernetes: JSON.parse(await kubectl(["version", "-o", "json"])).serverVersion?.gitVersion,
  apiserver: cluster.APISERVER,
};
log(`machine: ${JSON.stringify(machine)}`);

const table: (Row & { scenario: string })[] = [];
const failures: string[] = [];
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
for (const name of names) {
  log(`=== ${name}`);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const cpu0 = cpuByCommand({ [process.pid]: "bench runner" });
  const load0 = loadavg();
  try {
    const r = await SCENARIOS[name]!();
    // The machine is shared (other engineers' suites, a second cluster): record who else used the 2
    // cores meanwhile. Only processes alive at both ends are seen (the app, once stopped, is not).
    const busiest = cpuDelta(cpu0, cpuByCommand({ [process.pid]: "bench runner" }), 10);
    for (const row of r.rows) table.push({ scenario: name, ...row });
    const file = join(ROOT, "bench/results", `${name}.json`);
    const durationSec = Math.round((performance.now() - t0) / 100) / 10;
    writeFileSync(file, `${JSON.stringify({ scenario: name, startedAt, durationSec, machine, load: { loadavgBefore: load0, loadavgAfter: loadavg(), cpuMsByCommand: busiest }, rows: r.rows, details: r.details }, null, 2)}\n`);
    log(`${name}: done in ${durationSec} s → ${file}`);
  } catch (e) {
    failures.push(`${name}: ${(e as Error).stack ?? e}`);
    table.push({ scenario: name, metric: "FAILED", ours: String((e as Error).message).split("\n")[0]!.slice(0, 120), original: "", ratio: "", note: "" });
    log(`${name}: FAILED: ${(e as Error).stack ?? e}`);
  }
}
rmSync(tmp, { recursive: true, force: true });

const header = ["scenario", "metric", "ours", "original", "ratio", "note"] as const;
const cells = table.map((r) => header.map((h) => r[h]));
const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
const line = (c: readonly string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`\nk8s-restart-app benchmarks — ${machine.app}, Bun ${machine.bun}, ${machine.cpus} CPUs, Kubernetes ${machine.kubernetes}`);
console.log("original = the Go tool's figure MEASURED SEPARATELY on the same machine kind (bench/original.ts), not in this run; empty where nothing comparable was measured\n");
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const c of cells) console.log(line(c));
if (failures.length) {
  console.error(`\n${failures.length} scenario(s) failed:\n${failures.join("\n\n")}`);
  process.exit(1);
}
