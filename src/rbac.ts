// The app's Kubernetes permissions as data: least-privilege namespaced Roles for the configured services, and the cluster-wide alternative.
//
// Why namespaced Roles are enough: every watch the app opens is per namespace (one per
// workload kind and namespace, one for pods per namespace, one for Leases in the lock
// namespace), every write names its namespace, and the self-check uses
// SelfSubjectRulesReview (and SelfSubjectAccessReview where that is incomplete), which any
// authenticated user may create. Nothing is cluster-scoped.
import { stringify } from "yaml";
import { ConfigError, parseEnv } from "./config/env.ts";
import { type ConfigFile, KINDS, type ServiceKey, loadConfigFile } from "./config/file.ts";
import { isDnsLabel } from "./config/names.ts";
import { allDetailNeeds, detailNeeds, eventNeed, leaseNeeds, namespaceNeeds, type PolicyRule, REVIEW_NEEDS, requiredNeeds, rulesFor, scopeNeeds } from "./kube/access.ts";
import { selectorScopes } from "./kube/cluster.ts";

export interface RbacTarget {
  /** Namespace of the app's ServiceAccount (the RoleBindings' subject). */
  namespace: string;
  serviceAccount: string;
  /** Namespace holding the restart-lock Leases (LOCK_NAMESPACE, else the app's own). */
  lockNamespace: string;
}

type Manifest = Record<string, unknown>;

/**
 * Restart locks: Leases in the lock namespace. `create` cannot be limited by resourceNames (the
 * name is not known to the authorizer before the object exists), nor can `list`/`watch` of the
 * collection. `get`/`update` could be, but the self-check (kube/access.ts) asks about the Lease
 * collection as a whole and would fall back to in-process locks; the namespace is the app's own.
 */
export const LEASE_RULES: PolicyRule[] = rulesFor(leaseNeeds(""));

/**
 * The cluster-wide alternative (one ClusterRole for any namespace), for deploy/ and the README:
 * every kind's needs on whole collections, the Event, and the self-check itself (default clusters
 * grant that to every authenticated user already, hardened ones may not).
 */
export const CLUSTER_ROLE_RULES: PolicyRule[] = rulesFor([
  ...KINDS.flatMap((kind) => requiredNeeds({ kind, namespace: "", name: "" })).map((n) => ({ ...n, name: undefined })),
  eventNeed(""),
  ...detailNeeds("", KINDS),
  ...REVIEW_NEEDS,
]);

/**
 * What the services of one namespace need there; `services` must all be in that namespace.
 * Workloads and pods are listed and watched as whole collections (one shared watch per kind and
 * namespace; RBAC matches resourceNames on list/watch only for single-object field selectors),
 * the PATCH is limited to exactly the configured names, Events have generated names.
 */
export function workloadRules(services: ServiceKey[]): PolicyRule[] {
  return rulesFor(namespaceNeeds(services));
}

const LABELS = { "app.kubernetes.io/name": "k8s-restart-app" };

function roleAndBinding(name: string, namespace: string, rules: PolicyRule[], t: RbacTarget): Manifest[] {
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace, labels: LABELS }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name: t.serviceAccount, namespace: t.namespace }],
    },
  ];
}

/**
 * What one namespace needs: its explicit services' rights, and for selector entries there the
 * whole collection of each kind (any workload there may come to match, so patch cannot be
 * limited by name).
 */
function namespaceRules(config: ConfigFile, ns: string): PolicyRule[] {
  const scoped = selectorScopes(config).filter((sc) => sc.namespace === ns);
  return rulesFor([...namespaceNeeds(config.services.filter((s) => s.namespace === ns)), ...scoped.flatMap(scopeNeeds), ...allDetailNeeds(scoped), eventNeed(ns)]);
}

/**
 * `namespace: "*"` selector entries watch and patch in every namespace: that takes a ClusterRole
 * (list/watch/patch of their kinds and pods, Events) — there is no namespaced way to say it.
 */
export function wideSelectorRules(config: ConfigFile): PolicyRule[] {
  const wide = selectorScopes(config).filter((sc) => sc.namespace === "*");
  return wide.length ? rulesFor([...wide.flatMap(scopeNeeds), eventNeed("")]) : [];
}

