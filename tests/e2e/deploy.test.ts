// e2e for deploy/: the example overlay renders consistently, passes server-side dry-run, applies under PSA "restricted", and its RBAC grants exactly what the app needs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { parseEnv } from "../../src/config/env.ts";
import { parseConfigFile } from "../../src/config/file.ts";
import { eventNeed, type Need, leaseNeeds, requiredNeeds } from "../../src/kube/access.ts";
import { CLUSTER_ROLE_RULES, LEASE_RULES } from "../../src/rbac.ts";
import { cluster, getJson, kubectl, renderRehomed, ROOT, waitFor } from "../support/harness.ts";

const OVERLAY = join(ROOT, "deploy/overlays/example");
const NS = "k8s-restart-app-deploy";
const NS2 = "k8s-restart-app-deploy-2";
const SUFFIX = "-e2e-deploy"; // on the proxy-sidecar dry-run's ClusterRole/ClusterRoleBinding names, so they collide with nobody's
const SSAR_RULE = { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectrulesreviews", "selfsubjectaccessreviews"], verbs: ["create"] };

type Obj = Record<string, any>;
const parseDocs = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj);
const one = (objs: Obj[], kind: string): Obj => {
  const found = objs.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`);
  return found[0]!;
};

/** Runs kubectl and returns stdout, stderr and the exit code (kubectl prints API warnings on stderr). */
async function kubectlFull(args: string[], input?: string): Promise<{ out: string; err: string; code: number }> {
  const p = Bun.spawn([cluster.KUBECTL, "--kubeconfig", cluster.KUBECONFIG, ...args], {
    stdin: input !== undefined ? new Blob([input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

/**
 * The example overlay copied and re-homed as the README tells users to: only its top-level
 * `namespace:` line changed. Cluster-scoped names then carry the namespace, so installs never collide.
 */
async function renderInto(namespace: string): Promise<Obj[]> {
  const dir = mkdtempSync(join(ROOT, ".tmp-overlay-"));
  try {
    cpSync(OVERLAY, dir, { recursive: true });
    const k = join(dir, "kustomization.yaml");
    const text = readFileSync(k, "utf8");
    const edited = text.replace(/^namespace: k8s-restart-app$/m, `namespace: ${namespace}`).replace("../../base", relative(dir, join(ROOT, "deploy/base")));
    if (edited === text || !edited.includes(`namespace: ${namespace}`)) throw new Error("the overlay has no top-level namespace: line to change");
    writeFileSync(k, edited);
    return parseDocs(await kubectl(["kustomize", dir]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const toStream = (objs: Obj[]) => objs.map((o) => JSON.stringify(o)).join("\n");
/** Rules as a sorted set of canonical strings (verb order and duplicates do not matter). */
const sortRules = (rules: Obj[]) => [...new Set(rules.map((r) => JSON.stringify({ ...r, verbs: [...r.verbs].sort() })))].sort();

let rendered: Obj[] = []; // deploy/overlays/example exactly as kubectl kustomize renders it
let moved: Obj[] = []; // the same, re-homed into NS
let second: Obj[] = []; // and into NS2: a second install

async function deleteOurs(objs: Obj[]): Promise<void> {
  for (const o of objs.filter((o) => o.kind.startsWith("Cluster"))) {
    await kubectl(["delete", o.kind.toLowerCase(), o.metadata.name, "--ignore-not-found"], { allowFail: true });
  }
}

beforeAll(async () => {
  rendered = parseDocs(await kubectl(["kustomize", OVERLAY]));
  moved = await renderInto(NS);
  second = await renderInto(NS2);
  // Fresh namespaces every run; a previous run's may still be terminating.
  for (const ns of [NS, NS2]) await kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=120s"]);
  await deleteOurs(moved);
  await deleteOurs(second);
}, 180_000);

afterAll(async () => {
  await deleteOurs(moved);
  await deleteOurs(second);
  for (const ns of [NS, NS2]) await kubectl(["delete", "namespace", ns, "--wait=false", "--ignore-not-found"], { allowFail: true });
});

describe("kubectl kustomize deploy/overlays/example", () => {
  test("renders one of each object, all in the overlay's namespace", () => {
    expect(rendered.map((o) => o.kind).sort()).toEqual(
      ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Namespace", "PodDisruptionBudget", "Role", "RoleBinding", "Service", "ServiceAccount"].sort(),
    );
    const ns = one(rendered, "Namespace").metadata.name;
    for (const o of rendered.filter((o) => !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind))) {
      expect(`${o.kind} ${o.metadata.namespace}`).toBe(`${o.kind} ${ns}`);
    }
  });

  test("the namespace enforces Pod Security 'restricted'", () => {
    expect(one(rendered, "Namespace").metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted" });
  });

  test("both bindings name the app's ServiceAccount in its own namespace, also after re-homing", () => {
    for (const objs of [rendered, moved]) {
      const sa = one(objs, "ServiceAccount");
      for (const kind of ["ClusterRoleBinding", "RoleBinding"]) {
        expect(one(objs, kind).subjects).toEqual([{ kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace }]);
      }
      expect(one(objs, "ClusterRoleBinding").roleRef.name).toBe(one(objs, "ClusterRole").metadata.name);
      expect(one(objs, "RoleBinding").roleRef.name).toBe(one(objs, "Role").metadata.name);
      expect(one(objs, "Deployment").spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    }
    expect(one(moved, "ServiceAccount").metadata.namespace).toBe(NS);
    expect(one(moved, "Namespace").metadata.name).toBe(NS);
    // Every namespaced object followed the overlay's plain `namespace:` line.
    for (const o of moved.filter((o) => !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(o.kind))) expect(`${o.kind} ${o.metadata.namespace}`).toBe(`${o.kind} ${NS}`);
  });

  test("cluster-scoped objects are named per install (k8s-restart-app-<namespace>)", () => {
    for (const [objs, ns] of [[rendered, "k8s-restart-app"], [moved, NS], [second, NS2]] as const) {
      expect(one(objs, "ClusterRole").metadata.name).toBe(`k8s-restart-app-${ns}`);
      expect(one(objs, "ClusterRoleBinding").metadata.name).toBe(`k8s-restart-app-${ns}`);
      expect(one(objs, "ClusterRoleBinding").roleRef.name).toBe(`k8s-restart-app-${ns}`);
    }
  });

  test("RBAC rules are the app's own (src/rbac.ts), including the self-check's rules and access reviews", () => {
    expect(CLUSTER_ROLE_RULES).toContainEqual(SSAR_RULE);
    expect(sortRules(one(rendered, "ClusterRole").rules)).toEqual(sortRules(CLUSTER_ROLE_RULES));
    expect(sortRules(one(rendered, "Role").rules)).toEqual(sortRules(LEASE_RULES));
  });

  test("the ConfigMap is a valid config listing exactly the sample workloads of deploy/examples", () => {
    const cm = one(rendered, "ConfigMap");
    const cfg = parseConfigFile(parseYaml(cm.data["config.yaml"]), "ConfigMap config.yaml");
    const examples = parseConfigFile(parseYaml(readFileSync(join(ROOT, "deploy/examples/config.yaml"), "utf8")), "deploy/examples/config.yaml");
    expect(cfg.services).toEqual(examples.services);
  });

  test("the Deployment's environment parses, and its ports, config mount and Service agree with it", () => {
    const dep = one(rendered, "Deployment");
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    const src: Record<string, string> = {};
    for (const e of c.env) src[e.name] = e.value ?? (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace" ? dep.metadata.namespace : "?");
    const env = parseEnv(src); // throws naming the variable on a bad value
    expect(env.kubeConfigPath).toBe(""); // in-cluster config
    expect(env.lockNamespace).toBe(dep.metadata.namespace); // where the Lease Role is
    const port = (name: string) => c.ports.find((p: Obj) => p.name === name)?.containerPort;
    expect(port("http")).toBe(env.listen.port);
    expect(port("monitoring")).toBe(env.monitoring?.port);
    const mount = c.volumeMounts.find((m: Obj) => env.configFilePath.startsWith(`${m.mountPath}/`));
    expect(mount?.readOnly).toBe(true);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    expect(volume.configMap.name).toBe(one(rendered, "ConfigMap").metadata.name);
    expect(one(rendered, "ConfigMap").data[env.configFilePath.slice(mount.mountPath.length + 1)]).toBeDefined();
    const svc = one(rendered, "Service");
    expect(svc.spec.ports).toEqual([
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
      { name: "monitoring", port: env.monitoring!.port, targetPort: "monitoring", protocol: "TCP" },
    ]);
    expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
    expect(svc.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": String(env.monitoring!.port) });
  });

  test("the Prometheus scrape example keeps the Service's monitoring port in the overlay's namespace", () => {
    const [job] = parseYaml(readFileSync(join(ROOT, "deploy/examples/prometheus-scrape.yaml"), "utf8")) as Obj[];
    const svc = one(rendered, "Service");
    expect(job!.kubernetes_sd_configs[0].namespaces.names).toEqual([svc.metadata.namespace]);
    const keep = (label: string) => job!.relabel_configs.find((r: Obj) => r.source_labels[0] === label && r.action === "keep")?.regex;
    expect(keep("__meta_kubernetes_endpoint_port_name")).toBe(svc.spec.ports.find((p: Obj) => p.port === 6060).name);
    expect(keep("__meta_kubernetes_service_label_app_kubernetes_io_name")).toBe(svc.metadata.labels["app.kubernetes.io/name"]);
    expect(job!.metrics_path).toBe("/metrics");
  });

  test("two replicas, and a PodDisruptionBudget that keeps one of them up", () => {
    const dep = one(rendered, "Deployment");
    const pdb = one(rendered, "PodDisruptionBudget");
    expect(dep.spec.replicas).toBe(2);
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
    expect(dep.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  test("the image is the project's, tagged with package.json's version", () => {
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
    expect(one(rendered, "Deployment").spec.template.spec.containers[0].image).toBe(`ghcr.io/k8scope/k8s-restart-app:${version}`);
  });
});

/** The hardening deploy/base promises, checked on the Deployment as the API server stored it. */
function expectHardened(dep: Obj): void {
  const pod = dep.spec.template.spec;
  expect(pod.automountServiceAccountToken).toBe(true);
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } });
  expect(pod.containers).toHaveLength(1);
  const c = pod.containers[0];
  expect(c.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: 65532,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  });
  expect(c.securityContext.capabilities.add).toBeUndefined();
  expect(c.securityContext.privileged).not.toBe(true);
  expect(c.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" });
  expect(c.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" });
  for (const k of ["cpu", "memory"]) {
    expect(c.resources.requests[k]).toBeDefined();
    expect(c.resources.limits[k]).toBeDefined();
  }
  expect(c.resources).toEqual({ requests: { cpu: "10m", memory: "96Mi" }, limits: { cpu: "500m", memory: "192Mi" } });
}

/** Namespaced objects can only be dry-run in an existing namespace: creates just the Namespace (idempotent). */
const createNamespace = () => kubectl(["apply", "--server-side", "-f", "-"], { input: JSON.stringify(one(moved, "Namespace")) });

/** A real server-side apply of every re-homed object (idempotent: tests that need the objects call it themselves). */
const applyMoved = () => kubectlFull(["apply", "--server-side", "-f", "-"], toStream(moved));

/** Applies every object and fails unless the apply succeeded. */
async function applied(): Promise<void> {
  const r = await applyMoved();
  if (r.code !== 0) throw new Error(`kubectl apply --server-side: exit ${r.code}: ${r.err}`);
}

describe("applied to the real control plane, re-homed into a fresh namespace", () => {
  test("server-side dry-run accepts every object without a warning (Pod Security included)", async () => {
    await createNamespace();
    const r = await kubectlFull(["apply", "--server-side", "--dry-run=server", "-f", "-"], toStream(moved));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const o of moved) {
      expect(r.out).toMatch(new RegExp(`^${o.kind.toLowerCase()}(\\.[a-z0-9.]+)?/${o.metadata.name} serverside-applied \\(server dry run\\)$`, "m"));
    }
    // A dry run persists nothing.
    expect((await kubectl(["-n", NS, "get", "deployment", "--ignore-not-found", "-o", "name"])).trim()).toBe("");
  });

  test("... and the same dry-run does warn about a loosened pod (the check above can fail)", async () => {
    await createNamespace();
    const loose = structuredClone(one(moved, "Deployment"));
    loose.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    loose.spec.template.spec.containers[0].securityContext.capabilities = { add: ["NET_ADMIN"] };
    const r = await kubectlFull(["apply", "--server-side", "--dry-run=server", "-f", "-"], JSON.stringify(loose));
    expect(r.err).toContain('would violate PodSecurity "restricted');
    expect(r.err).toContain("allowPrivilegeEscalation");
  });

  test("a real server-side apply creates everything, hardened as promised", async () => {
    const r = await applyMoved();
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const o of moved) {
      const got = await getJson([...(o.metadata.namespace ? ["-n", o.metadata.namespace] : []), "get", o.kind.toLowerCase(), o.metadata.name]);
      expect(got.metadata.uid).toBeDefined();
    }
    expectHardened(await getJson(["-n", NS, "get", "deployment", one(moved, "Deployment").metadata.name]));
  });

  test("the ReplicaSet's pods pass Pod Security admission (pod objects exist, no FailedCreate)", async () => {
    await applied();
    const selector = Object.entries(one(moved, "Deployment").spec.selector.matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    await waitFor(async () => (await getJson(["-n", NS, "get", "pods", "-l", selector])).items.length > 0, 60_000, "a pod of the app", 500);
    const events = (await getJson(["-n", NS, "get", "events"])).items as Obj[];
    expect(events.filter((e) => e.reason === "FailedCreate").map((e) => e.message)).toEqual([]);
  });

  const as = () => `--as=system:serviceaccount:${NS}:${one(moved, "ServiceAccount").metadata.name}`;
  /** `verb resource[/name]`, "-n ns", optional subresource → "… : yes|no". (`deployments/scale` would mean the object named scale.) */
  const canI = async (verb: string, resource: string, ns?: string, subresource?: string): Promise<string> => {
    const args = ["auth", "can-i", verb, resource, ...(ns ? ["-n", ns] : []), ...(subresource ? [`--subresource=${subresource}`] : []), as()];
    const r = await kubectlFull(args);
    const answer = r.out.trim();
    if (answer !== "yes" && answer !== "no") throw new Error(`kubectl ${args.join(" ")}: ${r.err}`);
    return `${verb} ${resource}${subresource ? `/${subresource}` : ""}${ns ? ` -n ${ns}` : ""}: ${answer}`;
  };
  const resourceOf = (n: Need) => `${n.group ? `${n.resource}.${n.group}` : n.resource}${n.name ? `/${n.name}` : ""}`;

  test("the ServiceAccount may do everything the app's self-check asks for (src/kube/access.ts)", async () => {
    await applied();
    const services = parseConfigFile(parseYaml(one(moved, "ConfigMap").data["config.yaml"]), "config.yaml").services;
    const needs = [...services.flatMap((s) => [...requiredNeeds(s), eventNeed(s.namespace)]), ...leaseNeeds(NS)];
    const keys = [...new Set(needs.map((n) => JSON.stringify([n.verb, resourceOf(n), n.namespace])))].map((k) => JSON.parse(k) as [string, string, string]);
    const answers = await Promise.all([...keys.map(([v, r, ns]) => canI(v, r, ns)), canI("create", "selfsubjectaccessreviews.authorization.k8s.io"), canI("create", "selfsubjectrulesreviews.authorization.k8s.io")]);
    expect(answers.filter((a) => !a.endsWith(": yes"))).toEqual([]);
    expect(answers.length).toBeGreaterThan(20);
  });

  test("... and nothing it does not need", async () => {
    await applied();
    const denied: [string, string, string?, string?][] = [
      ["delete", "deployments.apps", "shop"],
      ["create", "deployments.apps", "shop"],
      ["update", "deployments.apps/web", "shop"], // a PUT could replace the whole spec
      ["patch", "deployments.apps", "shop", "scale"],
      ["update", "deployments.apps", "shop", "status"],
      ["delete", "statefulsets.apps", "shop"],
      ["delete", "daemonsets.apps", "billing"],
      ["get", "secrets", "shop"],
      ["list", "secrets", NS],
      ["get", "configmaps", "shop"],
      ["create", "pods", "shop"],
      ["delete", "pods", "shop"],
      ["create", "pods", "shop", "exec"],
      ["patch", "pods", "shop"],
      ["delete", "leases.coordination.k8s.io", NS],
      ["create", "leases.coordination.k8s.io", "shop"], // locks only in the app's own namespace
      ["update", "leases.coordination.k8s.io", "kube-system"],
      ["patch", "nodes"],
      ["escalate", "clusterroles.rbac.authorization.k8s.io"],
      ["bind", "clusterroles.rbac.authorization.k8s.io"],
      ["create", "rolebindings.rbac.authorization.k8s.io", NS],
      ["impersonate", "users"],
      ["create", "serviceaccounts", NS, "token"],
    ];
    const answers = await Promise.all(denied.map(([v, r, ns, sub]) => canI(v, r, ns, sub)));
    expect(answers.filter((a) => !a.endsWith(": no"))).toEqual([]);
  });

  test("two installs in two namespaces keep their own rights, also when one is removed", async () => {
    const r = await kubectlFull(["apply", "--server-side", "-f", "-"], toStream(second));
    expect(r.code).toBe(0);
    const asSa = (ns: string) => `--as=system:serviceaccount:${ns}:k8s-restart-app`;
    const can = async (ns: string, verb: string, resource: string, where: string) =>
      (await kubectlFull(["auth", "can-i", verb, resource, "-n", where, asSa(ns)])).out.trim();
    // Each may restart the workloads and keep its locks in its own namespace, not in the other's.
    for (const [mine, other] of [[NS, NS2], [NS2, NS]] as const) {
      expect(await can(mine, "patch", "deployments.apps", "shop")).toBe("yes");
      expect(await can(mine, "update", "leases.coordination.k8s.io", mine)).toBe("yes");
      expect(await can(mine, "update", "leases.coordination.k8s.io", other)).toBe("no");
    }
    // Both bindings exist side by side, each naming its own ServiceAccount.
    const b1 = await getJson(["get", "clusterrolebinding", `k8s-restart-app-${NS}`]);
    const b2 = await getJson(["get", "clusterrolebinding", `k8s-restart-app-${NS2}`]);
    expect([b1.subjects[0].namespace, b2.subjects[0].namespace]).toEqual([NS, NS2]);
    // Removing the second install leaves the first its rights.
    await deleteOurs(second);
    await kubectl(["delete", "namespace", NS2, "--wait=false"]);
    expect(await can(NS, "patch", "deployments.apps", "shop")).toBe("yes");
    expect(await can(NS2, "patch", "deployments.apps", "shop")).toBe("no");
  });
});

describe("deploy/overlays/proxy-sidecar (issue 15 #2): the app behind an authenticating proxy in its pod", () => {
  const SIDECAR = join(ROOT, "deploy/overlays/proxy-sidecar");
  let objs: Obj[] = [];
  beforeAll(async () => {
    objs = parseDocs(await kubectl(["kustomize", SIDECAR]));
  });

  test("the app listens on loopback only, trusts only loopback for identity headers, reads one header pair, and is probed on the monitoring port", () => {
    const dep = one(objs, "Deployment");
    const app = dep.spec.template.spec.containers.find((c: Obj) => c.name === "app");
    const src: Record<string, string> = {};
    for (const e of app.env) src[e.name] = e.value ?? "x";
    const env = parseEnv(src);
    expect(env.listen.hostname).toBe("127.0.0.1");
    expect(env.auth).toMatchObject({ mode: "proxy", userHeader: "X-Forwarded-User", groupsHeader: "X-Forwarded-Groups" });
    expect(env.trustedProxies.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1"]);
    expect(env.allowedHosts).toEqual(["restart.example.com"]);
    expect(app.livenessProbe.httpGet.port).toBe("monitoring");
    expect(app.readinessProbe.httpGet.port).toBe("monitoring");
    const proxy = dep.spec.template.spec.containers.find((c: Obj) => c.name === "proxy");
    expect(proxy.args).toContain("--upstream=http://127.0.0.1:8080/");
    expect(one(objs, "Service").spec.ports[0].targetPort).toBe("proxy");
  });

  test("the NetworkPolicy admits the proxy's and the monitoring port only, never the app's", () => {
    const np = one(objs, "NetworkPolicy");
    expect(np.metadata.namespace).toBe(one(objs, "Namespace").metadata.name);
    expect(np.spec.podSelector.matchLabels).toEqual(one(objs, "Deployment").spec.selector.matchLabels);
    const ports = np.spec.ingress.flatMap((r: Obj) => r.ports.map((p: Obj) => p.port)).sort();
    expect(ports).toEqual(["monitoring", "proxy"]);
  });

  test("server-side dry-run accepts it under Pod Security 'restricted'", async () => {
    const moved2 = await renderRehomed(SIDECAR, `${NS}-proxy`, `${SUFFIX}-proxy`);
    await kubectl(["apply", "--server-side", "-f", "-"], { input: JSON.stringify(one(moved2, "Namespace")) });
    try {
      const r = await kubectlFull(["apply", "--server-side", "--dry-run=server", "-f", "-"], toStream(moved2));
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("networkpolicy.networking.k8s.io/k8s-restart-app serverside-applied (server dry run)");
    } finally {
      await kubectl(["delete", "namespace", `${NS}-proxy`, "--wait=false", "--ignore-not-found"], { allowFail: true });
    }
  });
});
