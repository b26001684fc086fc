// The audit line of a restart attempt: who, from where, which service, what came of it — one per request, whatever the outcome.
import type { RestartRequest, RestartResult } from "./outcome.ts";

export interface AuditRecord {
  audit: true;
  user: string;
  groups: string[];
  source: string;
  service: { kind: string; namespace: string; name: string };
  outcome: string;
  detail: string;
  request_id: string;
}

export function auditRecord(req: RestartRequest, r: RestartResult): AuditRecord {
  return {
    audit: true,
    user: req.identity.user,
    groups: req.identity.groups,
    source: req.source,
    service: { kind: req.kind, namespace: req.namespace, name: req.name },
    outcome: r.ok ? "restarted" : r.reason,
    detail: r.ok ? `generation ${r.generation}` : r.detail,
    request_id: req.requestId,
  };
}
