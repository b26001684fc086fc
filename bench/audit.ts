// The API server's audit log (what the app asked for, by verb) and its request counters (what the audit policy hides).
import { readdirSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AuditEvent } from "../tests/support/audit.ts";
import { parseMetrics } from "../tests/support/metrics.ts";
import { cluster, kubectl, log } from "./lib.ts";

export type { AuditEvent };

export interface AuditMark {
  offset: number;
  ino: number;
}

/** Where the audit log ends now: events written later are read by auditSince(). */
export function auditMark(): AuditMark {
  const st = statSync(cluster.AUDIT_LOG!);
  return { offset: st.size, ino: st.ino };
}

/**
 * Audit events written since `mark`. The API server rotates its log (--audit-log-maxsize): when the
 * file was replaced meanwhile, the rest of the old one (found by inode among the rotated files
 * beside it) is read too.
 */
export async function auditSince(mark: AuditMark, filter: (e: AuditEvent) => boolean): Promise<AuditEvent[]> {
  const path = realpathSync(cluster.AUDIT_LOG!);
  const parts: string[] = [];
  if (statSync(path).ino === mark.ino) parts.push(await Bun.file(path).slice(mark.offset).text());
  else {
    const dir = dirname(path);
    const old = readdirSync(dir).map((f) => join(dir, f)).find((f) => statSync(f).ino === mark.ino);
    if (old) parts.push(await Bun.file(old).slice(mark.offset).text());
    else log(`audit log rotated and the old file is gone: events before the rotation are missing`);
    parts.push(await Bun.file(path).text());
  }
  const out: AuditEvent[] = [];
  for (const line of parts.join("\n").split("\n")) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as AuditEvent;
      if (filter(e)) out.push(e);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/**
 * Lease writes served by the API server so far, cluster-wide, from its own /metrics
 * (apiserver_request_total), as "POST 409" → count. The audit policy hides Leases; this does not.
 */
export async function leaseWrites(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of parseMetrics(await kubectl(["get", "--raw", "/metrics"])).samples) {
    if (s.name !== "apiserver_request_total" || s.labels.resource !== "leases") continue;
    const verb = s.labels.verb;
    if (verb !== "POST" && verb !== "PUT") continue;
    const k = `${verb} ${s.labels.code}`;
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

export const diffCounts = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)] as const).filter(([, v]) => v > 0).sort());

/**
 * A request made by the app process `pid`. Its User-Agent is "k8s-restart-app/<version>
 * (<host>-<pid>)"; builds before that sent plain "k8s-restart-app", which cannot name the
 * instance — the scenarios' other filters (namespace, ServiceAccount) still single it out.
 */
export const isApp = (pid: number) => (e: AuditEvent) =>
  e.userAgent === "k8s-restart-app" || (!!e.userAgent?.startsWith("k8s-restart-app/") && e.userAgent.endsWith(`-${pid})`));
export const received = (e: AuditEvent) => Date.parse(e.requestReceivedTimestamp);

/** "verb resource" → count, e.g. { "list deployments": 1, "create selfsubjectaccessreviews": 210 }. */
export function countBy(events: AuditEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const k = `${e.verb} ${e.objectRef?.resource ?? e.requestURI}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort());
}
