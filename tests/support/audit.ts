// The API server's audit log as the e2e suites read it: the event type, the events since a moment, and a marker proving the log has caught up.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { clusterEnv, runKubectl } from "./process.ts";
import { waitFor } from "./wait.ts";

/** One line of the audit log (level Metadata: tests/cluster/audit-policy.yaml), the fields the suites and benchmarks read. */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const cluster = clusterEnv();

/** Audit events (ResponseComplete stage) of requests received since `sinceIso`, filtered. */
/**
 * Completed requests since a time. A watch completes only when it ends (40–50 s later); pass
 * `opened: true` to have open watches too, by their ResponseStarted event (each request once).
 */
export function auditEvents(sinceIso: string, filter: (e: AuditEvent) => boolean = () => true, opts: { opened?: boolean } = {}): AuditEvent[] {
  const text = readFileSync(cluster.AUDIT_LOG, "utf8");
  const since = Date.parse(sinceIso);
  const out: AuditEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    const opened = opts.opened && e.stage === "ResponseStarted" && e.verb === "watch";
    if (e.stage !== "ResponseComplete" && !opened) continue;
    if (opts.opened && e.stage === "ResponseComplete" && e.verb === "watch") continue; // counted when it opened
    if (Date.parse(e.requestReceivedTimestamp) < since) continue;
    if (filter(e)) out.push(e);
  }
  return out;
}

/**
 * Resolves once the audit log holds every request the API server completed before this call. The
 * API server writes the log after answering, so a request the test caused may not be in it yet:
 * this makes one more request of its own (a GET of a ConfigMap with a unique name, which does not
 * exist) and waits until that one is written. Call it before asserting on the audit log, never a sleep.
 */
export async function auditFlushed(timeoutMs = 10_000): Promise<void> {
  const marker = `audit-marker-${randomBytes(6).toString("hex")}`;
  const sent = new Date(Date.now() - 1000).toISOString();
  await runKubectl(cluster, ["-n", "default", "get", "configmap", marker, "--ignore-not-found"]);
  await waitFor(() => auditEvents(sent, (e) => e.objectRef?.name === marker).length > 0, timeoutMs, `the audit log to record the marker request ${marker}`);
}
