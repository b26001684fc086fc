// Scenario start: bench/start.ts, unmodified, for the compiled binary with a 200-service config (start → ready median of 5, idle RSS).
//
// bench/start.ts reads its config from <its root>/deploy/examples/config.yaml and builds the binary
// with <its root>/scripts/build.sh. It is run from a shadow root (a temp dir) holding a copy of it,
// the 200-service config at that path, .cluster/env, node_modules (a link), and a scripts/build.sh
// that hands over this run's binary (built by the real scripts/build.sh) instead of building again.
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyAndWait, appBinary, BUN, deleteNamespace, deployment, freshNamespace, log, ROOT, serviceList, tmp } from "../lib.ts";
import { type ScenarioResult } from "../stats.ts";

const NS = "bench-start";
const SERVICES = Number(process.env.START_SERVICES ?? 200);
const RUNS = Number(process.env.START_RUNS ?? 5);

function shadowRoot(services: { kind: string; namespace: string; name: string }[]): string {
  const root = join(tmp, "start-root");
  for (const d of ["bench", "deploy/examples", "scripts", ".cluster"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(join(ROOT, "bench/start.ts"), join(root, "bench/start.ts"));
  copyFileSync(join(ROOT, ".cluster/env"), join(root, ".cluster/env"));
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  writeFileSync(join(root, "deploy/examples/config.yaml"), `services:\n${services.map((s) => `  - ${JSON.stringify(s)}`).join("\n")}\n`);
  writeFileSync(join(root, "scripts/build.sh"), `#!/bin/sh\nexec cp ${JSON.stringify(appBinary())} "$1"\n`, { mode: 0o755 });
  return root;
}

export async function start(): Promise<ScenarioResult> {
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${String(i).padStart(3, "0")}`);
  await freshNamespace(NS);
  try {
    log(`start: creating ${SERVICES} Deployments in ${NS}`);
    await applyAndWait(NS, names.map((n) => deployment(NS, n)));
    const root = shadowRoot(serviceList(NS, names));
    log(`start: running bench/start.ts (RUNS=${RUNS}, VARIANTS=compiled) from ${root}`);
    const p = Bun.spawn([BUN, join(root, "bench/start.ts")], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", RUNS: String(RUNS), VARIANTS: "compiled", SOCKETS: "0", PAGES: "0" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`bench/start.ts failed (${code}): ${err}\n${out}`);
    const row = out.split("\n").find((l) => l.startsWith("| compiled"));
    if (!row) throw new Error(`bench/start.ts printed no compiled row:\n${out}`);
    const [, size, first, range, ready, rss, peak] = row.split("|").slice(1, -1).map((c) => c.trim());
    return {
      rows: [
        {
          metric: `start → ready (/readyz 200), ${SERVICES} services, median of ${RUNS}`,
          ours: ready!,
          original: "—",
          ratio: "—",
          note: `start → first response ${first} (${range}); binary ${size}; by bench/start.ts`,
        },
        {
          metric: `idle RSS, ${SERVICES} services (2 s after ready, median of ${RUNS})`,
          ours: rss!,
          original: "—",
          ratio: "—",
          note: `peak RSS ${peak}; the original's figures are not derivable from its design`,
        },
      ],
      details: { services: SERVICES, runs: RUNS, startTs: out.trim(), parsed: { size, first, range, ready, rss, peak } },
    };
  } finally {
    await deleteNamespace(NS);
  }
}
