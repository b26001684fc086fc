// Covers src/config/usage.ts (arguments, the usage text) and src/kube/kubeconfig-path.ts (which kubeconfig, as kubectl chooses).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ENVIRONMENT, parseArgs, usage } from "../../src/config/usage.ts";
import { kubeconfigPath } from "../../src/kube/kubeconfig-path.ts";

describe("arguments", () => {
  test.each([
    [[], { run: "serve" }],
    [["--help"], { run: "help" }],
    [["-h"], { run: "help" }],
    [["help"], { run: "help" }],
    [["--version"], { run: "version" }],
    [["rbac", "--help"], { run: "rbac", args: ["--help"] }],
    [["rbac"], { run: "rbac", args: [] }],
    [["--bogus"], { run: "unknown", message: 'unknown argument "--bogus"' }],
    [["serve"], { run: "unknown", message: 'unknown argument "serve"' }],
    [["--help", "extra"], { run: "unknown", message: 'unknown argument "--help extra"' }],
  ] as const)("%j → %j", (args, expected) => {
    expect(parseArgs([...args])).toEqual(expected as never);
  });

  test("the usage names every environment variable the app reads, with its default, and the docs", () => {
    const source = readFileSync(join(import.meta.dir, "../../src/config/env.ts"), "utf8");
    const read = [...source.matchAll(/\(src, "([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!);
    expect(read.length).toBeGreaterThan(10);
    const listed = ENVIRONMENT.map(([n]) => n);
    expect(read.filter((n) => !listed.includes(n))).toEqual([]);
    const text = usage();
    for (const [n, d] of ENVIRONMENT) expect(text).toContain(`${n}`), expect(text).toContain(`(default: ${d})`);
    expect(text).toContain("rbac");
    expect(text).toContain("https://");
  });
});

describe("kubeconfigPath", () => {
  const exists = (files: string[]) => (p: string) => files.includes(p);
  test.each([
    ["KUBE_CONFIG_PATH wins", "/etc/kc", {}, [], { path: "/etc/kc", source: "KUBE_CONFIG_PATH" }],
    ["in a pod: in-cluster", "", { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", KUBECONFIG: "/a" }, ["/a"], { path: "", source: "in-cluster" }],
    ["KUBECONFIG: first existing file of the list", "", { KUBECONFIG: "/missing:/b:/c" }, ["/b", "/c"], { path: "/b", source: "KUBECONFIG" }],
    ["then ~/.kube/config", "", { KUBECONFIG: "/missing" }, ["/home/u/.kube/config"], { path: "/home/u/.kube/config", source: "~/.kube/config" }],
    ["no KUBECONFIG: ~/.kube/config", "", {}, ["/home/u/.kube/config"], { path: "/home/u/.kube/config", source: "~/.kube/config" }],
  ] as const)("%s", (_l, configured, env, files, expected) => {
    expect(kubeconfigPath(configured, env, "/home/u", exists([...files]))).toEqual(expected);
  });

  test("nothing found is a configuration error naming KUBE_CONFIG_PATH and what was tried", () => {
    expect(() => kubeconfigPath("", { KUBECONFIG: "/x" }, "/home/u", () => false)).toThrow(
      'KUBE_CONFIG_PATH: empty, and no other kubeconfig found: not in a cluster (KUBERNETES_SERVICE_HOST unset), no file of KUBECONFIG="/x" exists, no /home/u/.kube/config',
    );
  });
});
