// Selector entries: label-selector syntax, config validation naming the YAML path, the ServiceSet following workloads live (explicit entries win), and the RBAC they need.
import { describe, expect, test } from "bun:test";
import { parseConfigText, type Kind } from "../../src/config/file.ts";
import { matchesRequirements, parseLabelSelector } from "../../src/config/label-selector.ts";
import type { ChangeScope } from "../../src/kube/cluster.ts";
import type { Workload } from "../../src/kube/types.ts";
import { namespacedManifests, wideSelectorRules } from "../../src/rbac.ts";
import { makeServiceSet, type ServiceChange } from "../../src/status/service-set.ts";

describe("label selectors (Kubernetes syntax)", () => {
  const m = (sel: string, labels: Record<string, string>) => matchesRequirements(parseLabelSelector(sel), labels);
  test.each([
    ["tier=web", { tier: "web" }, true],
    ["tier==web", { tier: "web" }, true],
    ["tier=web", { tier: "db" }, false],
    ["tier=web,team!=data", { tier: "web", team: "shop" }, true],
    ["tier=web,team!=data", { tier: "web", team: "data" }, false],
    ["team!=data", {}, true],
    ["env in (prod, stage)", { env: "stage" }, true],
    ["env in (prod,stage)", { env: "dev" }, false],
    ["env notin (prod)", {}, true],
    ["env notin (prod)", { env: "prod" }, false],
    ["canary", { canary: "" }, true],
    ["!canary", { canary: "yes" }, false],
    ["!canary", {}, true],
    ["example.com/team=a,env in (x,y),!legacy", { "example.com/team": "a", env: "y" }, true],
  ] as [string, Record<string, string>, boolean][])("%s on %j → %p", (sel, labels, want) => {
    expect(m(sel, labels)).toBe(want);
  });

  test.each([
    ["", "empty selector"],
    ["tier=web,", "empty requirement"],
    ["env in (a,b", "unbalanced"],
    ["tier=we b", "invalid label value"],
    ["Bad_Prefix/x=y", "prefix"],
    ["tier web", "cannot read"],
    ["env in ()", "at least one value"],
  ])("%j is refused (%s)", (sel, msg) => {
    expect(() => parseLabelSelector(sel)).toThrow(msg);
  });
});

describe("selector entries in the services file", () => {
  test("parsed beside explicit entries; kinds default to all three", () => {
    const cfg = parseConfigText(
      `services:\n  - {kind: Deployment, name: web, namespace: shop}\n  - namespace: shop\n    selector: "tier=web,team!=data"\n    allowedGroups: [web]\n  - {namespace: "*", selector: "restartable", kinds: [StatefulSet]}\n`,
      "c.yaml",
    );
    expect(cfg.services).toEqual([{ kind: "Deployment", name: "web", namespace: "shop" }]);
    expect(cfg.selectors?.map((s) => [s.namespace, s.kinds, s.index, s.allowedGroups])).toEqual([
      ["shop", ["Deployment", "StatefulSet", "DaemonSet"], 1, ["web"]],
      ["*", ["StatefulSet"], 2, undefined],
    ]);
  });

  test.each([
    [`services:\n  - {namespace: shop, selector: "tier in (a"}\n`, "c.yaml: services[0].selector: unbalanced parentheses"],
    [`services:\n  - {namespace: shop, selector: "x", kinds: [Pod]}\n`, "c.yaml: services[0].kinds[0]: expected Deployment, StatefulSet or DaemonSet"],
    [`services:\n  - {namespace: shop, selector: "x", name: web}\n`, "c.yaml: services[0]"],
    [`services:\n  - {namespace: "Shop!", selector: "x"}\n`, "c.yaml: services[0].namespace"],
    [`services:\n  - {kind: Deployment, namespace: "*", name: web}\n`, "c.yaml: services[0].namespace: expected a Kubernetes namespace name"],
  ])("%j → %s", (text, msg) => {
    expect(() => parseConfigText(text, "c.yaml")).toThrow(msg);
  });
});

