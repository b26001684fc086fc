// Writes to workloads: the restart PATCH (as kubectl rollout restart) and the Event that records it.
import type { ServiceKey } from "../config/file.ts";
import type { KubeClient } from "./api.ts";
import { eventsPath, workloadPath } from "./paths.ts";
import { FIELD_MANAGER, RESTARTED_AT, RESTARTED_BY, type Workload } from "./types.ts";

export interface RestartPatch {
  restartedAt: string;
  user: string;
}

/**
 * Strategic-merge PATCH of only our template annotations: sending the whole annotations map
 * would wipe keys set by others. Returns the patched object (its metadata.generation is the one
 * the rollout must reach).
 */
export async function patchRestart(client: KubeClient, s: ServiceKey, p: RestartPatch): Promise<Workload> {
  const annotations: Record<string, string> = { [RESTARTED_AT]: p.restartedAt };
  if (p.user) annotations[RESTARTED_BY] = p.user;
  return client.request<Workload>(
    {
      method: "PATCH",
      path: workloadPath(s.kind, s.namespace, s.name),
      query: { fieldManager: FIELD_MANAGER },
      body: { spec: { template: { metadata: { annotations } } } },
      contentType: "application/strategic-merge-patch+json",
    },
    `patch ${s.kind} ${s.namespace}/${s.name}`,
  );
}

export async function recordRestartEvent(client: KubeClient, w: Workload, s: ServiceKey, user: string, nowIso: string): Promise<void> {
  const name = `${s.name}.${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
  await client.request(
    {
      method: "POST",
      path: eventsPath(s.namespace),
      body: {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace: s.namespace },
        involvedObject: {
          apiVersion: "apps/v1",
          kind: s.kind,
          name: s.name,
          namespace: s.namespace,
          uid: w.metadata?.uid,
          resourceVersion: w.metadata?.resourceVersion,
        },
        reason: "Restarted",
        message: `Restarted by ${user || "anonymous"} via k8s-restart-app`,
        type: "Normal",
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: process.env.HOSTNAME ?? "k8s-restart-app",
        firstTimestamp: nowIso,
        lastTimestamp: nowIso,
        count: 1,
      },
    },
    `create Event for ${s.kind} ${s.namespace}/${s.name}`,
  );
}
