// e2e for the container alone: the image built from the Dockerfile (make image), run by podman read-only as 65532:65532 without capabilities, with in-cluster credentials mounted as a kubelet would.
//
// The quick check when no node is needed: the same image tests/e2e/node.test.ts runs as a Pod.
// Run as root (podman here needs it; CI is root).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { leaseName } from "../../src/kube/lock.ts";
import { type ServiceKey } from "../../src/config/file.ts";
import { spawnApp, type SpawnedApp } from "../support/process.ts";
import { ensureImage, imageConfig, PODMAN, podman } from "../support/image.ts";
import { auditEvents } from "../support/audit.ts";
import { cluster, getJson, kubectl, renderRehomed, restartedAt, ROOT, tempDir, waitFor, waitRollout } from "../support/harness.ts";

const NS = "k8s-restart-app-container";
const SA = "k8s-restart-app";
const SUFFIX = "-e2e-container"; // on the ClusterRole/ClusterRoleBinding names, so they collide with nobody's
const TARGET: ServiceKey = { kind: "Deployment", namespace: NS, name: "container-target" };
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** deploy/base's securityContext, in podman's words. */
const HARDENED = ["--read-only", "--user", "65532:65532", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];
const VERSION = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;

const targetDeployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: TARGET.name, namespace: NS },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: TARGET.name } },
    template: {
      metadata: { labels: { app: TARGET.name } },
      spec: {
        nodeSelector: { type: "kwok" },
        tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
        terminationGracePeriodSeconds: 2,
        containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }],
      },
    },
  },
};

let tag = "";
let rbacObjects: Record<string, any>[] = [];
const scratch: string[] = [];
const containers: string[] = [];

/** A unique container name, removed at the end whatever happens. */
function containerName(what: string): string {
  const n = `k8s-restart-app-e2e-${what}-${process.pid}-${containers.length}`;
  containers.push(n);
  return n;
}

beforeAll(async () => {
  tag = ensureImage();
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
  await kubectl(["create", "namespace", NS]);
  const docs = await renderRehomed(join(ROOT, "deploy/base"), NS, SUFFIX);
  rbacObjects = docs.filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: rbacObjects.map((o) => JSON.stringify(o)).join("\n") });
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: JSON.stringify(targetDeployment) });
  await waitRollout(TARGET.kind, NS, TARGET.name);
}, 900_000);

