// The app's Kubernetes permissions as data: least-privilege namespaced Roles for the configured services, and the cluster-wide alternative.
//
// Why namespaced Roles are enough: every watch the app opens is per namespace (one per
// workload kind and namespace, one for pods per namespace, one for Leases in the lock
// namespace), every write names its namespace, and the self-check uses
// SelfSubjectAccessReview, which any authenticated user may create. Nothing is cluster-scoped.
import { stringify } from "yaml";
import { ConfigError, parseEnv } from "./config/env.ts";
import { type ConfigFile, KINDS, type ServiceKey, loadConfigFile } from "./config/file.ts";
import { plural } from "./kube/paths.ts";

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

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
export const LEASE_RULES: PolicyRule[] = [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch", "create", "update"] }];

/** The cluster-wide alternative (one ClusterRole for any namespace), for deploy/ and the README. */
export const CLUSTER_ROLE_RULES: PolicyRule[] = [
  { apiGroups: ["apps"], resources: KINDS.map(plural), verbs: ["get", "list", "watch", "patch"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  // The start-up self-check; default clusters grant it to every authenticated user already
  // (system:basic-user), hardened ones may not.
  { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews"], verbs: ["create"] },
];

/** What the services of one namespace need there; `services` must all be in that namespace. */
export function workloadRules(services: ServiceKey[]): PolicyRule[] {
  const kinds = KINDS.filter((k) => services.some((s) => s.kind === k));
  return [
    // The app lists and watches the whole collection (one shared watch per kind and namespace):
    // RBAC matches resourceNames on list/watch only for requests that select a single object by
    // fieldSelector=metadata.name, so a rule with resourceNames would never match these.
    { apiGroups: ["apps"], resources: kinds.map(plural), verbs: ["list", "watch"] },
    // patch (the restart) and get are limited to exactly the configured objects.
    ...kinds.map((k) => ({
      apiGroups: ["apps"],
      resources: [plural(k)],
      verbs: ["get", "patch"],
      resourceNames: [...new Set(services.filter((s) => s.kind === k).map((s) => s.name))].sort(),
    })),
    // Pods are attributed to workloads by label selector, so names are unknown in advance.
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    // The "Restarted" Event: generated names, so create cannot be limited either.
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  ];
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

/** One Role + RoleBinding per workload namespace, plus the Lease Role in the lock namespace. */
export function namespacedManifests(config: ConfigFile, t: RbacTarget): Manifest[] {
  const namespaces = [...new Set(config.services.map((s) => s.namespace))].sort();
  return [
    ...namespaces.flatMap((ns) => roleAndBinding(t.serviceAccount, ns, workloadRules(config.services.filter((s) => s.namespace === ns)), t)),
    // A distinct name: the lock namespace may also hold workloads.
    ...roleAndBinding(`${t.serviceAccount}-locks`, t.lockNamespace, LEASE_RULES, t),
  ];
}

/** The ClusterRole + ClusterRoleBinding alternative; Leases stay a namespaced Role. */
export function clusterManifests(t: RbacTarget): Manifest[] {
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: t.serviceAccount, labels: LABELS }, rules: CLUSTER_ROLE_RULES },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: t.serviceAccount, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: t.serviceAccount },
      subjects: [{ kind: "ServiceAccount", name: t.serviceAccount, namespace: t.namespace }],
    },
    ...roleAndBinding(`${t.serviceAccount}-locks`, t.lockNamespace, LEASE_RULES, t),
  ];
}

export function toYaml(header: string, manifests: Manifest[]): string {
  return `${header}\n${manifests.map((m) => stringify(m, { lineWidth: 0 })).join("---\n")}`;
}

const USAGE = "usage: k8s-restart-app rbac [--namespace <app namespace>] [--service-account <name>] [--cluster-role]";
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `rbac [--namespace ns] [--service-account name] [--cluster-role]` → YAML to apply. */
export async function rbacCommand(args: string[], src: Record<string, string | undefined>): Promise<string> {
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
    if (v === undefined || !NAME.test(v)) throw new ConfigError(`rbac: --${m[1]}: expected a Kubernetes name, got ${JSON.stringify(v ?? "")}\n${USAGE}`);
    opts[m[1]!] = v;
  }
  const namespace = opts.namespace ?? (env.lockNamespace || "default");
  const t: RbacTarget = { namespace, serviceAccount: opts["service-account"] ?? "k8s-restart-app", lockNamespace: env.lockNamespace || namespace };
  if (cluster) return toYaml("# k8s-restart-app: cluster-wide permissions (any namespace); the Lease Role stays namespaced.", clusterManifests(t));
  const config = await loadConfigFile(env.configFilePath);
  return toYaml(
    `# k8s-restart-app: least-privilege Roles for the ${config.services.length} services in ${env.configFilePath}; regenerate when the list changes.`,
    namespacedManifests(config, t),
  );
}
