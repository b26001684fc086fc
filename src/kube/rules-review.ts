// What the app may do in one namespace, in one request: SelfSubjectRulesReview, and RBAC's own matching of a need against the rules it returns.
//
// A rules review lists every resource rule that applies to the caller in a namespace (cluster-wide
// grants included). It is a lower bound: `incomplete` says an authorizer (a webhook, say) could not
// enumerate its rules, so a need no listed rule grants may still be allowed — only then is a
// SelfSubjectAccessReview asked (kube/access.ts).
import type { KubeClient } from "./api.ts";

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface RulesReview {
  rules: ResourceRule[];
  /** True when some authorizer could not list its rules: a need not granted here must be asked about. */
  incomplete: boolean;
}

/** The fields of a need that a rule is matched against. */
export interface Wanted {
  verb: string;
  group: string;
  resource: string;
  name?: string;
}

const has = (list: string[] | undefined, v: string) => !!list && (list.includes("*") || list.includes(v));

/**
 * RBAC's matching: verb, API group and resource each listed or "*"; a rule with resourceNames
 * grants only those names (never the whole collection, never a create).
 */
export function ruleGrants(r: ResourceRule, n: Wanted): boolean {
  if (!has(r.verbs, n.verb) || !has(r.apiGroups, n.group) || !has(r.resources, n.resource)) return false;
  if (!r.resourceNames?.length) return true;
  return n.name !== undefined && r.resourceNames.includes(n.name);
}

export const granted = (review: RulesReview, n: Wanted) => review.rules.some((r) => ruleGrants(r, n));

/** One SelfSubjectRulesReview for `namespace`. */
export async function reviewRules(client: KubeClient, namespace: string): Promise<RulesReview> {
  const r = await client.request<{ status?: { resourceRules?: ResourceRule[]; incomplete?: boolean } }>(
    {
      method: "POST",
      path: "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
      // Start-up waits for this check; an unreachable API server must not hang it.
      signal: AbortSignal.timeout(10_000),
      body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace } },
    },
    `rules review in namespace ${namespace}`,
  );
  return { rules: r.status?.resourceRules ?? [], incomplete: r.status?.incomplete === true };
}
