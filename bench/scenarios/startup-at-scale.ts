// Scenario startup-at-scale: bench/startup-footprint.ts for the compiled binary with a 200-service config (start → ready median of 5, idle RSS).
import { join } from "node:path";
import { applyAndWait, appBinary, BUN, deleteNamespace, deployment, freshNamespace, log, ROOT, serviceList, writeConfig } from "../lib.ts";
import { measured, ORIGINAL } from "../original.ts";
import { type ScenarioResult } from "../stats.ts";

const NS = "bench-start";
const SERVICES = Number(process.env.START_SERVICES ?? 200);
const RUNS = Number(process.env.START_RUNS ?? 5);

export async function startupAtScale(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(3, "0")}`);
  await freshNamespace(NS);
  try {
    log(`startup-at-scale: creating ${SERVICES} Deployments in ${NS}`);
    await applyAndWait(NS, names.map((n) => deployment(NS, n)));
    const config = writeConfig("start-services", serviceList(NS, names));
    log(`startup-at-scale: running bench/startup-footprint.ts (RUNS=${RUNS}, VARIANTS=compiled) with ${config}`);
    const p = Bun.spawn([BUN, join(ROOT, "bench/startup-footprint.ts")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        ...(process.env.CLUSTER_ENV_FILE ? { CLUSTER_ENV_FILE: process.env.CLUSTER_ENV_FILE } : {}),
        RUNS: String(RUNS),
        VARIANTS: "compiled",
        SOCKETS: "0",
        PAGES: "0",
        START_CONFIG: config,
        APP_BIN: appBinary(),
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`bench/startup-footprint.ts failed (${code}): ${err}\n${out}`);
    const row = out.split("\n").find((l) => l.startsWith("| compiled"));
    if (!row) throw new Error(`bench/startup-footprint.ts printed no compiled row:\n${out}`);
    const [, size, first, range, ready, rss, peak] = row.split("|").slice(1, -1).map((c) => c.trim());
    return {
      rows: [
        {
          metric: `start → ready (/readyz 200), ${SERVICES} services, median of ${RUNS}`,
          ours: ready!,
          original: "",
          ratio: "",
          note: `start → first response ${first} (${range}); binary ${size}; by bench/startup-footprint.ts`,
        },
        {
          metric: `idle RSS, ${SERVICES} services (2 s after ready, median of ${RUNS})`,
          ours: rss!,
          original: SERVICES === ORIGINAL.services ? measured(`${ORIGINAL.idleRssMiB} MiB`) : "",
          ratio: "",
          note: `peak RSS ${peak}`,
        },
      ],
      details: { services: SERVICES, runs: RUNS, footprintOutput: out.trim(), parsed: { size, first, range, ready, rss, peak } },
    };
  } finally {
    await deleteNamespace(NS);
  }
}
