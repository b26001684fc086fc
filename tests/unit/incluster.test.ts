// Covers src/kube/incluster.ts: in-cluster credentials from a ServiceAccount folder, token rotation, clear errors.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/env.ts";
import { inClusterCredentials, serviceAccountNamespace } from "../../src/kube/incluster.ts";

function saDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "k8s-restart-app-sa-"));
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
  return dir;
}
const ENV = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };

describe("in-cluster credentials", () => {
  test("server from the environment, bearer token and CA from the folder, namespace trimmed", async () => {
    const dir = saDir({ token: "tok-1\n", "ca.crt": "CA-PEM", namespace: "apps\n" });
    const c = await inClusterCredentials(dir, ENV);
    expect(c.server).toBe("https://10.0.0.1:443");
    expect(c.namespace).toBe("apps");
    const r = await c.resolve();
    expect(r.headers).toEqual({ Authorization: "Bearer tok-1" });
    expect(r.ca?.toString()).toBe("CA-PEM");
    expect(r.rejectUnauthorized).toBe(true);
  });

  test("an IPv6 service address is bracketed", async () => {
    const dir = saDir({ token: "t", "ca.crt": "c" });
    expect((await inClusterCredentials(dir, { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" })).server).toBe("https://[fd00::1]:6443");
  });

  test("the rotated token is read once the last read is a minute old; a failed re-read keeps the last one", async () => {
    const dir = saDir({ token: "old", "ca.crt": "c" });
    let t = 0;
    const c = await inClusterCredentials(dir, ENV, () => t);
    writeFileSync(join(dir, "token"), "new");
    t = 59_000;
    expect((await c.resolve()).headers.Authorization).toBe("Bearer old");
    t = 61_000;
    expect((await c.resolve()).headers.Authorization).toBe("Bearer new");
    writeFileSync(join(dir, "ca.crt"), "");
    rmSync(join(dir, "token"));
    t = 200_000;
    expect((await c.resolve()).headers.Authorization).toBe("Bearer new");
  });

  test("missing environment or files are configuration errors naming what is missing", async () => {
    const dir = saDir({ "ca.crt": "c" });
    await expect(inClusterCredentials(dir, {})).rejects.toThrow(ConfigError);
    await expect(inClusterCredentials(dir, {})).rejects.toThrow(/KUBERNETES_SERVICE_HOST/);
    await expect(inClusterCredentials(dir, ENV)).rejects.toThrow(ConfigError);
    await expect(inClusterCredentials(dir, ENV)).rejects.toThrow(new RegExp(`${join(dir, "token")}.*SERVICE_ACCOUNT_DIR`));
  });

  test("the namespace file is optional", async () => {
    expect(await serviceAccountNamespace(saDir({}))).toBeUndefined();
    expect(await serviceAccountNamespace(saDir({ namespace: " \n" }))).toBeUndefined();
  });
});
