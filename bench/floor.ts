// The footprint floor: the smallest Bun.serve program, compiled like the app, answering 200 on every path.
//
// With FLOOR_TLS=1 it also makes one HTTPS request to the API server the way the app's in-cluster
// credentials do (KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount token and CA from
// SERVICE_ACCOUNT_DIR), to show what Bun's TLS client alone costs.
//
// With FLOOR_PROM=1 it also loads prom-client (dynamic import: a separate chunk with --splitting,
// loaded only then) the way src/metrics.ts does — its Registry, Counter and Gauge files, not its
// index — registers a counter and a gauge as the app does, without default metrics, and renders the
// registry once: what keeping prom-client costs, measured rather than guessed.
const at = /^(.*):(\d+)$/.exec(process.env.LISTEN_ADDRESS ?? "127.0.0.1:8080")!;
Bun.serve({ hostname: at[1] || "0.0.0.0", port: Number(at[2]), fetch: () => new Response("ok\n") });
if (process.env.FLOOR_TLS === "1") {
  const dir = process.env.SERVICE_ACCOUNT_DIR!;
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  const res = await fetch(`https://${host}:${port}/version`, {
    headers: { Authorization: `Bearer ${(await Bun.file(`${dir}/token`).text()).trim()}` },
    tls: { ca: await Bun.file(`${dir}/ca.crt`).text() },
  });
  if (!res.ok) throw new Error(`GET /version: ${res.status}`);
  await res.text();
}
if (process.env.FLOOR_PROM === "1") {
  const [{ default: Counter }, { default: Gauge }, { default: Registry }] = await Promise.all([
    import("prom-client/lib/counter"),
    import("prom-client/lib/gauge"),
    import("prom-client/lib/registry"),
  ]);
  const registry = new Registry();
  new Counter({ name: "floor_requests_total", help: "requests", labelNames: ["path"], registers: [registry] }).inc({ path: "/" });
  new Gauge({ name: "floor_rss_bytes", help: "RSS", registers: [registry], collect() {
    this.set(process.memoryUsage.rss());
  } });
  await registry.metrics();
}
export {};
