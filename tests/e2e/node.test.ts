// e2e for the app as a real Pod: the image (make image) on the real node of scripts/node.sh (kubelet + containerd), deployed with `kubectl apply -k` from deploy/overlays/example.
//
// The suite starts the node and stops it again (scripts/node.sh up/down), so every other suite
// runs without it. If the node cannot start on a machine, the first test fails with the reason and
// every other one fails too: the run's summary counts them, it never passes without a node.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Subprocess } from "bun";
import { readLines } from "../support/process.ts";
import { ensureImage, sh } from "../support/image.ts";
import { auditEvents } from "../support/audit.ts";
import { cluster, getJson, kubectl, openStatus, restartedAt, ROOT, tempDir, waitFor, waitRollout } from "../support/harness.ts";

const APP_NS = "k8s-restart-app"; // deploy/overlays/example's namespace
const APP = "k8s-restart-app";
const TARGET_NS = "k8s-restart-app-node-target";
const TARGET = "real-target";
const NODE_SCRIPT = join(ROOT, "scripts/node.sh");
const parse = (m: string) => JSON.parse(m) as any;

let node: Record<string, string> = {};
let nodeError = "";
let tag = "";
const scratch: string[] = [];
const children: Subprocess[] = [];

function nodeEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(ROOT, ".cluster/node/env"), "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Fails (the test calling it) with the reason the node did not start. */
function requireNode(): void {
  if (nodeError) throw new Error(`THE REAL NODE DID NOT START, nothing ran on it:\n${nodeError}`);
}

/** The overlay as a user applies it, plus what pins it to this node and uses the local image. */
function kustomization(): string {
  const dir = tempDir("k8s-restart-app-node-kustomize-");
  scratch.push(dir);
  const [name, version] = tag.split(":") as [string, string];
  writeFileSync(join(dir, "config.yaml"), `services:\n  - {kind: Deployment, name: ${TARGET}, namespace: ${TARGET_NS}}\n  - {kind: Deployment, name: web, namespace: shop}\n`);
  writeFileSync(
    join(dir, "kustomization.yaml"),
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${relative(dir, join(ROOT, "deploy/overlays/example"))}
configMapGenerator:
  - name: k8s-restart-app-config
    behavior: replace
    files: [config.yaml]
images:
  - name: ghcr.io/k8scope/k8s-restart-app
    newName: ${name}
    newTag: ${version}
patches:
  - target: {kind: Deployment, name: ${APP}}
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: ${APP}}
      spec:
        template:
          spec:
            nodeSelector: {kubernetes.io/hostname: ${node.NODE_NAME}}
            tolerations: [{key: ${node.NODE_TAINT_KEY}, operator: Exists, effect: NoSchedule}]
            # No kube-proxy on this test node: the API server's name resolves to the node's forwarder.
            hostAliases: [{ip: "${node.NODE_API_HOST_IP}", hostnames: ["${node.NODE_API_HOST}"]}]
            containers:
              - name: app
                imagePullPolicy: Never
                env:
                  - {name: KUBERNETES_SERVICE_HOST, value: ${node.NODE_API_HOST}}
`,
  );
  return dir;
}

const targetObjects = () => [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: TARGET_NS } },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: TARGET, namespace: TARGET_NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: TARGET } },
      template: {
        metadata: { labels: { app: TARGET } },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": node.NODE_NAME },
          tolerations: [{ key: node.NODE_TAINT_KEY, operator: "Exists", effect: "NoSchedule" }],
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: "serve",
              image: node.NODE_PAUSE_IMAGE,
              imagePullPolicy: "Never",
              args: ["-listen", ":8080"],
              readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 1, initialDelaySeconds: 1 },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    },
  },
];

/** `kubectl port-forward` to the app's Deployment; resolves with the local URL of its http port. */
async function portForward(): Promise<{ url: string; proc: Subprocess }> {
  const proc = Bun.spawn([cluster.KUBECTL, "--kubeconfig", cluster.KUBECONFIG, "-n", APP_NS, "port-forward", `deployment/${APP}`, ":8080"], { stdout: "pipe", stderr: "pipe" });
  children.push(proc);
  const lines: string[] = [];
  let found!: (u: string) => void;
  const url = new Promise<string>((r) => (found = r));
  const onLine = (l: string) => {
    lines.push(l);
    const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(l);
    if (m) found(`http://127.0.0.1:${m[1]}`);
  };
  void readLines(proc.stdout as ReadableStream<Uint8Array>, onLine);
  void readLines(proc.stderr as ReadableStream<Uint8Array>, onLine);
  return {
    proc,
    url: await Promise.race([
      url,
      proc.exited.then((c) => Promise.reject(new Error(`kubectl port-forward exited ${c}: ${lines.join("\n")}`))),
      Bun.sleep(20_000).then(() => Promise.reject(new Error(`kubectl port-forward printed no port: ${lines.join("\n")}`))),
    ]),
  };
}