/** A fake workload cache: set/delete workloads and the set hears the events. */
function fakeWorkloads() {
  const items = new Map<string, { kind: Kind; w: Workload }>();
  const handlers: ((s: ChangeScope) => void)[] = [];
  const key = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;
  return {
    view: {
      workload: (s: { kind: Kind; namespace: string; name: string }) => items.get(key(s.kind, s.namespace, s.name))?.w,
      workloads: (kind: Kind, ns: string) => [...items.values()].filter((i) => i.kind === kind && (ns === "*" || i.w.metadata?.namespace === ns)).map((i) => i.w),
      onChange: (h: (s: ChangeScope) => void) => void handlers.push(h),
    },
    put(kind: Kind, ns: string, name: string, labels: Record<string, string> | undefined) {
      if (labels) items.set(key(kind, ns, name), { kind, w: { metadata: { name, namespace: ns, labels } } });
      else items.delete(key(kind, ns, name));
      for (const h of handlers) h({ namespace: ns, workload: { kind, name } });
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const ids = (c: ServiceChange) => ({
  added: c.added.map((s) => `${s.kind}/${s.namespace}/${s.name}`),
  removed: c.removed.map((s) => `${s.kind}/${s.namespace}/${s.name}`),
  changed: c.changed.map((s) => `${s.kind}/${s.namespace}/${s.name}`),
});

describe("ServiceSet", () => {
  const CONFIG = parseConfigText(
    `services:\n  - {kind: Deployment, name: web, namespace: shop, allowedUsers: [alice]}\n  - {namespace: shop, selector: "tier=web", allowedGroups: [web]}\n  - {namespace: "*", selector: "tier", kinds: [Deployment]}\n`,
    "c.yaml",
  );

  test("workloads join and leave as labels change, in one batch per tick; explicit entries win", async () => {
    const f = fakeWorkloads();
    const set = makeServiceSet(CONFIG, f.view);
    const seen: ServiceChange[] = [];
    set.onChange((c) => seen.push(c));
    f.put("Deployment", "shop", "web", { tier: "web" });
    f.put("Deployment", "shop", "api", { tier: "web" });
    f.put("Deployment", "ops", "tool", { tier: "x" });
    f.put("StatefulSet", "ops", "db", { tier: "web" }); // "*" entry takes Deployments only
    await tick();
    expect(seen.map(ids)).toEqual([{ added: ["Deployment/shop/api", "Deployment/ops/tool"], removed: [], changed: [] }]);
    const cur = set.current();
    expect(cur.services.map((s) => s.name)).toEqual(["web", "tool", "api"]); // explicit first, then by namespace
    expect(cur.services[0]).toEqual({ kind: "Deployment", name: "web", namespace: "shop", allowedUsers: ["alice"] });
    expect(cur.services.find((s) => s.name === "api")?.allowedGroups).toEqual(["web"]); // the first matching entry's settings
    expect(cur.services.find((s) => s.name === "tool")?.allowedGroups).toBeUndefined();

    f.put("Deployment", "shop", "api", { tier: "db" }); // still matched by the "*" entry: settings change
    f.put("Deployment", "ops", "tool", undefined); // deleted
    await tick();
    expect(ids(seen[1]!)).toEqual({ added: [], removed: ["Deployment/ops/tool"], changed: ["Deployment/shop/api"] });
    f.put("Deployment", "shop", "api", {});
    await tick();
    expect(ids(seen[2]!)).toEqual({ added: [], removed: ["Deployment/shop/api"], changed: [] });
    expect(set.current().services.map((s) => s.name)).toEqual(["web"]);
  });

  test("replace(): a new file adds, removes and changes services in one change", async () => {
    const f = fakeWorkloads();
    f.put("Deployment", "shop", "api", { tier: "web" });
    const set = makeServiceSet(parseConfigText(`services:\n  - {kind: Deployment, name: web, namespace: shop}\n`, "c.yaml"), f.view);
    const seen: ServiceChange[] = [];
    set.onChange((c) => seen.push(c));
    set.replace(CONFIG);
    await tick();
    expect(seen.map(ids)).toEqual([{ added: ["Deployment/shop/api"], removed: [], changed: ["Deployment/shop/web"] }]);
    set.replace(parseConfigText(`services: []\n`, "c.yaml"));
    await tick();
    expect(ids(seen[1]!).removed.sort()).toEqual(["Deployment/shop/api", "Deployment/shop/web"]);
  });
});

describe("RBAC for selector entries", () => {
  const t = { namespace: "tools", serviceAccount: "app", lockNamespace: "tools" };
  test("a namespaced selector entry: patch on the whole collection of its kinds in its namespace, no ClusterRole", () => {
    const cfg = parseConfigText(`services:\n  - {namespace: shop, selector: "tier=web", kinds: [Deployment]}\n`, "c.yaml");
    const docs = namespacedManifests(cfg, t) as any[];
    const role = docs.find((d) => d.kind === "Role" && d.metadata.namespace === "shop");
    expect(role.rules).toContainEqual({ apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch", "patch"] });
    expect(docs.some((d) => d.kind === "ClusterRole")).toBe(false);
    expect(wideSelectorRules(cfg)).toEqual([]);
  });

  test('namespace "*": a ClusterRole for its kinds, pods and Events, bound to the ServiceAccount', () => {
    const cfg = parseConfigText(`services:\n  - {namespace: "*", selector: "restartable", kinds: [Deployment, StatefulSet]}\n`, "c.yaml");
    const docs = namespacedManifests(cfg, t) as any[];
    const cr = docs.find((d) => d.kind === "ClusterRole");
    expect(cr.metadata.name).toBe("app-selectors");
    expect(cr.rules).toEqual([
      { apiGroups: ["apps"], resources: ["deployments", "statefulsets"], verbs: ["list", "watch", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ]);
    expect(docs.find((d) => d.kind === "ClusterRoleBinding").subjects).toEqual([{ kind: "ServiceAccount", name: "app", namespace: "tools" }]);
  });
});
