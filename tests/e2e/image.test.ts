// e2e for the image's promise without Docker: the compiled binary + glibc alone, read-only chroot, uid 65532, kubeconfig and in-cluster auth.
//
// The Dockerfile's run stage is distroless/base (glibc, no shell, no package manager) + the
// binary, run as 65532:65532 with a read-only root (deploy/base). This suite builds the closest
// thing without a container engine: a root filesystem holding ONLY dist/k8s-restart-app, the
// shared libraries `ldd` lists (at the same paths), the config and the credentials — no /etc
// (so no passwd entry for 65532), no /tmp, no shell — bind-mounted read-only, with /proc mounted
// (every container runtime mounts it; Bun aborts without it), and runs the binary in it with
// `chroot --userspec=65532:65532`. It must be run as root (CI is), because of mount and chroot.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { leaseName } from "../../src/kube/lock.ts";
import { type ServiceKey } from "../../src/config/file.ts";
import { auditEvents } from "../support/audit.ts";
import { type AppProcess, cluster, getJson, kubectl, openStatus, renderRehomed, restartedAt, ROOT, startApp, waitFor, waitRollout } from "../support/harness.ts";
import { readMetrics } from "../support/metrics.ts";
import { kwokDeployment, PAUSE_IMAGE } from "../support/workloads.ts";

const NS = "k8s-restart-app-image";
const SA = "k8s-restart-app";
const SUFFIX = "-e2e-image"; // on the ClusterRole/ClusterRoleBinding names, so they collide with nobody's
const BIN = join(ROOT, "dist/k8s-restart-app");
const TARGET: ServiceKey = { kind: "Deployment", namespace: NS, name: "image-target" };
const CONFIG_YAML = `services:\n  - {kind: ${TARGET.kind}, name: ${TARGET.name}, namespace: ${TARGET.namespace}}\n`;

