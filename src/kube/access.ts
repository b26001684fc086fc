// Permission self-check: asks the API server (SelfSubjectAccessReview) whether the app may do what each service needs.
import type { ServiceKey } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import type { KubeClient } from "./client.ts";
import { plural } from "./paths.ts";

export interface Need {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name?: string;
}

/** What the app needs: per service its workload and pods, events; the Leases in the lock namespace. */
export function needsOf(s: ServiceKey, lockNamespace: string): Need[] {
  const w = { group: "apps", resource: plural(s.kind), namespace: s.namespace };
  return [
    { verb: "list", ...w },
    { verb: "watch", ...w },
    { verb: "patch", ...w, name: s.name },
    { verb: "list", group: "", resource: "pods", namespace: s.namespace },
    { verb: "watch", group: "", resource: "pods", namespace: s.namespace },
    { verb: "create", group: "", resource: "events", namespace: s.namespace },
    { verb: "list", group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace },
    { verb: "watch", group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace },
    { verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace },
    { verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace },
  ];
}

export const describeNeed = (n: Need) =>
  `${n.verb} ${n.group ? `${n.resource}.${n.group}` : n.resource}${n.name ? `/${n.name}` : ""} in namespace ${n.namespace}`;

/** Returns, per service id, the needs the API server says are missing (absent when all are granted). */
export async function checkAccess(client: KubeClient, services: ServiceKey[], lockNamespace: string): Promise<Map<string, string[]>> {
  const cache = new Map<string, Promise<boolean>>();
  const allowed = (n: Need) => {
    const k = JSON.stringify(n);
    let p = cache.get(k);
    if (!p) {
      p = client
        .request<{ status?: { allowed?: boolean } }>(
          {
            method: "POST",
            path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: { resourceAttributes: { verb: n.verb, group: n.group, resource: n.resource, namespace: n.namespace, name: n.name } },
            },
          },
          `access review ${describeNeed(n)}`,
        )
        .then((r) => r.status?.allowed === true);
      cache.set(k, p);
    }
    return p;
  };
  const out = new Map<string, string[]>();
  await Promise.all(
    services.map(async (s) => {
      const needs = needsOf(s, lockNamespace);
      const results = await Promise.all(needs.map(allowed));
      const missing = needs.filter((_, i) => !results[i]).map(describeNeed);
      if (missing.length) out.set(serviceId(s), missing);
    }),
  );
  return out;
}
