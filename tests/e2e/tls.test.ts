// e2e: the kube client honours the kubeconfig's TLS and auth exactly (client cert, CA, token, skip-verify) under Bun.
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { loadKubeConfig, makeKubeClient } from "../../src/kube/client.ts";
import { ConfigError } from "../../src/config/env.ts";
import { cluster, kubectl, startApp, tempDir, waitFor, writeFile } from "../support/harness.ts";

const NS = "k8s-restart-app-tls";
let token = "";
const dir = tempDir("k8s-restart-app-tls-");

function kubeconfig(name: string, cl: Record<string, unknown>, user: Record<string, unknown>): string {
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: cluster.APISERVER, ...cl } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  };
  return writeFile(dir, `${name}.yaml`, JSON.stringify(doc));
}

// A CA that did not sign the apiserver's certificate.
async function foreignCa(): Promise<string> {
  const key = `${dir}/other-ca.key`;
  const crt = `${dir}/other-ca.crt`;
  const p = Bun.spawn(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=not-the-cluster-ca"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  if ((await p.exited) !== 0) throw new Error(`openssl failed: ${await new Response(p.stderr).text()}`);
  return crt;
}

const listNamespaces = async (path: string) => {
  const c = makeKubeClient(loadKubeConfig(path));
  return (await c.request<{ items: unknown[] }>({ path: "/api/v1/namespaces" }, "list namespaces")).items.length;
};

beforeAll(async () => {
  await kubectl(["create", "namespace", NS], { allowFail: true });
  await kubectl(["-n", NS, "create", "serviceaccount", "reader"], { allowFail: true });
  await kubectl(["create", "clusterrolebinding", "k8s-restart-app-tls-reader", "--clusterrole=view", `--serviceaccount=${NS}:reader`], { allowFail: true });
  await kubectl(["create", "clusterrolebinding", "k8s-restart-app-tls-reader-ns", "--clusterrole=k8s-restart-app-tls-ns-reader", `--serviceaccount=${NS}:reader`], { allowFail: true });
  await kubectl(["create", "clusterrole", "k8s-restart-app-tls-ns-reader", "--verb=list,get", "--resource=namespaces"], { allowFail: true });
  await kubectl(["-n", NS, "create", "role", "leases", "--verb=get,list,watch,create,update", "--resource=leases.coordination.k8s.io"], { allowFail: true });
  await kubectl(["-n", NS, "create", "rolebinding", "leases", "--role=leases", `--serviceaccount=${NS}:reader`], { allowFail: true });
  token = (await kubectl(["-n", NS, "create", "token", "reader", "--duration=1h"])).trim();
}, 60_000);

describe("TLS and auth modes against the real API server", () => {
  test("client certificate + CA file (the admin kubeconfig) works", async () => {
    expect(await listNamespaces(cluster.KUBECONFIG)).toBeGreaterThan(3);
  });

  test("client certificate + CA as inline data works", async () => {
    const path = kubeconfig(
      "inline",
      { "certificate-authority-data": readFileSync(cluster.CA_FILE).toString("base64") },
      {
        "client-certificate-data": readFileSync(cluster.CLIENT_CERT_FILE).toString("base64"),
        "client-key-data": readFileSync(cluster.CLIENT_KEY_FILE).toString("base64"),
      },
    );
    expect(await listNamespaces(path)).toBeGreaterThan(3);
  });

  test("without the client certificate the API server sees an anonymous user (401/403), so the cert really was sent", async () => {
    const path = kubeconfig("nocert", { "certificate-authority": cluster.CA_FILE }, {});
    const err = await listNamespaces(path).catch((e) => e);
    expect(String(err)).toMatch(/list namespaces: (401|403)/);
  });

  test("a ServiceAccount token + CA works, and the token identifies the ServiceAccount", async () => {
    const path = kubeconfig("token", { "certificate-authority": cluster.CA_FILE }, { token });
    expect(await listNamespaces(path)).toBeGreaterThan(3);
    const c = makeKubeClient(loadKubeConfig(path));
    const review = await c.request<any>(
      { method: "POST", path: "/apis/authentication.k8s.io/v1/selfsubjectreviews", body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
      "self subject review",
    );
    expect(review.status.userInfo.username).toBe(`system:serviceaccount:${NS}:reader`);
  });

  test("a token file (tokenFile) is read and sent", async () => {
    const tf = writeFile(dir, "token", token);
    const path = kubeconfig("tokenfile", { "certificate-authority": cluster.CA_FILE }, { tokenFile: tf });
    expect(await listNamespaces(path)).toBeGreaterThan(3);
  });

  test("a wrong CA is rejected (certificate verification is on)", async () => {
    const path = kubeconfig("wrongca", { "certificate-authority": await foreignCa() }, { token });
    const err = await listNamespaces(path).catch((e) => e);
    expect(String(err)).toMatch(/Unreachable|certificate|SELF_SIGNED|verify/i);
  });

  test("no CA at all: the system trust store does not know the cluster CA, so it is rejected", async () => {
    const path = kubeconfig("noca", {}, { token });
    const err = await listNamespaces(path).catch((e) => e);
    expect(String(err)).toMatch(/Unreachable|certificate|SELF_SIGNED|verify/i);
  });

  test("insecure-skip-tls-verify is honoured only when the kubeconfig sets it", async () => {
    const path = kubeconfig("skip", { "insecure-skip-tls-verify": true }, { token });
    expect(await listNamespaces(path)).toBeGreaterThan(3);
  });

  test("a missing kubeconfig file is a configuration error naming KUBE_CONFIG_PATH", () => {
    expect(() => loadKubeConfig(`${dir}/nope.yaml`)).toThrow(ConfigError);
    expect(() => loadKubeConfig(`${dir}/nope.yaml`)).toThrow(/KUBE_CONFIG_PATH/);
  });

  test("the whole app runs with a ServiceAccount token kubeconfig and reports a wrong CA as not ready", async () => {
    const good = kubeconfig("app-token", { "certificate-authority": cluster.CA_FILE }, { token });
    const app = await startApp({ kubeconfig: good, services: [{ kind: "Deployment", name: "web", namespace: "shop" }], env: { LOCK_NAMESPACE: NS } });
    expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    await app.stop();
    const bad = kubeconfig("app-wrongca", { "certificate-authority": await foreignCa() }, { token });
    const broken = await startApp({ kubeconfig: bad, services: [{ kind: "Deployment", name: "web", namespace: "shop" }], env: { LOCK_NAMESPACE: NS }, waitReady: false });
    // Not ready because of the CA: wait until the app has said so, then ask /readyz.
    await waitFor(() => /certificate|SELF_SIGNED|verify/i.test(broken.logs().join("\n")), 15_000, "the app to log the certificate failure");
    const r = await fetch(`${broken.url}/readyz`);
    expect(r.status).toBe(503);
    await broken.stop();
  }, 60_000);
});
