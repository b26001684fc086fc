// Permission self-check: asks the API server (SelfSubjectRulesReview once per namespace, SelfSubjectAccessReview where that is not enough) whether the app may do what each service needs.
//
// Needs come in two tiers. *Required* ones (watch the workload and its pods, patch the workload)
// are exactly what the original tool's ClusterRole grants for Deployments and StatefulSets: a
// service missing one of them cannot be restarted. *Optional* ones (Events, Leases) power the
// new features; without them the app still works as the original did, and says so. The
// *detail* needs (read Events, ReplicaSets, ControllerRevisions) feed the details panel and the
// restart history; they are optional too: without them those parts stay empty and say why.
import type { ServiceKey } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import { type KubeClient, KubeError } from "./api.ts";
import type { WatchScope } from "./cluster.ts";
import { plural } from "./paths.ts";
import { granted, type RulesReview, reviewRules } from "./rules-review.ts";

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

/**
 * Required for a selector entry's scope: every workload of the kind there may become a service,
 * so the rights are on the whole collection; namespace "*" needs them cluster-wide (namespace "").
 */
export function scopeNeeds(sc: WatchScope): Need[] {
  const namespace = sc.namespace === "*" ? "" : sc.namespace;
  return requiredNeeds({ kind: sc.kind, namespace, name: "" }).map((n) => ({ ...n, name: undefined }));
}

export const scopeKey = (sc: WatchScope) => `${sc.kind}/${sc.namespace}`;

/** Lease-backed locks (shared across replicas, surviving restarts) need all of these. */
export function leaseNeeds(lockNamespace: string): Need[] {
  const l = { group: "coordination.k8s.io", resource: "leases", namespace: lockNamespace };
  return ["get", "list", "watch", "create", "update"].map((verb) => ({ verb, ...l }));
}

export const eventNeed = (namespace: string): Need => ({ verb: "create", group: "", resource: "events", namespace });

/**
 * The self-check itself (cluster-scoped; default clusters grant both to every authenticated user):
 * a rules review per namespace, and access reviews where the rules review is incomplete.
 */
export const REVIEW_NEEDS: Need[] = ["selfsubjectrulesreviews", "selfsubjectaccessreviews"].map((resource) => ({
  verb: "create",
  group: "authorization.k8s.io",
  resource,
  namespace: "",
}));

/**
 * What the details panel and the history read in a namespace: Events (always), ReplicaSets
 * (revisions of Deployments), ControllerRevisions (of StatefulSets and DaemonSets). Optional.
 */
export function detailNeeds(namespace: string, kinds: Iterable<string>): Need[] {
  const ks = new Set(kinds);
  const resources: [string, string][] = [["", "events"]];
  if (ks.has("Deployment")) resources.push(["apps", "replicasets"]);
  if (ks.has("StatefulSet") || ks.has("DaemonSet")) resources.push(["apps", "controllerrevisions"]);
  return resources.flatMap(([group, resource]) => ["list", "watch"].map((verb) => ({ verb, group, resource, namespace })));
}

/** The detail needs of every namespace the services (or namespaced selector scopes) live in. */
export function allDetailNeeds(services: { kind: string; namespace: string }[]): Need[] {
  const kinds = new Map<string, string[]>();
  for (const s of services) if (s.namespace !== "*") kinds.set(s.namespace, [...(kinds.get(s.namespace) ?? []), s.kind]);
  return [...kinds].flatMap(([ns, ks]) => detailNeeds(ns, ks));
}