/** Runs a command; a non-zero exit throws with the exact command, code and stderr (mount/chroot errors surface as is). */
function sh(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, env: opts.env ?? (process.env as Record<string, string>), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: exit ${r.exitCode}: ${r.stderr.toString().trim() || r.stdout.toString().trim()}`);
  return r.stdout.toString();
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newestMtime(join(path, n))));
}

/** Builds dist/k8s-restart-app when it is missing, older than what it is built from, or stamped with another commit. */
function ensureBinary(): void {
  const inputs = ["src", "templates", "static", "package.json", "package-lock.json", "scripts/build.sh"].map((p) => newestMtime(join(ROOT, p)));
  const head = sh(["git", "rev-parse", "--short", "HEAD"]).trim();
  const stale = !existsSync(BIN) || statSync(BIN).mtimeMs < Math.max(...inputs) || !sh([BIN, "--version"]).includes(`(commit ${head}`);
  if (stale) sh([join(ROOT, "scripts/build.sh")]);
}

/** version and commit as the binary reports them (`k8s-restart-app 0.1.0 (commit abc1234-dirty)`). */
function stamp(): { version: string; commit: string } {
  const m = /^k8s-restart-app (\S+) \(commit (\S+)\)$/.exec(sh([BIN, "--version"]).trim());
  if (!m) throw new Error(`${BIN} --version printed something unexpected`);
  return { version: m[1]!, commit: m[2]! };
}

/** The glibc files the binary loads, as `ldd` names them (what distroless/base ships). */
function sharedLibraries(): string[] {
  const libs = [...sh(["ldd", BIN]).matchAll(/(?:=>\s*|^\s*)(\/\S+)\s+\(0x/gm)].map((m) => m[1]!);
  if (!libs.some((l) => l.includes("libc.so"))) throw new Error(`ldd ${BIN} lists no libc: the parse is wrong`);
  return libs;
}

interface Rootfs {
  dir: string;
  /** Absolute paths of every regular file in the tree (relative to it). */
  files(): string[];
  unmount(): void;
}

/**
 * A read-only root with only the binary, its libraries and `extra` files (path → content),
 * /proc mounted. Directories 0755 and files 0644 (binary 0555), all owned by root: uid 65532
 * can read and execute, never write.
 */
function makeRootfs(name: string, extra: Record<string, string | Buffer>): Rootfs {
  const dir = mkdtempSync(join(tmpdir(), `k8s-restart-app-${name}-`));
  chmodSync(dir, 0o755);
  const put = (path: string, write: (p: string) => void, mode: number) => {
    const p = join(dir, path);
    let d = dirname(p);
    const made: string[] = [];
    while (!existsSync(d)) (made.push(d), (d = dirname(d)));
    mkdirSync(dirname(p), { recursive: true });
    for (const m of made) chmodSync(m, 0o755);
    write(p);
    chmodSync(p, mode);
  };
  put("/k8s-restart-app", (p) => copyFileSync(BIN, p), 0o555);
  for (const lib of sharedLibraries()) put(lib, (p) => copyFileSync(lib, p), 0o755); // copyFileSync follows symlinks
  for (const [path, content] of Object.entries(extra)) put(path, (p) => writeFileSync(p, content), 0o644);
  mkdirSync(join(dir, "proc"), { mode: 0o555 });

  const mounted: string[] = [];
  const unmount = () => {
    for (const m of mounted.splice(0).reverse()) {
      const r = Bun.spawnSync(["umount", m], { stderr: "pipe" });
      if (r.exitCode !== 0) Bun.spawnSync(["umount", "-l", m]); // busy: detach now, the kernel frees it when unused
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Bind the tree onto itself, then remount that bind read-only: the container's readOnlyRootFilesystem.
    sh(["mount", "--bind", dir, dir]);
    mounted.push(dir);
    sh(["mount", "-o", "remount,ro,bind", dir]);
    sh(["mount", "-t", "proc", "proc", join(dir, "proc")]);
    mounted.push(join(dir, "proc"));
  } catch (e) {
    unmount();
    throw e;
  }
  const files = () => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, n.name);
        if (p === join(dir, "proc")) continue;
        if (n.isDirectory()) walk(p);
        else out.push(`/${relative(dir, p)}`);
      }
    };
    walk(dir);
    return out.sort();
  };
  return { dir, files, unmount };
}

/** Starts the binary inside `root` through the harness (APP_BIN = a wrapper that chroots as 65532:65532). */
async function startInRoot(root: Rootfs, env: Record<string, string>): Promise<AppProcess> {
  const chroot = Bun.which("chroot") ?? "/usr/sbin/chroot";
  const wrapperDir = mkdtempSync(join(tmpdir(), "k8s-restart-app-chroot-"));
  scratch.push(wrapperDir);
  const wrapper = join(wrapperDir, "run");
  writeFileSync(wrapper, `#!/bin/sh\nexec ${chroot} --userspec=65532:65532 ${root.dir} /k8s-restart-app "$@"\n`, { mode: 0o755 });
  const before = process.env.APP_BIN;
  process.env.APP_BIN = wrapper;
  try {
    // CONFIG_FILE_PATH etc. are paths inside the root; the harness's own config file is unused.
    return await startApp({ env: { CONFIG_FILE_PATH: "/config.yaml", RATE_LIMIT_PER_MINUTE: "0", ...env } });
  } finally {
    if (before === undefined) delete process.env.APP_BIN;
    else process.env.APP_BIN = before;
  }
}

/** deploy/base's ServiceAccount and RBAC, moved into NS (cluster-scoped names suffixed), as kustomize renders them. */
async function baseRbac(): Promise<Record<string, any>[]> {
  const docs = await renderRehomed(join(ROOT, "deploy/base"), NS, SUFFIX);
  return docs.filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
}

const targetDeployment = kwokDeployment(NS, TARGET.name, { pod: { terminationGracePeriodSeconds: 2, containers: [{ name: "pause", image: PAUSE_IMAGE }] } });

let rbacObjects: Record<string, any>[] = [];
/** Temporary directories outside the roots, removed at the end. */
const scratch: string[] = [];

beforeAll(async () => {
  ensureBinary();
  // A fresh namespace every run; a previous run's may still be terminating: wait until it is gone.
  await kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
  await kubectl(["create", "namespace", NS]);
  rbacObjects = await baseRbac();
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: rbacObjects.map((o) => JSON.stringify(o)).join("\n") });
  await kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: JSON.stringify(targetDeployment) });
  await waitRollout(TARGET.kind, NS, TARGET.name);
}, 180_000);

