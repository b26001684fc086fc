// Covers src/config/file.ts: parseConfigFile validation messages (file + YAML path) and loadConfigFile on real temp files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/env.ts";
import { loadConfigFile, parseConfigFile, serviceId } from "../../src/config/file.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "restart-app-config-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

async function asyncMessageOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

const VALID = `
allowedGroups: [ops]
services:
  - kind: Deployment
    name: web
    namespace: shop
  - kind: StatefulSet
    name: db.primary
    namespace: shop
    allowedUsers: [alice]
  - kind: DaemonSet
    name: node-agent
    namespace: kube-system
    viewGroups: [sre]
`;

describe("loadConfigFile", () => {
  test("a valid file yields typed services and defaults", async () => {
    const cfg = await loadConfigFile(write("valid.yaml", VALID));
    expect(cfg.services.map(serviceId)).toEqual(["Deployment/shop/web", "StatefulSet/shop/db.primary", "DaemonSet/kube-system/node-agent"]);
    expect(cfg.allowedGroups).toEqual(["ops"]);
    expect(cfg.services[1]!.allowedUsers).toEqual(["alice"]);
    expect(cfg.services[2]!.viewGroups).toEqual(["sre"]);
    expect(cfg.services[0]!.allowedUsers).toBeUndefined();
  });

  test("an empty services list is valid", async () => {
    const cfg = await loadConfigFile(write("none.yaml", "services: []\n"));
    expect(cfg.services).toEqual([]);
  });

  test("a missing file names CONFIG_FILE_PATH", async () => {
    const p = join(dir, "does-not-exist.yaml");
    expect(await asyncMessageOf(loadConfigFile(p))).toBe(`CONFIG_FILE_PATH: ${p}: no such file`);
  });

  test("an empty file says so", async () => {
    const p = write("empty.yaml", "");
    expect(await asyncMessageOf(loadConfigFile(p))).toBe(`${p}: the file is empty; expected "services:" with a list`);
  });

  test("a comments-only file counts as empty", async () => {
    const p = write("comments.yaml", "# nothing here yet\n");
    expect(await asyncMessageOf(loadConfigFile(p))).toStartWith(`${p}: the file is empty`);
  });

  test("invalid YAML names the file", async () => {
    const p = write("broken.yaml", "services:\n  - kind: Deployment\n   name: [unclosed\n");
    expect(await asyncMessageOf(loadConfigFile(p))).toStartWith(`${p}: invalid YAML: `);
  });

  test("an unknown kind names file, index and the allowed kinds", async () => {
    const p = write(
      "pod.yaml",
      "services:\n  - {kind: Deployment, name: web, namespace: shop}\n  - {kind: Pod, name: web, namespace: shop}\n",
    );
    expect(await asyncMessageOf(loadConfigFile(p))).toBe(`${p}: services[1].kind: expected Deployment, StatefulSet or DaemonSet, got "Pod"`);
  });
});

describe("parseConfigFile", () => {
  const svc = (extra: Record<string, unknown> = {}) => ({ kind: "Deployment", name: "web", namespace: "shop", ...extra });

  test.each([
    ["uppercase/underscore name", { services: [svc({ name: "Web_1" })] }, `services[0].name: expected a Kubernetes object name (DNS subdomain), got "Web_1"`],
    ["name ending in a dash", { services: [svc({ name: "web-" })] }, `services[0].name: expected a Kubernetes object name (DNS subdomain), got "web-"`],
    ["too long name", { services: [svc({ name: "a".repeat(254) })] }, "services[0].name: expected a Kubernetes object name (DNS subdomain)"],
    ["namespace with a dot", { services: [svc({ namespace: "shop.eu" })] }, `services[0].namespace: expected a Kubernetes namespace name (DNS label), got "shop.eu"`],
    ["uppercase namespace", { services: [svc({ namespace: "Shop" })] }, `services[0].namespace: expected a Kubernetes namespace name (DNS label), got "Shop"`],
    ["missing namespace", { services: [{ kind: "Deployment", name: "web" }] }, "services[0].namespace: is required"],
    ["missing kind", { services: [svc(), { name: "api", namespace: "shop" }] }, "services[1].kind: is required"],
    ["extra service field", { services: [svc({ replicas: 3 })] }, "services[0].replicas: unknown key; expected one of kind, name, namespace, allowedUsers, allowedGroups, viewUsers, viewGroups"],
    ["extra top-level field", { services: [], extra: 1 }, "extra: unknown key; expected one of services, allowedUsers, allowedGroups, viewUsers, viewGroups"],
    ["misspelled service key", { services: [{ kind: "Deployment", name: "web", namepsace: "shop" }] }, "services[0].namepsace: unknown key (did you mean namespace?)"],
    ["misspelled list key", { services: [svc({ allowedGroup: ["ops"] })] }, "services[0].allowedGroup: unknown key (did you mean allowedGroups?)"],
    ["misspelled top-level key", { servics: [] }, "servics: unknown key (did you mean services?)"],
    ["case slip", { services: [svc({ ViewUsers: ["a"] })] }, "services[0].ViewUsers: unknown key (did you mean viewUsers?)"],
    ["allowedUsers not a list", { services: [svc({ allowedUsers: "alice" })] }, `services[0].allowedUsers: expected array, got "alice"`],
    ["empty group name", { services: [svc({ allowedGroups: [""] })] }, "services[0].allowedGroups[0]:"],
    ["services not a list", { services: "web" }, `services: expected array, got "web"`],
    ["no services key", {}, "services: is required"],
    ["top level is a list", [svc()], "(top level): expected object"],
  ])("%s", (_label, doc, expected) => {
    expect(messageOf(() => parseConfigFile(doc, "cfg.yaml"))).toStartWith(`cfg.yaml: ${expected}`);
  });

  test("a duplicate names both entries and the service", () => {
    const doc = { services: [svc(), svc({ kind: "StatefulSet" }), svc()] };
    expect(messageOf(() => parseConfigFile(doc, "cfg.yaml"))).toBe("cfg.yaml: services[2]: duplicate of services[0] (Deployment/shop/web)");
  });

  test("the same name in another kind or namespace is not a duplicate", () => {
    const doc = { services: [svc(), svc({ kind: "DaemonSet" }), svc({ namespace: "shop2" })] };
    expect(parseConfigFile(doc, "cfg.yaml").services).toHaveLength(3);
  });

  test.each([null, undefined])("%p is an empty file", (doc) => {
    expect(messageOf(() => parseConfigFile(doc, "x.yaml"))).toBe(`x.yaml: the file is empty; expected "services:" with a list`);
  });
});