afterAll(async () => {
  for (const c of containers) Bun.spawnSync([PODMAN, "rm", "-f", "-t", "0", c], { stdout: "ignore", stderr: "ignore" });
  for (const o of rbacObjects.filter((o) => o.kind.startsWith("Cluster"))) {
    await kubectl(["delete", o.kind.toLowerCase(), o.metadata.name, "--ignore-not-found"], { allowFail: true });
  }
  await kubectl(["delete", "namespace", NS, "--wait=false", "--ignore-not-found"], { allowFail: true });
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe("the image (make image: the Dockerfile built by podman)", () => {
  test("runs as 65532:65532 by default, the binary as entrypoint, labelled with the commit", () => {
    const c = imageConfig(tag);
    expect(c.User).toBe("65532:65532");
    expect(c.Entrypoint).toEqual(["/k8s-restart-app"]);
    expect(c.Env).toContain("CONFIG_FILE_PATH=/etc/k8s-restart-app/config.yaml");
    expect(c.Labels["org.opencontainers.image.revision"]).toMatch(/^[0-9a-f]{7,}(-dirty)?$/);
    console.error(`container: ${tag} is ${Math.round(c.size / 1e6)} MB`);
  });

  test("--version prints package.json's version and the commit of the label, read-only as 65532 without capabilities", () => {
    const out = podman(["run", "--rm", ...HARDENED, tag, "--version"]).trim();
    expect(out).toBe(`k8s-restart-app ${VERSION} (commit ${imageConfig(tag).Labels["org.opencontainers.image.revision"]})`);
  });

  test("--help prints the usage (subcommands, every variable, the docs) and exits 0; an unknown argument exits 2 with it", () => {
    const help = Bun.spawnSync([PODMAN, "run", "--rm", ...HARDENED, tag, "--help"], { stdout: "pipe", stderr: "pipe" });
    expect(help.exitCode).toBe(0);
    const text = help.stdout.toString();
    for (const want of ["rbac", "LISTEN_ADDRESS", "CONFIG_FILE_PATH", "SERVICE_ACCOUNT_DIR", "https://"]) expect(text).toContain(want);
    const bad = Bun.spawnSync([PODMAN, "run", "--rm", ...HARDENED, tag, "--bogus"], { stdout: "pipe", stderr: "pipe" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString() + bad.stdout.toString()).toContain("LISTEN_ADDRESS");
  });

  test("holds no shell: /bin/sh cannot be started in it", () => {
    const r = Bun.spawnSync([PODMAN, "run", "--rm", ...HARDENED, "--entrypoint", "/bin/sh", tag, "-c", "true"], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/no such file or directory|not found/i);
  });
});

describe("the container alone, in-cluster credentials (podman run --read-only --user 65532:65532 --cap-drop ALL)", () => {
  let app: SpawnedApp;
  let name = "";
  const entries = () =>
    app.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, any>];
      } catch {
        return [];
      }
    });

  beforeAll(async () => {
    // What the kubelet mounts: a token of the ServiceAccount, the cluster CA, the namespace.
    const dir = tempDir("k8s-restart-app-container-");
    scratch.push(dir);
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, "sa"), { mode: 0o755 });
    writeFileSync(join(dir, "sa/token"), (await kubectl(["-n", NS, "create", "token", SA, "--duration=1h"])).trim(), { mode: 0o644 });
    writeFileSync(join(dir, "sa/ca.crt"), readFileSync(cluster.CA_FILE), { mode: 0o644 });
    writeFileSync(join(dir, "sa/namespace"), NS, { mode: 0o644 });
    writeFileSync(join(dir, "config.yaml"), `services:\n  - {kind: ${TARGET.kind}, name: ${TARGET.name}, namespace: ${TARGET.namespace}}\n`, { mode: 0o644 });
    const api = new URL(cluster.APISERVER);
    name = containerName("alone");
    app = await spawnApp(
      [
        PODMAN, "run", "--rm", "--name", name, ...HARDENED,
        "-v", `${join(dir, "sa")}:${SA_DIR}:ro`,
        "-v", `${join(dir, "config.yaml")}:/etc/k8s-restart-app/config.yaml:ro`,
        // The host's network (scripts/podman.sh): a free loopback port, the API server on loopback.
        "-e", "LISTEN_ADDRESS=127.0.0.1:0", "-e", "LISTEN_MONITORING_ADDRESS=127.0.0.1:0",
        "-e", `KUBERNETES_SERVICE_HOST=${api.hostname}`, "-e", `KUBERNETES_SERVICE_PORT=${api.port || "443"}`,
        // Empty: in-cluster config, locks in the ServiceAccount's namespace (deploy/base sets it from the pod).
        "-e", "KUBE_CONFIG_PATH=", "-e", "LOCK_NAMESPACE=", "-e", "RATE_LIMIT_PER_MINUTE=0",
        tag,
      ],
      { cwd: dir, env: {}, listenTimeoutMs: 60_000 },
    );
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, 30_000, "the container's /readyz");
  }, 120_000);

  afterAll(async () => {
    if (app && app.proc.exitCode === null) app.proc.kill("SIGKILL");
  });

  test("reaches the API server through the mounted token and CA, locks in the mounted namespace", () => {
    const listening = entries().find((e) => e.msg === "listening")!;
    expect(listening.server).toBe(cluster.APISERVER.replace(/\/+$/, ""));
    expect(listening.lockNamespace).toBe(NS);
  });

  test("PID 1 of the container runs as 65532:65532 without capabilities, on a read-only root", () => {
    const pid = podman(["inspect", "--format", "{{.State.Pid}}", name]).trim();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(/^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(/^CapEff:\s+(\S+)$/m.exec(status)![1]).toBe("0000000000000000");
    expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)![1]).toBe("1");
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe("/k8s-restart-app");
    // mountinfo: "id parent major:minor root mountpoint options ..." — the root mount's options.
    const rootMount = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").find((l) => l.split(" ")[4] === "/")!;
    expect(rootMount.split(" ")[5]!.split(",")).toContain("ro");
  });

  test("/ lists the configured service, /metrics reports the image's version, /readyz has no permission problem", async () => {
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(TARGET.name);
    expect((await fetch(`${app.url}/static/htmx.min.js`)).status).toBe(200);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const commit = imageConfig(tag).Labels["org.opencontainers.image.revision"];
    expect(metrics).toContain(`restart_app_build_info{version="${VERSION}",commit="${commit}"} 1`);
    await Bun.sleep(1000); // the permission self-check runs right after start
    const ready = await fetch(`${app.url}/readyz`);
    const body = await ready.text();
    expect(ready.status).toBe(200);
    expect(body).not.toContain("missing permission");
    expect(body).not.toContain("self-check failed");
  });

  test("a restart is 200, made as the ServiceAccount, and its Lease lock is taken and released", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const before = await restartedAt(TARGET.kind, NS, TARGET.name);
    const res = await fetch(`${app.url}/api/v1/service/${TARGET.kind}/${NS}/${TARGET.name}/restart`, { method: "POST" });
    const body = (await res.json()) as Record<string, any>;
    expect(res.status).toBe(200);
    expect(body.status).toBe("restarting");
    const after = await restartedAt(TARGET.kind, NS, TARGET.name);
    expect(after).not.toBe(before);
    expect(after).toBe(body.restarted_at);
    const patches = () => auditEvents(since, (e) => e.verb === "patch" && e.objectRef?.namespace === NS && e.objectRef?.name === TARGET.name);
    await waitFor(() => patches().length > 0, 10_000, "the PATCH in the audit log");
    expect(patches()[0]!.responseStatus?.code).toBe(200);
    expect(patches()[0]!.user.username).toBe(`system:serviceaccount:${NS}:${SA}`);
    await waitRollout(TARGET.kind, NS, TARGET.name);
    await waitFor(
      async () => {
        const lease = await getJson(["-n", NS, "get", "lease", leaseName(TARGET)]);
        return Date.parse(lease.spec?.acquireTime ?? "") >= Date.parse(since) && !lease.spec?.holderIdentity;
      },
      30_000,
      "the restart lock (Lease) to be taken for this restart and released",
      250,
    );
  }, 90_000);

  test("podman stop ends it within the grace period: SIGTERM to PID 1, exit 0, no error logged", async () => {
    const grace = 10; // deploy/base's terminationGracePeriodSeconds
    const t0 = performance.now();
    podman(["stop", "-t", String(grace), name]);
    const secs = (performance.now() - t0) / 1000;
    const code = await app.proc.exited;
    console.error(`container: podman stop took ${secs.toFixed(2)} s`);
    expect(secs).toBeLessThan(grace);
    expect(code).toBe(0); // podman run exits with the container's code: 137 had it been killed
    expect(entries().find((e) => e.msg === "shutting down")?.signal).toBe("SIGTERM");
    expect(entries().filter((e) => e.level === "error")).toEqual([]);
  }, 30_000);
});
