// A workload's revisions as the cluster keeps them (ReplicaSets, ControllerRevisions): the current one, and past restarts read from their pod templates (pure).
import type { Kind } from "../config/file.ts";
import type { ControllerRevision, ReplicaSet, StatefulSet, Workload } from "../kube/types.ts";
import { RESTARTED_AT, RESTARTED_BY } from "../kube/types.ts";

/** One revision of a workload, reduced to what the history needs. */
export interface Revision {
  revision: number;
  /** The value pods of this revision carry in pod-template-hash / controller-revision-hash. */
  hash: string;
  restartedAt: string;
  restartedBy: string;
  created: string;
}

type Annotations = Record<string, string> | undefined;

const iso = (t: unknown) => (t ? new Date(t as string).toISOString() : "");

function fromTemplate(revision: number, hash: string, created: unknown, ann: Annotations): Revision {
  return { revision, hash, restartedAt: ann?.[RESTARTED_AT] ?? "", restartedBy: ann?.[RESTARTED_BY] ?? "", created: iso(created) };
}

/** A Deployment's ReplicaSet: revision from deployment.kubernetes.io/revision, hash from pod-template-hash. */
export function replicaSetRevision(rs: ReplicaSet): Revision {
  const rev = Number(rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0) || 0;
  return fromTemplate(rev, rs.metadata?.labels?.["pod-template-hash"] ?? "", rs.metadata?.creationTimestamp, rs.spec?.template?.metadata?.annotations);
}

/**
 * A StatefulSet's or DaemonSet's ControllerRevision: its data holds the pod template. StatefulSet
 * pods carry the revision's full name in controller-revision-hash, DaemonSet pods only the hash.
 */
export function controllerRevision(kind: Kind, cr: ControllerRevision): Revision {
  const data = cr.data as { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } } | undefined;
  const hash = kind === "StatefulSet" ? (cr.metadata?.name ?? "") : (cr.metadata?.labels?.["controller-revision-hash"] ?? "");
  return fromTemplate(cr.revision ?? 0, hash, cr.metadata?.creationTimestamp, data?.spec?.template?.metadata?.annotations);
}

export function revisionsOf(kind: Kind, replicaSets: ReplicaSet[], crs: ControllerRevision[]): Revision[] {
  const list = kind === "Deployment" ? replicaSets.map(replicaSetRevision) : crs.map((c) => controllerRevision(kind, c));
  return list.sort((a, b) => b.revision - a.revision);
}

/**
 * The hash of the revision the workload is rolling to (its pods are "current"): a StatefulSet
 * names it in status.updateRevision; for the others it is the newest revision.
 */
export function currentHash(kind: Kind, w: Workload | undefined, revisions: Revision[]): string | undefined {
  if (!w) return undefined;
  if (kind === "StatefulSet") return (w as StatefulSet).status?.updateRevision || revisions[0]?.hash;
  return revisions[0]?.hash;
}
