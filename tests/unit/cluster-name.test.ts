// CLUSTER_NAME: parsed once (a bad value names the variable), defaulting to the kubeconfig context's cluster, none in-cluster.
import { describe, expect, test } from "bun:test";
import { KubeConfig } from "@kubernetes/client-node";
import { ConfigError, parseEnv } from "../../src/config/env.ts";
import { clusterNameFor } from "../../src/kube/cluster-name.ts";

const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: "prod-eu-1", server: "https://127.0.0.1:6443" }],
  users: [{ name: "u" }],
  contexts: [{ name: "ctx", cluster: "prod-eu-1", user: "u" }],
  currentContext: "ctx",
});

describe("CLUSTER_NAME", () => {
  test("set: used as given (trimmed), even empty; a control character or a long value is a configuration error naming it", () => {
    expect(parseEnv({ CLUSTER_NAME: " staging " }).clusterName).toBe("staging");
    expect(parseEnv({}).clusterName).toBeUndefined();
    expect(() => parseEnv({ CLUSTER_NAME: "a\nb" })).toThrow(ConfigError);
    expect(() => parseEnv({ CLUSTER_NAME: "x".repeat(64) })).toThrow(/^CLUSTER_NAME: /);
  });

  test("default: the kubeconfig context's cluster; in-cluster none; an explicit value wins", () => {
    expect(clusterNameFor(undefined, kc, false)).toBe("prod-eu-1");
    expect(clusterNameFor(undefined, kc, true)).toBe("");
    expect(clusterNameFor("", kc, false)).toBe("");
    expect(clusterNameFor("staging", kc, true)).toBe("staging");
  });
});
