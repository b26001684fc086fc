// e2e: the control plane itself — fake nodes Ready, and kubectl's own rollout restart completes for each kind.
import { describe, expect, test } from "bun:test";
import { cluster, getJson, kubectl, waitRollout } from "../support/harness.ts";

// The local control plane (scripts/cluster.sh) pins its version and node count; on kind
// (make e2e-kind) the same checks apply to whatever the kind cluster runs.
const local = cluster.CLUSTER_NAME === "k8s-restart-app";

describe("the local control plane (scripts/cluster.sh)", () => {
  test("serves a real v1.36 API with 3 Ready kwok nodes", async () => {
    const version = JSON.parse(await kubectl(["version", "-o", "json"])).serverVersion;
    expect(version.gitVersion).toMatch(local ? /^v1\.36\.3$/ : /^v1\.\d+\.\d+/);
    // The real node of scripts/node.sh (labelled, tainted) is not part of this promise.
    const nodes = (await getJson(["get", "nodes"])).items
      .filter((n: any) => !n.metadata.labels["k8s-restart-app.test/real-node"])
      .filter((n: any) => local || n.metadata.labels.type === "kwok");
    expect(nodes.length).toBe(local ? 3 : 2);
    for (const n of nodes) {
      expect(n.metadata.labels.type).toBe("kwok");
      expect(n.status.conditions.find((c: any) => c.type === "Ready")?.status).toBe("True");
    }
  });

  test("kubectl rollout restart of a Deployment, a StatefulSet and a DaemonSet rolls out to completion with new pods", async () => {
    for (const [kind, name] of [
      ["deployment", "web"],
      ["statefulset", "db"],
      ["daemonset", "agent"],
    ] as const) {
      await waitRollout(kind, "shop", name);
      const before = await getJson(["-n", "shop", "get", kind, name]);
      const selector = Object.entries(before.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(",");
      const oldPods = new Set((await getJson(["-n", "shop", "get", "pods", "-l", selector])).items.map((p: any) => p.metadata.uid));
      await kubectl(["-n", "shop", "rollout", "restart", `${kind}/${name}`]);
      await waitRollout(kind, "shop", name, "120s");
      const after = await getJson(["-n", "shop", "get", kind, name]);
      expect(after.metadata.generation).toBeGreaterThan(before.metadata.generation);
      expect(after.status.observedGeneration).toBe(after.metadata.generation);
      // The controllers really replaced the pods (kwok made the new ones Running/Ready).
      const pods = (await getJson(["-n", "shop", "get", "pods", "-l", selector])).items.filter((p: any) => !p.metadata.deletionTimestamp);
      expect(pods.length).toBeGreaterThan(0);
      for (const p of pods) {
        expect(oldPods.has(p.metadata.uid)).toBe(false);
        expect(p.status.phase).toBe("Running");
      }
    }
  }, 180_000);
});
