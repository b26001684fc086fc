// Workloads for the e2e suites and the benchmarks whose pods the real scheduler places on kwok's fake nodes.

/** Pins pods to kwok's fake nodes: the nodes' type=kwok label and a toleration of their kwok taint (as deploy/examples/workloads.yaml). */
export const KWOK_PLACEMENT = {
  nodeSelector: { type: "kwok" },
  tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
};

export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10";

/**
 * A pod template labelled app=<app> whose pods land on kwok's fake nodes. `spec` adds or replaces pod
 * spec fields; the default is one pause container requesting 10m CPU and 16Mi.
 */
export function kwokPodTemplate(app: string, spec: Record<string, unknown> = {}) {
  return {
    metadata: { labels: { app } },
    spec: {
      ...KWOK_PLACEMENT,
      containers: [{ name: "app", image: PAUSE_IMAGE, resources: { requests: { cpu: "10m", memory: "16Mi" } } }],
      ...spec,
    },
  };
}

/** A Deployment labelled and selecting app=<name> with one kwok-pinned replica; `spec` adds to the Deployment spec, `pod` to the pod spec. */
export function kwokDeployment(namespace: string, name: string, o: { spec?: Record<string, unknown>; pod?: Record<string, unknown> } = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels: { app: name } },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: kwokPodTemplate(name, o.pod), ...o.spec },
  };
}
