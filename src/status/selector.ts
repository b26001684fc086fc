// Pure label-selector matching (matchLabels + matchExpressions), to attribute pods to their workload.
import type { V1LabelSelector } from "@kubernetes/client-node";

export function matchesSelector(sel: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  // An absent or empty selector selects nothing here: a workload always has one, and we never
  // want a malformed object to claim every pod of its namespace.
  if (!sel || (!sel.matchLabels && !sel.matchExpressions?.length)) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const val = l[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(val!)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(val!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
