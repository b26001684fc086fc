// Helpers for the scale suites (start-up cost, selectors, reload, replicas): kwok-pinned Deployments, the audit log read by request, a flushed-audit marker.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { cluster, kubectl, waitFor } from "../support/harness.ts";
import { kwokDeployment } from "../support/workloads.ts";

/** A Deployment whose pods land on kwok nodes only (nothing really runs): tests/support's kwokDeployment, with extra labels and replicas. */
export function deploymentDoc(namespace: string, name: string, labels: Record<string, string> = {}, replicas = 1) {
  const d = kwokDeployment(namespace, name, { spec: { replicas } });
  return { ...d, metadata: { ...d.metadata, labels: { ...d.metadata.labels, ...labels } } };
}

export async function freshNamespace(ns: string): Promise<void> {
  await kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=true"]);
  await kubectl(["create", "namespace", ns]);
}

export interface RawAuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  requestReceivedTimestamp: string;
}

/**
 * Every request an app process made since `sinceIso`, one entry per request: a watch is counted
 * when it opens (ResponseStarted), anything else when it completes.
 */
export function appRequests(pid: number, sinceIso: string): RawAuditEvent[] {
  const since = Date.parse(sinceIso);
  const seen = new Map<string, RawAuditEvent>();
  for (const line of readFileSync(cluster.AUDIT_LOG, "utf8").split("\n")) {
    if (!line) continue;
    let e: RawAuditEvent;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (!e.userAgent?.startsWith("k8s-restart-app/") || !e.userAgent.endsWith(`-${pid})`)) continue;
    if (Date.parse(e.requestReceivedTimestamp) < since) continue;
    if (e.stage === "ResponseStarted" || e.stage === "ResponseComplete") seen.set(e.auditID, e);
  }
  return [...seen.values()];
}

/** Waits until the API server has written everything up to now into its audit log. */
export async function auditFlushed(namespace: string): Promise<void> {
  const marker = `audit-marker-${randomBytes(6).toString("hex")}`;
  await kubectl(["-n", namespace, "get", "configmap", marker, "--ignore-not-found"]);
  await waitFor(() => readFileSync(cluster.AUDIT_LOG, "utf8").includes(marker), 10_000, "the audit log to catch up");
}
