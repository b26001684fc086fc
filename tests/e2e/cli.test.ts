// e2e: the binary's command line (help, unknown arguments, rbac --help) and the kubeconfig fallback to KUBECONFIG and ~/.kube/config, against the real control plane.
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cluster, ROOT, startApp, tempDir, waitFor } from "../support/harness.ts";

async function run(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, "run", join(ROOT, "src/main.ts"), ...args], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? "", HOME: tempDir(), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

describe("command line", () => {
  test("--help, -h and help print the usage (subcommands, every variable with its default, the docs) and exit 0 without serving", async () => {
    for (const arg of ["--help", "-h", "help"]) {
      const r = await run([arg], { LISTEN_ADDRESS: "127.0.0.1:1" });
      expect([arg, r.code]).toEqual([arg, 0]);
      expect(r.stdout).toContain("Usage:");
      expect(r.stdout).toContain("rbac");
      expect(r.stdout).toContain("WATCH_INTERVAL");
      expect(r.stdout).toContain("(default: 10)");
      expect(r.stdout).toContain("Documentation: https://");
      expect(r.stdout).not.toContain('"msg":"listening"');
    }
  });

  test("an unknown argument exits 2 with the usage on stderr", async () => {
    const r = await run(["--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith('k8s-restart-app: unknown argument "--bogus"');
    expect(r.stderr).toContain("Usage:");
    expect(r.stdout).toBe("");
  });

  test("rbac --help explains the subcommand and exits 0; rbac with a bad argument exits 2", async () => {
    const r = await run(["rbac", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: k8s-restart-app rbac");
    expect(r.stdout).toContain("--cluster-role");
    const bad = await run(["rbac", "--nope"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('rbac: unknown argument "--nope"');
  });
});

describe("kubeconfig when KUBE_CONFIG_PATH is empty outside a cluster", () => {
  const SERVICES = [{ kind: "Deployment", name: "web", namespace: "shop" }];

  test("KUBECONFIG is used (first existing file of the list), and the log says so", async () => {
    const app = await startApp({ services: SERVICES, env: { KUBE_CONFIG_PATH: "", KUBECONFIG: `/nonexistent/kc:${cluster.KUBECONFIG}` } });
    const listening = app.entries().find((e) => e.msg === "listening")!;
    expect(listening.kubeconfig).toEqual({ path: cluster.KUBECONFIG, source: "KUBECONFIG" });
    expect((await (await fetch(`${app.url}/api/v1/service/Deployment/shop/web`)).json()).status.rollout).not.toBe("unknown");
    await app.stop();
  });

  test("then ~/.kube/config", async () => {
    const home = tempDir();
    mkdirSync(join(home, ".kube"));
    copyFileSync(cluster.KUBECONFIG, join(home, ".kube", "config"));
    const app = await startApp({ services: SERVICES, env: { KUBE_CONFIG_PATH: "", HOME: home } });
    const listening = app.entries().find((e) => e.msg === "listening")!;
    expect(listening.kubeconfig).toEqual({ path: join(home, ".kube", "config"), source: "~/.kube/config" });
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    await app.stop();
  });

  test("none at all: exit 2 naming KUBE_CONFIG_PATH", async () => {
    const r = await run([], { KUBE_CONFIG_PATH: "", CONFIG_FILE_PATH: join(ROOT, "deploy/examples/config.yaml"), LISTEN_ADDRESS: "127.0.0.1:0", LISTEN_MONITORING_ADDRESS: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("KUBE_CONFIG_PATH: empty, and no other kubeconfig found");
  });
});

describe("logs and configuration mistakes", () => {
  test("a misspelled key stops the app (exit 2) naming it with a suggestion, also as one JSON log line", async () => {
    const dir = tempDir();
    const cfg = join(dir, "config.yaml");
    await Bun.write(cfg, "services:\n  - kind: Deployment\n    name: web\n    namepsace: shop\n");
    const r = await run([], { CONFIG_FILE_PATH: cfg, KUBE_CONFIG_PATH: cluster.KUBECONFIG, LISTEN_ADDRESS: "127.0.0.1:0", LISTEN_MONITORING_ADDRESS: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${cfg}: services[0].namepsace: unknown key (did you mean namespace?)`);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", msg: "configuration error", error: `${cfg}: services[0].namepsace: unknown key (did you mean namespace?)` });
  });

  test("an empty allow-list is a warning at start; LOG_LEVEL=debug adds one access line per API request", async () => {
    const app = await startApp({ configYaml: "services: []\n", env: { LOG_LEVEL: "debug" } });
    expect(app.entries().some((e) => e.level === "warn" && String(e.msg).endsWith("the services list is empty: nothing can be seen or restarted"))).toBe(true);
    const res = await fetch(`${app.url}/api/v1/service`, { headers: { "X-Request-Id": "access-1" } });
    expect(res.status).toBe(200);
    await fetch(`${app.url}/healthz`);
    await waitFor(() => app.entries().some((e) => e.msg === "request"), 5000, "the access line");
    const access = app.entries().filter((e) => e.msg === "request");
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ level: "debug", method: "GET", path: "/api/v1/service", status: 200, request_id: "access-1" });
    await app.stop();
  });
});
