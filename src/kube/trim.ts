// What the watch caches keep of each object. Every object loses metadata.managedFields (server-side
// apply's bookkeeping, often half an object, read by nothing here); the detail objects behind the
// details panel (Events, ReplicaSets, ControllerRevisions), which outnumber the workloads several
// times, keep only the fields the app reads: src/status/events.ts, revisions.ts, details.ts, why.ts.
import type { ControllerRevision, KubeEvent, KubeObject, ReplicaSet } from "./types.ts";

type Meta = NonNullable<KubeObject["metadata"]> & { managedFields?: unknown; uid?: string; creationTimestamp?: unknown; labels?: unknown; annotations?: unknown; ownerReferences?: unknown };

/** Drops managedFields in place; the object is otherwise kept whole (workloads, pods, Leases). */
export function withoutManagedFields<T extends KubeObject>(o: T): T {
  const m = o.metadata as Meta | undefined;
  if (m?.managedFields) delete m.managedFields;
  return o;
}

function meta(o: KubeObject): KubeObject["metadata"] {
  const m = (o.metadata ?? {}) as Meta;
  const { name, namespace, uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences } = m;
  return { name, namespace, uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences } as KubeObject["metadata"];
}

export function trimEvent(e: KubeEvent): KubeEvent {
  const { kind, name, namespace, uid } = e.involvedObject ?? {};
  return {
    metadata: meta(e),
    involvedObject: { kind, name, namespace, uid },
    type: e.type,
    reason: e.reason,
    message: e.message,
    count: e.count,
    series: e.series,
    firstTimestamp: e.firstTimestamp,
    lastTimestamp: e.lastTimestamp,
    eventTime: e.eventTime,
  } as KubeEvent;
}

const templateAnnotations = (t: { metadata?: { annotations?: Record<string, string> } } | undefined) => ({ metadata: { annotations: t?.metadata?.annotations } });

export function trimReplicaSet(rs: ReplicaSet): ReplicaSet {
  return { metadata: meta(rs), spec: { selector: rs.spec?.selector, template: templateAnnotations(rs.spec?.template) } } as ReplicaSet;
}

export function trimRevision(cr: ControllerRevision): ControllerRevision {
  const data = cr.data as { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } } | undefined;
  return { metadata: meta(cr), revision: cr.revision, data: { spec: { template: templateAnnotations(data?.spec?.template) } } } as ControllerRevision;
}

/** The keeper for a detail resource ("events", "replicasets", "controllerrevisions"). */
export function detailTrim(resource: string): (o: KubeObject) => KubeObject {
  const keep = resource === "events" ? trimEvent : resource === "replicasets" ? trimReplicaSet : trimRevision;
  return keep as unknown as (o: KubeObject) => KubeObject;
}
