// Permission self-check: asks the API server (SelfSubjectAccessReview) whether the app may do what each service needs.
//
// Needs come in two tiers. *Required* ones (watch the workload and its pods, patch the workload)
// are exactly what the original tool's ClusterRole grants for Deployments and StatefulSets: a
// service missing one of them cannot be restarted. *Optional* ones (Events, Leases) power the
// new features; without them the app still works as the original did, and says so.
import type { ServiceKey } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import type { KubeClient } from "./api.ts";
import { plural } from "./paths.ts";

export interface Need {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
  name?: string;
}

/** Required per service: without these the service cannot be watched or restarted. */
export function requiredNeeds(s: ServiceKey): Need[] {
  const w = { group: "apps", resource: plural(s.kind), namespace: s.namespace };
  return [
    { verb: "list", ...w },
    { verb: "watch", ...w },
    { verb: "patch", ...w, name: s.name },
    { verb: "list", group: "", resource: "pods", namespace: s.namespace },
    { verb: "watch", group: "", resource: "pods", namespace: s.namespace },
  ];
}

/** Lease-backed locks (shared across replicas, surviving restarts) need all of these. */
export function leaseNeeds(lockNamespace: string): Need[] {
  const l = { group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace };
  return ["get", "list", "watch", "create", "update"].map((verb) => ({ verb, ...l }));
}

export const eventNeed = (namespace: string): Need => ({ verb: "create", group: "", resource: "events", namespace });

export const describeNeed = (n: Need) =>
  `${n.verb} ${n.group ? `${n.resource}.${n.group}` : n.resource}${n.name ? `/${n.name}` : ""} in namespace ${n.namespace}`;

export interface AccessReport {
  /** Per service id: required permissions that are missing (the service is unusable). */
  unusable: Map<string, string[]>;
  /** Per service id, why the app cannot even watch it (missing list/watch): left out of the watches. */
  unwatchable: Map<string, string>;
  /** Lease permissions that are missing (empty ⇒ Lease locks can be used). */
  missingLeases: string[];
  /** Namespaces where Events cannot be recorded. */
  missingEvents: string[];
}

export async function checkAccess(client: KubeClient, services: ServiceKey[], lockNamespace: string): Promise<AccessReport> {
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
            // Start-up waits for this check; an unreachable API server must not hang it.
            signal: AbortSignal.timeout(10_000),
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
  // A right granted on the whole collection covers every name in it: ask about the collection
  // first and about the single object only when that is refused, so 200 services in a few
  // namespaces cost a dozen reviews at start, not hundreds.
  const allowedNarrowest = async (n: Need) => {
    if (n.name !== undefined && (await allowed({ ...n, name: undefined }))) return true;
    return allowed(n);
  };
  const missing = async (needs: Need[]) => {
    const ok = await Promise.all(needs.map(allowedNarrowest));
    return needs.filter((_, i) => !ok[i]).map(describeNeed);
  };
  const unusable = new Map<string, string[]>();
  const namespaces = [...new Set(services.map((s) => s.namespace))];
  const [perService, missingLeases, eventResults] = await Promise.all([
    Promise.all(services.map(async (s) => [serviceId(s), await missing(requiredNeeds(s))] as const)),
    missing(leaseNeeds(lockNamespace)),
    Promise.all(namespaces.map(async (ns) => ((await allowed(eventNeed(ns))) ? undefined : ns))),
  ]);
  const unwatchable = new Map<string, string>();
  for (const [id, m] of perService) {
    if (!m.length) continue;
    unusable.set(id, m);
    const blind = m.filter((x) => /^(list|watch) /.test(x));
    if (blind.length) unwatchable.set(id, `the app may not watch this service: missing ${blind.join("; ")}`);
  }
  return { unusable, unwatchable, missingLeases, missingEvents: eventResults.filter((x): x is string => !!x) };
}