/** One Role + RoleBinding per workload namespace, the Lease Role in the lock namespace, and a ClusterRole only for `namespace: "*"` entries. */
export function namespacedManifests(config: ConfigFile, t: RbacTarget): Manifest[] {
  const namespaces = [...new Set([...config.services, ...selectorScopes(config)].map((s) => s.namespace).filter((ns) => ns !== "*"))].sort();
  const wide = wideSelectorRules(config);
  return [
    ...namespaces.flatMap((ns) => roleAndBinding(t.serviceAccount, ns, namespaceRules(config, ns), t)),
    // A distinct name: the lock namespace may also hold workloads.
    ...roleAndBinding(`${t.serviceAccount}-locks`, t.lockNamespace, LEASE_RULES, t),
    ...(wide.length ? clusterRoleAndBinding(`${t.serviceAccount}-selectors`, wide, t) : []),
  ];
}

function clusterRoleAndBinding(name: string, rules: PolicyRule[], t: RbacTarget): Manifest[] {
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name, labels: LABELS }, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name: t.serviceAccount, namespace: t.namespace }],
    },
  ];
}

/** The ClusterRole + ClusterRoleBinding alternative; Leases stay a namespaced Role. */
export function clusterManifests(t: RbacTarget): Manifest[] {
  return [...clusterRoleAndBinding(t.serviceAccount, CLUSTER_ROLE_RULES, t), ...roleAndBinding(`${t.serviceAccount}-locks`, t.lockNamespace, LEASE_RULES, t)];
}

export function toYaml(header: string, manifests: Manifest[]): string {
  return `${header}\n${manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n")}`;
}

const USAGE = "usage: k8s-restart-app rbac [--namespace <app namespace>] [--service-account <name>] [--cluster-role]";
const HELP = `${USAGE}

Prints, as YAML to pipe into kubectl apply -f -, the RBAC the app needs:
  (default)            one Role + RoleBinding per namespace of the services in CONFIG_FILE_PATH,
                       limited by resourceNames where Kubernetes allows it, plus the Lease Role
  --cluster-role       one ClusterRole + ClusterRoleBinding for any namespace (the Lease Role stays namespaced)
  --namespace          the app's namespace (its ServiceAccount's); default LOCK_NAMESPACE, else default
  --service-account    the app's ServiceAccount name; default k8s-restart-app
Reads CONFIG_FILE_PATH and LOCK_NAMESPACE from the environment.
`;

/** `rbac [--namespace ns] [--service-account name] [--cluster-role]` → YAML to apply. */
export async function rbacCommand(args: string[], src: Record<string, string | undefined>): Promise<string> {
  if (args.some((a) => a === "--help" || a === "-h")) return HELP;
  const env = parseEnv(src);
  const opts: Record<string, string> = {};
  let cluster = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--cluster-role") {
      cluster = true;
      continue;
    }
    const m = /^--(namespace|service-account)(?:=(.*))?$/.exec(a);
    if (!m) throw new ConfigError(`rbac: unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    const v = m[2] ?? args[++i];
    if (v === undefined || !isDnsLabel(v)) throw new ConfigError(`rbac: --${m[1]}: expected a Kubernetes name, got ${JSON.stringify(v ?? "")}\n${USAGE}`);
    opts[m[1]!] = v;
  }
  const namespace = opts.namespace ?? (env.lockNamespace || "default");
  const t: RbacTarget = { namespace, serviceAccount: opts["service-account"] ?? "k8s-restart-app", lockNamespace: env.lockNamespace || namespace };
  if (cluster) return toYaml("# k8s-restart-app: cluster-wide permissions (any namespace); the Lease Role stays namespaced.", clusterManifests(t));
  const config = await loadConfigFile(env.configFilePath);
  const wide = wideSelectorRules(config).length ? '\n# namespace: "*" selector entries watch and patch in every namespace: that needs the ClusterRole at the end.' : "";
  return toYaml(
    `# k8s-restart-app: least-privilege Roles for the ${config.services.length} services and ${config.selectors?.length ?? 0} selector entries in ${env.configFilePath}; regenerate when the list changes.${wide}`,
    namespacedManifests(config, t),
  );
}
export type { PolicyRule } from "./kube/access.ts";