async function appPods(): Promise<any[]> {
  return (await getJson(["-n", APP_NS, "get", "pods", "-l", `app.kubernetes.io/name=${APP}`])).items;
}

/** The host PID of a pod's container, from the node's containerd. */
function containerPid(pod: any): string {
  const id = String(pod.status.containerStatuses[0].containerID).replace(/^containerd:\/\//, "");
  const tasks = sh(["ctr", "--address", node.NODE_CONTAINERD_SOCKET!, "-n", "k8s.io", "tasks", "ls"]);
  const row = tasks.split("\n").find((l) => l.startsWith(`${id} `));
  if (!row) throw new Error(`container ${id} not among the node's tasks:\n${tasks}`);
  return row.trim().split(/\s+/)[1]!;
}

beforeAll(async () => {
  tag = ensureImage();
  try {
    sh([NODE_SCRIPT, "up"]);
    node = nodeEnv();
    sh([NODE_SCRIPT, "import", tag]);
  } catch (e) {
    nodeError = String((e as Error).message ?? e);
    console.error(`node: THE REAL NODE DID NOT START:\n${nodeError}`);
    return;
  }
  // A previous run's objects may still be there (a crashed run): start clean.
  await kubectl(["delete", "namespace", TARGET_NS, APP_NS, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
  await kubectl(["apply", "-f", "-"], { input: targetObjects().map((o) => JSON.stringify(o)).join("\n") });
}, 900_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill();
  await kubectl(["delete", "-k", scratch[0] ?? join(ROOT, "deploy/overlays/example"), "--ignore-not-found", "--wait=false"], { allowFail: true });
  await kubectl(["delete", "namespace", TARGET_NS, "--ignore-not-found", "--wait=false"], { allowFail: true });
  // node.sh down lets the kubelet stop every pod it runs, then stops it and leaves nothing behind.
  const down = Bun.spawnSync([NODE_SCRIPT, "down"], { stdout: "pipe", stderr: "pipe" });
  if (down.exitCode !== 0) console.error(`node: scripts/node.sh down failed: ${down.stderr.toString()}`);
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
}, 120_000);

describe("a real node (scripts/node.sh: kubelet + containerd)", () => {
  test("starts, registers Ready at its host-local address, tainted so that nothing else lands on it", async () => {
    requireNode();
    const n = await getJson(["get", "node", node.NODE_NAME!]);
    expect(n.status.conditions.find((c: any) => c.type === "Ready")?.status).toBe("True");
    expect(n.status.addresses).toContainEqual({ type: "InternalIP", address: node.NODE_IP });
    expect(n.spec.taints).toContainEqual({ key: node.NODE_TAINT_KEY, value: "true", effect: "NoSchedule" });
    expect(n.status.nodeInfo.kubeletVersion).toBe("v1.36.3");
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    // The kubelet, not kwok-controller, keeps this node alive (kwok would hold the lease itself
    // and fake the readiness of pods here).
    expect(n.metadata.annotations?.["kwok.x-k8s.io/node"]).toBeUndefined();
    const holder = async () =>
      JSON.parse(await kubectl(["-n", "kube-node-lease", "get", "lease", node.NODE_NAME!, "-o", "json"], { allowFail: true }) || "{}").spec?.holderIdentity;
    await waitFor(async () => (await holder()) !== undefined, 20_000, "the node's lease");
    expect(await holder()).toBe(node.NODE_NAME);
    // The sample workloads (DaemonSets included) stay on kwok's nodes.
    const here = (await getJson(["get", "pods", "-A", "--field-selector", `spec.nodeName=${node.NODE_NAME}`])).items;
    expect(here.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`).filter((p: string) => !p.startsWith(`${TARGET_NS}/`))).toEqual([]);
  });

  test("runs a real Deployment there: containers started by containerd, Ready through their readiness probe", async () => {
    requireNode();
    await waitRollout("Deployment", TARGET_NS, TARGET, "120s");
    const pods = (await getJson(["-n", TARGET_NS, "get", "pods", "-l", `app=${TARGET}`])).items;
    expect(pods.length).toBe(2);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(node.NODE_NAME);
      expect(p.status.containerStatuses[0].ready).toBe(true);
      expect(p.status.podIP).toMatch(/^10\./);
      expect(Number(containerPid(p))).toBeGreaterThan(0);
    }
  }, 150_000);
});

describe("the app as a Pod on it: kubectl apply -k deploy/overlays/example (+ node pinning, local image)", () => {
  let pod: any;
  let web: { url: string; proc: Subprocess };

  beforeAll(async () => {
    if (nodeError) return;
    await kubectl(["apply", "-k", kustomization()]);
    await waitRollout("Deployment", APP_NS, APP, "120s");
    pod = (await appPods()).find((p) => !p.metadata.deletionTimestamp);
  }, 180_000);

  test("becomes Ready through its real probes, on the real node, from the local image", () => {
    requireNode();
    expect(pod.spec.nodeName).toBe(node.NODE_NAME);
    const c = pod.spec.containers[0];
    expect(c.image).toBe(tag);
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    expect(pod.status.conditions.find((x: any) => x.type === "Ready")?.status).toBe("True");
    expect(pod.status.containerStatuses[0].ready).toBe(true);
    expect(pod.status.containerStatuses[0].restartCount).toBe(0);
  });

  test("its PID 1 runs as 65532:65532, without capabilities or new privileges, on a read-only root", () => {
    requireNode();
    const pid = containerPid(pod);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(/^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["65532", "65532", "65532", "65532"]);
    expect(/^CapEff:\s+(\S+)$/m.exec(status)![1]).toBe("0000000000000000");
    expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)![1]).toBe("1");
    expect(/^NSpid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).pop()).toBe("1"); // PID 1 in the pod: no shell in between
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe("/k8s-restart-app");
    const rootMount = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").find((l) => l.split(" ")[4] === "/")!;
    expect(rootMount.split(" ")[5]!.split(",")).toContain("ro");
  });

  test("talks to the API server with the kubelet-projected ServiceAccount token, under deploy/base's RBAC", async () => {
    requireNode();
    const vol = pod.spec.volumes.find((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken));
    expect(vol).toBeDefined();
    expect(pod.spec.containers[0].volumeMounts.find((m: any) => m.name === vol.name)?.mountPath).toBe("/var/run/secrets/kubernetes.io/serviceaccount");
    // A bound token: the API server records the pod it was issued for with every request.
    const since = new Date(Date.parse(pod.metadata.creationTimestamp) - 1000).toISOString();
    const mine = () =>
      auditEvents(since, (e) => e.user.username === `system:serviceaccount:${APP_NS}:${APP}`, { opened: true }).filter(
        (e: any) => e.user.extra?.["authentication.kubernetes.io/pod-name"]?.[0] === pod.metadata.name,
      );
    // Its watches (opened right after its rules reviews) are what it reads the cluster with.
    await waitFor(() => mine().some((e) => e.verb === "watch" || e.verb === "list"), 10_000, "the app pod's watches in the audit log");
    // deploy/base's RBAC, exactly: what the ClusterRole allows is allowed, nothing more.
    const can = async (...a: string[]) => (await kubectl(["auth", "can-i", ...a, `--as=system:serviceaccount:${APP_NS}:${APP}`], { allowFail: true })).trim();
    expect(await can("patch", "deployments", "-n", TARGET_NS)).toBe("yes");
    expect(await can("delete", "deployments", "-n", TARGET_NS)).toBe("no");
    expect(await can("get", "secrets", "-n", APP_NS)).toBe("no");
  });

  test("kubectl port-forward reaches the page; /metrics and /readyz answer through it", async () => {
    requireNode();
    web = await portForward();
    const page = await fetch(`${web.url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(TARGET);
    expect(html).toContain(TARGET_NS);
    const metrics = await fetch(`${web.url}/metrics`);
    expect(metrics.status).toBe(200);
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    expect(await metrics.text()).toContain(`restart_app_build_info{version="${version}"`);
    const ready = await fetch(`${web.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).not.toContain("missing permission");
  }, 60_000);

  test("restarts the real Deployment and follows its rollout to completion on the websocket", async () => {
    requireNode();
    const before = new Set((await getJson(["-n", TARGET_NS, "get", "pods", "-l", `app=${TARGET}`])).items.map((p: any) => p.metadata.uid));
    const ws = await openStatus(`${web.url.replace(/^http/, "ws")}/api/v1/service/Deployment/${TARGET_NS}/${TARGET}/status`);
    await ws.until(() => true, 10_000, "the first status");
    const res = await fetch(`${web.url}/api/v1/service/Deployment/${TARGET_NS}/${TARGET}/restart`, { method: "POST" });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(await restartedAt("Deployment", TARGET_NS, TARGET)).toBe(body.restarted_at);
    await ws.until((m) => parse(m).status.rollout === "progressing", 20_000, "progressing");
    const done = parse(
      await ws.until(
        (m) => parse(m).status.rollout === "complete" && parse(m).is_locked === false && parse(m).status.last_restart === body.restarted_at,
        120_000,
        "complete and unlocked",
      ),
    );
    expect(done.status.ready).toBe(2);
    ws.close();
    // New containers, really started by the kubelet and found ready by their probe.
    const after = (await getJson(["-n", TARGET_NS, "get", "pods", "-l", `app=${TARGET}`])).items.filter((p: any) => !p.metadata.deletionTimestamp);
    expect(after.length).toBe(2);
    for (const p of after) {
      expect(before.has(p.metadata.uid)).toBe(false);
      expect(p.spec.nodeName).toBe(node.NODE_NAME);
      expect(p.status.containerStatuses[0].ready).toBe(true);
    }
  }, 180_000);

  test("kubectl rollout restart replaces the app cleanly: SIGTERM to PID 1, websockets closed with 1001, new pod Ready", async () => {
    requireNode();
    const old = pod.metadata.name;
    // deploy/ runs more than one replica: every one of them is replaced.
    const before = (await appPods()).map((p) => p.metadata.name as string);
    const replicas = (await getJson(["-n", APP_NS, "get", "deployment", APP])).spec.replicas as number;
    // Follow the old container's log to its end, and hold a websocket open through the port-forward.
    const logs = Bun.spawn([cluster.KUBECTL, "--kubeconfig", cluster.KUBECONFIG, "-n", APP_NS, "logs", "-f", old], { stdout: "pipe", stderr: "pipe" });
    children.push(logs);
    const logLines: string[] = [];
    const logsDone = readLines(logs.stdout as ReadableStream<Uint8Array>, (l) => logLines.push(l));
    const ws = await openStatus(`${web.url.replace(/^http/, "ws")}/api/v1/service/status`);
    await ws.until(() => true, 10_000, "the first status");
    await waitFor(() => logLines.some((l) => l.includes('"listening"')), 10_000, "the old pod's log");

    await kubectl(["-n", APP_NS, "rollout", "restart", `deployment/${APP}`]);
    const closed = await Promise.race([ws.closedP, Bun.sleep(30_000).then(() => undefined)]);
    expect(closed?.code).toBe(1001);
    await waitRollout("Deployment", APP_NS, APP, "120s");
    await Promise.race([logsDone, Bun.sleep(20_000)]);
    const entries = logLines.flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
    expect(entries.find((e) => e.msg === "shutting down")?.signal).toBe("SIGTERM");
    expect(entries.filter((e) => e.level === "error")).toEqual([]);

    const pods = (await appPods()).filter((p) => !p.metadata.deletionTimestamp);
    expect(pods.map((p) => p.metadata.name).filter((n: string) => before.includes(n))).toEqual([]);
    expect(pods.length).toBe(replicas);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(node.NODE_NAME);
      expect(p.status.conditions.find((x: any) => x.type === "Ready")?.status).toBe("True");
    }
    // The new pod serves: a fresh port-forward reaches it.
    const again = await portForward();
    expect((await fetch(`${again.url}/readyz`)).status).toBe(200);
  }, 180_000);
});