afterAll(async () => {
  // Leave nothing cluster-wide behind; the namespace goes too (in the background).
  for (const o of rbacObjects.filter((o) => o.kind.startsWith("Cluster"))) {
    await kubectl(["delete", o.kind.toLowerCase(), o.metadata.name, "--ignore-not-found"], { allowFail: true });
  }
  await kubectl(["delete", "namespace", NS, "--wait=false", "--ignore-not-found"], { allowFail: true });
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe("the binary alone", () => {
  test("needs nothing but glibc (what distroless/base provides)", () => {
    const names = sharedLibraries().map((l) => l.split("/").pop()!);
    for (const n of names) expect(n).toMatch(/^(libc|libm|libdl|libpthread|librt|ld-linux[-a-z0-9_]*)\.so\.\d+$/);
  });

  test("is stamped with package.json's version and the git commit", () => {
    const { version, commit } = stamp();
    expect(version).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
    expect(commit).toStartWith(sh(["git", "rev-parse", "--short", "HEAD"]).trim());
  });
});

/** The same checks for both ways of reaching the API server. */
function servesFromTheImage(mode: "kubeconfig" | "in-cluster", files: () => Record<string, string | Buffer>, env: () => Record<string, string>, expectUser: (u: string) => void) {
  describe(`read-only chroot as 65532:65532, ${mode}`, () => {
    let root: Rootfs;
    let app: AppProcess;
    let extra: Record<string, string | Buffer>;

    beforeAll(async () => {
      extra = { "/config.yaml": CONFIG_YAML, ...files() };
      root = makeRootfs(mode, extra);
      app = await startInRoot(root, env());
    }, 60_000);

    afterAll(async () => {
      // The app must be gone before its root can be unmounted.
      await app?.stop();
      root?.unmount();
    });

    test("the root holds only the binary, glibc, config and credentials: no /etc, /tmp or shell", () => {
      expect(root.files()).toEqual(["/k8s-restart-app", ...sharedLibraries(), ...Object.keys(extra)].sort());
      expect(existsSync(join(root.dir, "etc"))).toBe(false);
      expect(existsSync(join(root.dir, "tmp"))).toBe(false);
    });

    test("talks to the control plane at its address, locks in the expected namespace", () => {
      const listening = app.entries().find((e) => e.msg === "listening")!;
      expect(listening.server).toBe(cluster.APISERVER.replace(/\/+$/, ""));
      expect(listening.lockNamespace).toBe(NS);
    });

    test("runs as uid/gid 65532 with no supplementary groups and no capabilities, inside the root", () => {
      const status = readFileSync(`/proc/${app.proc.pid}/status`, "utf8");
      expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
      expect(/^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
      expect(/^Groups:\s*(.*)$/m.exec(status)![1]!.trim().split(/\s+/).filter(Boolean)).not.toContain("0");
      expect(/^CapEff:\s+(\S+)$/m.exec(status)![1]).toBe("0000000000000000");
      expect(readlinkSync(`/proc/${app.proc.pid}/root`)).toBe(root.dir);
    });

    test("the root is really read-only", () => {
      expect(() => writeFileSync(join(root.dir, "probe"), "x")).toThrow(/EROFS|read-only/i);
    });

    test("/ lists the configured service; htmx and the stylesheet come from the binary", async () => {
      const page = await fetch(`${app.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      const html = await page.text();
      expect(html).toContain(TARGET.name);
      expect(html).toContain(TARGET.namespace);
      const htmx = await fetch(`${app.url}/static/htmx.min.js`);
      expect(htmx.status).toBe(200);
      expect(Buffer.from(await htmx.arrayBuffer()).equals(readFileSync(join(ROOT, "node_modules/htmx.org/dist/htmx.min.js")))).toBe(true);
      const css = await fetch(`${app.url}/static/app.css`);
      expect(css.status).toBe(200);
      expect(await css.text()).toBe(readFileSync(join(ROOT, "static/app.css"), "utf8"));
    });

    test("/metrics reports the stamped version and commit", async () => {
      const { version, commit } = stamp();
      expect((await readMetrics(app.url)).value("restart_app_build_info", { version, commit })).toBe(1);
    });

    test("/readyz is 200 and the permission self-check found nothing missing", async () => {
      // The self-check runs before the app listens (src/main.ts), so startApp's /readyz 200 came after its report.
      const res = await fetch(`${app.url}/readyz`);
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(body).not.toContain("missing permission");
      expect(body).not.toContain("self-check failed");
    });

    test("a restart is 200, changes restartedAt, is made as the expected identity, and the lock is released", async () => {
      // Restartable: no earlier restart's rollout or lock is still in progress.
      await waitRollout(TARGET.kind, NS, TARGET.name);
      await waitFor(
        async () => !(await getJson(["-n", NS, "get", "lease", "--ignore-not-found", leaseName(TARGET)]).catch(() => undefined))?.spec?.holderIdentity,
        30_000,
        "no restart lock held",
        250,
      );
      const before = await restartedAt(TARGET.kind, NS, TARGET.name);
      // restartedAt has one-second resolution: a restart within the second of the last one would not change it.
      if (before) await waitFor(() => Date.now() >= Date.parse(before) + 1000, 5_000, "the second of the previous restart to pass", 20);
      const since = new Date().toISOString();
      const res = await fetch(`${app.url}/api/v1/service/${TARGET.kind}/${NS}/${TARGET.name}/restart`, { method: "POST" });
      const body = (await res.json()) as Record<string, any>;
      expect(res.status).toBe(200);
      expect(body.status).toBe("restarting");
      const after = await restartedAt(TARGET.kind, NS, TARGET.name);
      expect(after).toBeDefined();
      expect(after).not.toBe(before);
      expect(after).toBe(body.restarted_at);
      await waitFor(
        () => auditEvents(since, (e) => e.verb === "patch" && e.objectRef?.resource === "deployments" && e.objectRef?.namespace === NS && e.objectRef?.name === TARGET.name).length > 0,
        10_000,
        "the PATCH in the audit log",
      );
      const patch = auditEvents(since, (e) => e.verb === "patch" && e.objectRef?.resource === "deployments" && e.objectRef?.namespace === NS && e.objectRef?.name === TARGET.name)[0]!;
      expect(patch.responseStatus?.code).toBe(200);
      expectUser(patch.user.username);
      // The lock is a Lease in the lock namespace, taken for this restart (acquireTime) and
      // released once the rollout settles: this proves the Lease permissions (without them the
      // app falls back to in-process locks and never touches the Lease).
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

    test("serves its page, status and metrics and logs no error", async () => {
      for (const path of ["/", "/api/v1/service", "/metrics", "/readyz"]) expect((await fetch(`${app.url}${path}`)).status, path).toBe(200);
      const ws = await openStatus(`${app.wsUrl}/api/v1/service/status`);
      expect(JSON.parse(await ws.until(() => true, 10_000, "the full state")).kind_namespace_name).toEqual(TARGET);
      ws.close();
      expect(app.entries().filter((e) => e.level === "error")).toEqual([]);
    });
  });
}

servesFromTheImage(
  "kubeconfig",
  () => ({ "/kubeconfig": sh([cluster.KUBECTL, "--kubeconfig", cluster.KUBECONFIG, "config", "view", "--raw", "--flatten", "--minify"]) }),
  () => ({ KUBE_CONFIG_PATH: "/kubeconfig", LOCK_NAMESPACE: NS }),
  (u) => expect(u).not.toStartWith("system:serviceaccount:"),
);

servesFromTheImage(
  "in-cluster",
  () => {
    const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    return {
      [`${sa}/token`]: sh([cluster.KUBECTL, "--kubeconfig", cluster.KUBECONFIG, "-n", NS, "create", "token", SA, "--duration=1h"]).trim(),
      [`${sa}/ca.crt`]: readFileSync(cluster.CA_FILE),
      [`${sa}/namespace`]: NS,
    };
  },
  () => {
    const api = new URL(cluster.APISERVER);
    // KUBE_CONFIG_PATH and LOCK_NAMESPACE empty: in-cluster config, locks in the ServiceAccount's namespace.
    return { KUBE_CONFIG_PATH: "", LOCK_NAMESPACE: "", KUBERNETES_SERVICE_HOST: api.hostname, KUBERNETES_SERVICE_PORT: api.port || "443" };
  },
  (u) => expect(u).toBe(`system:serviceaccount:${NS}:${SA}`),
);