/** Everything the services of one namespace need there: the required rights, the Event and the detail reads. */
export function namespaceNeeds(services: ServiceKey[]): Need[] {
  return [...services.flatMap(requiredNeeds), ...[...new Set(services.map((s) => s.namespace))].map(eventNeed), ...allDetailNeeds(services)];
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Groups values by a key, keeping first-seen order. */
function groupBy<T>(items: T[], key: (t: T) => string): T[][] {
  const m = new Map<string, T[]>();
  for (const t of items) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return [...m.values()];
}

const uniq = (xs: string[]) => [...new Set(xs)];

/**
 * RBAC rules that grant exactly `needs` (namespaces aside: a Role is per namespace). A need that
 * names an object becomes a rule limited by resourceNames, unless the collection is needed anyway.
 */
export function rulesFor(needs: Need[]): PolicyRule[] {
  const onCollection = needs.filter((n) => n.name === undefined);
  const covered = (n: Need) => onCollection.some((m) => m.verb === n.verb && m.group === n.group && m.resource === n.resource);
  // Collection rights: the verbs of each resource, then resources that need the same verbs share a rule.
  const perResource = groupBy(onCollection, (n) => `${n.group}/${n.resource}`).map((ns) => ({
    group: ns[0]!.group,
    resource: ns[0]!.resource,
    verbs: uniq(ns.map((n) => n.verb)),
  }));
  const collectionRules = groupBy(perResource, (r) => `${r.group}|${r.verbs.join(",")}`).map((rs) => ({
    apiGroups: [rs[0]!.group],
    resources: uniq(rs.map((r) => r.resource)),
    verbs: rs[0]!.verbs,
  }));
  // Named rights: the names of each (resource, verb), then verbs that apply to the same names share a rule.
  const named = needs.filter((n) => n.name !== undefined && !covered(n));
  const perVerb = groupBy(named, (n) => `${n.group}/${n.resource}/${n.verb}`).map((ns) => ({
    group: ns[0]!.group,
    resource: ns[0]!.resource,
    verb: ns[0]!.verb,
    names: uniq(ns.map((n) => n.name!)).sort(),
  }));
  const namedRules = groupBy(perVerb, (r) => `${r.group}/${r.resource}|${r.names.join(",")}`).map((rs) => ({
    apiGroups: [rs[0]!.group],
    resources: [rs[0]!.resource],
    verbs: uniq(rs.map((r) => r.verb)),
    resourceNames: rs[0]!.names,
  }));
  return [...collectionRules, ...namedRules];
}

export const describeNeed = (n: Need) =>
  `${n.verb} ${n.group ? `${n.resource}.${n.group}` : n.resource}${n.name ? `/${n.name}` : ""} ${n.namespace ? `in namespace ${n.namespace}` : "in all namespaces"}`;

export interface AccessReport {
  /** Per service id: required permissions that are missing (the service is unusable). */
  unusable: Map<string, string[]>;
  /** Per service id, why the app cannot even watch it (missing list/watch): left out of the watches. */
  unwatchable: Map<string, string>;
  /** Lease permissions that are missing (empty ⇒ Lease locks can be used). */
  missingLeases: string[];
  /** Namespaces where Events cannot be recorded. */
  missingEvents: string[];
  /** Per selector scope ("Deployment/shop", "Deployment/*"): required rights that are missing. */
  scopes?: Map<string, string[]>;
  /** Detail reads (Events, ReplicaSets, ControllerRevisions) the app may not do: those watches are not started. */
  missingDetails: Need[];
}

/** The access report as /readyz lines: what the app cannot do, and what it does instead. */
export function accessDetail(report: AccessReport, checkError: string, inProcessLocks: boolean): string[] {
  const detail: string[] = [];
  if (checkError) detail.push(`permission self-check failed: ${checkError}`);
  for (const [id, missing] of report.unusable) detail.push(`${id}: missing permission: ${missing.join("; ")}`);
  for (const [scope, missing] of report.scopes ?? []) detail.push(`selector entries for ${scope}: missing permission: ${missing.join("; ")}`);
  if (inProcessLocks) detail.push(`locks are in-process only: missing ${report.missingLeases.join("; ")}`);
  if (report.missingEvents.length) detail.push(`cannot create Events in: ${report.missingEvents.join(", ")}`);
  if (report.missingDetails?.length) detail.push(`details and history incomplete: missing ${report.missingDetails.map(describeNeed).join("; ")}`);
  return detail;
}

export const NO_PROBLEMS: AccessReport = { unusable: new Map(), unwatchable: new Map(), missingLeases: [], missingEvents: [], missingDetails: [] };

/** Asks one SelfSubjectAccessReview per distinct need (memoised). */
function accessReviews(client: KubeClient): (n: Need) => Promise<boolean> {
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
  // first and about the single object only when that is refused.
  return async (n: Need) => {
    if (n.name !== undefined && (await allowed({ ...n, name: undefined }))) return true;
    return allowed(n);
  };
}

/**
 * Whether the app may do what a need says: one SelfSubjectRulesReview per namespace answers every
 * need there, so start-up costs one request per namespace, not one per service. Where the review
 * is incomplete (an authorizer that cannot list its rules) or cannot be asked at all (a cluster
 * that refuses or does not serve it), each need it does not grant is asked by access review.
 */
function accessAsker(client: KubeClient): (n: Need) => Promise<boolean> {
  const reviews = new Map<string, Promise<RulesReview | undefined>>();
  const askEach = accessReviews(client);
  const review = (ns: string) => {
    let p = reviews.get(ns);
    if (!p) {
      p = reviewRules(client, ns).catch((e) => {
        if (e instanceof KubeError && [400, 403, 404].includes(e.code)) return undefined;
        throw e;
      });
      reviews.set(ns, p);
    }
    return p;
  };
  return async (n: Need) => {
    // Cluster-wide needs (namespace "*" entries): a rules review is per namespace, so ask directly.
    if (n.namespace === "") return askEach(n);
    const r = await review(n.namespace);
    if (r && granted(r, n)) return true;
    if (r && !r.incomplete) return false;
    return askEach(n);
  };
}

export async function checkAccess(client: KubeClient, services: ServiceKey[], lockNamespace: string, scopes: WatchScope[] = []): Promise<AccessReport> {
  const allowed = accessAsker(client);
  const missing = async (needs: Need[]) => {
    const ok = await Promise.all(needs.map(allowed));
    return needs.filter((_, i) => !ok[i]).map(describeNeed);
  };
  const unusable = new Map<string, string[]>();
  const namespaces = [...new Set([...services, ...scopes].map((s) => s.namespace).filter((ns) => ns !== "*"))];
  const details = allDetailNeeds([...services, ...scopes]);
  const [perScope, perService, missingLeases, eventResults, detailOk] = await Promise.all([
    Promise.all(scopes.map(async (sc) => [scopeKey(sc), await missing(scopeNeeds(sc))] as const)),
    Promise.all(services.map(async (s) => [serviceId(s), await missing(requiredNeeds(s))] as const)),
    missing(leaseNeeds(lockNamespace)),
    Promise.all(namespaces.map(async (ns) => ((await allowed(eventNeed(ns))) ? undefined : ns))),
    Promise.all(details.map(allowed)),
  ]);
  const unwatchable = new Map<string, string>();
  for (const [id, m] of perService) {
    if (!m.length) continue;
    unusable.set(id, m);
    const blind = m.filter((x) => /^(list|watch) /.test(x));
    if (blind.length) unwatchable.set(id, `the app may not watch this service: missing ${blind.join("; ")}`);
  }
  const scoped = new Map(perScope.filter(([, m]) => m.length));
  const missingDetails = details.filter((_, i) => !detailOk[i]);
  return { unusable, unwatchable, missingLeases, missingEvents: eventResults.filter((x): x is string => !!x), missingDetails, ...(scopes.length ? { scopes: scoped } : {}) };
}
