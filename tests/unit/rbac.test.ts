// The rules `k8s-restart-app rbac` prints are derived from the needs in kube/access.ts: every need is granted, nothing more.
import { describe, expect, test } from "bun:test";
import type { ConfigFile } from "../../src/config/file.ts";
import { detailNeeds, eventNeed, leaseNeeds, type Need, namespaceNeeds, REVIEW_NEEDS, requiredNeeds, rulesFor } from "../../src/kube/access.ts";
import { CLUSTER_ROLE_RULES, LEASE_RULES, namespacedManifests, type PolicyRule } from "../../src/rbac.ts";

/** RBAC's own rule: a rule grants a need when group, resource and verb match, and resourceNames (if any) hold its name. */
const grants = (rules: PolicyRule[], n: Need) =>
  rules.some(
    (r) =>
      r.apiGroups.includes(n.group) &&
      r.resources.includes(n.resource) &&
      r.verbs.includes(n.verb) &&
      (r.resourceNames === undefined || (n.name !== undefined && r.resourceNames.includes(n.name))),
  );

const CONFIG: ConfigFile = {
  services: [
    { kind: "Deployment", namespace: "shop", name: "web" },
    { kind: "Deployment", namespace: "shop", name: "api" },
    { kind: "StatefulSet", namespace: "shop", name: "db" },
    { kind: "DaemonSet", namespace: "ops", name: "agent" },
  ],
};

type Role = { kind: string; metadata: { namespace?: string }; rules?: PolicyRule[] };

describe("RBAC rules derived from the needs", () => {
  const manifests = namespacedManifests(CONFIG, { namespace: "tools", serviceAccount: "k8s-restart-app", lockNamespace: "tools" }) as Role[];
  const roleIn = (ns: string, nameSuffix = "") =>
    manifests.find((m) => m.kind === "Role" && m.metadata.namespace === ns && ((m.metadata as { name: string }).name.endsWith("-locks") === (nameSuffix === "-locks")))!.rules!;

  test("every need of every service is granted by the Role printed for its namespace", () => {
    for (const s of CONFIG.services) {
      const missing = [...requiredNeeds(s), eventNeed(s.namespace), ...detailNeeds(s.namespace, [s.kind])].filter((n) => !grants(roleIn(s.namespace), n));
      expect(missing).toEqual([]);
    }
  });

  test("the lock Role grants every Lease need", () => {
    expect(leaseNeeds("tools").filter((n) => !grants(roleIn("tools", "-locks"), n))).toEqual([]);
    expect(leaseNeeds("tools").filter((n) => !grants(LEASE_RULES, n))).toEqual([]);
  });

  test("patch is limited to the configured names; other names are not granted", () => {
    const shop = roleIn("shop");
    expect(grants(shop, { verb: "patch", group: "apps", resource: "deployments", namespace: "shop", name: "web" })).toBe(true);
    expect(grants(shop, { verb: "patch", group: "apps", resource: "deployments", namespace: "shop", name: "payments" })).toBe(false);
    expect(grants(shop, { verb: "patch", group: "apps", resource: "daemonsets", namespace: "shop", name: "agent" })).toBe(false);
    expect(grants(shop, { verb: "delete", group: "apps", resource: "deployments", namespace: "shop", name: "web" })).toBe(false);
  });

  test("the ClusterRole grants every kind's needs on any name, the Event and the self-check", () => {
    const any = (["Deployment", "StatefulSet", "DaemonSet"] as const).flatMap((kind) => requiredNeeds({ kind, namespace: "x", name: "whatever" }));
    const reads = detailNeeds("x", ["Deployment", "StatefulSet"]);
    expect([...any, eventNeed("x"), ...reads, ...REVIEW_NEEDS].filter((n) => !grants(CLUSTER_ROLE_RULES, n))).toEqual([]);
    expect(grants(CLUSTER_ROLE_RULES, { verb: "get", group: "", resource: "secrets", namespace: "x" })).toBe(false);
  });

  test("rulesFor merges resources that need the same verbs and drops names the collection already covers", () => {
    const needs = namespaceNeeds([{ kind: "Deployment", namespace: "shop", name: "web" }]);
    expect(rulesFor([...needs, { verb: "patch", group: "apps", resource: "deployments", namespace: "shop" }])).toEqual([
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "list", "watch"] },
      { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["list", "watch"] },
    ]);
  });
});
