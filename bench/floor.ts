// The footprint floor: the smallest Bun.serve program, compiled like the app, answering 200 on every path.
//
// With FLOOR_TLS=1 it also makes one HTTPS request to the API server the way the app's in-cluster
// credentials do (KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount token and CA from
// SERVICE_ACCOUNT_DIR), to show what Bun's TLS client alone costs.
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
export {};
