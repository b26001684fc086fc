// A service's details rendered two ways side by side: JSON (the snapshot's pods/events/history) and the HTML panel (templates/).
import detailsRaw from "../../templates/details.html" with { type: "text" };
import detailsBodyRaw from "../../templates/details-body.html" with { type: "text" };
import detailsEmptyRaw from "../../templates/details-empty.html" with { type: "text" };
import detailsGapsRaw from "../../templates/details-gaps.html" with { type: "text" };
import eventRowRaw from "../../templates/event-row.html" with { type: "text" };
import eventsListRaw from "../../templates/events-list.html" with { type: "text" };
import historyRowRaw from "../../templates/history-row.html" with { type: "text" };
import historyTableRaw from "../../templates/history-table.html" with { type: "text" };
import podRowRaw from "../../templates/pod-row.html" with { type: "text" };
import podsTableRaw from "../../templates/pods-table.html" with { type: "text" };
import type { ServiceKey } from "../config/file.ts";
import type { HistoryEntry, ServiceDetails } from "../status/details.ts";
import type { EventInfo } from "../status/events.ts";
import type { PodInfo } from "../status/pods.ts";
import { domId, tpl } from "./render.ts";
import type { DetailsBody } from "./schemas.ts";
import { fill } from "./template.ts";
import { ago, duration, exactUtc } from "./times.ts";

const T = {
  details: tpl(detailsRaw),
  body: tpl(detailsBodyRaw),
  empty: tpl(detailsEmptyRaw),
  gaps: tpl(detailsGapsRaw),
  eventRow: tpl(eventRowRaw),
  eventsList: tpl(eventsListRaw),
  historyRow: tpl(historyRowRaw),
  historyTable: tpl(historyTableRaw),
  podRow: tpl(podRowRaw),
  podsTable: tpl(podsTableRaw),
};

/** The snapshot's `pods`, `events` and `history` arrays (snake_case like the rest of the wire format). */
export function wireDetails(d: ServiceDetails): DetailsBody {
  return {
    pods: d.pods.map((p) => ({
      name: p.name,
      phase: p.phase,
      ready: p.ready,
      restarts: p.restarts,
      age_sec: p.ageSec,
      node: p.node,
      current: p.current ?? null,
      reason: p.reason,
      detail: p.detail,
      created: p.created,
    })),
    events: d.events.map((e) => ({
      type: e.type,
      reason: e.reason,
      message: e.message,
      object: e.object,
      count: e.count,
      first_seen: e.firstSeen,
      last_seen: e.lastSeen,
    })),
    history: d.history.map((h) => ({
      restarted_at: h.restartedAt,
      restarted_by: h.restartedBy,
      revision: h.revision,
      outcome: h.outcome,
      duration_sec: h.durationSec,
      why: h.why,
    })),
    missing_permissions: d.gaps,
  };
}

const REVISION_TEXT = { true: "current", false: "old", undefined: "?" } as const;

function podRow(p: PodInfo, nowMs: number): string {
  return fill(T.podRow, {
    problemClass: p.reason ? " pod-problem" : "",
    name: p.name,
    phase: p.phase,
    ready: p.ready ? "yes" : "no",
    restarts: p.restarts,
    created: p.created,
    createdExact: exactUtc(p.created),
    age: p.created ? duration(p.ageSec) : "",
    node: p.node || "—",
    revision: REVISION_TEXT[String(p.current) as keyof typeof REVISION_TEXT],
    reason: p.reason || "—",
    detail: p.detail ? ` ${p.detail}` : "",
  });
}

function eventRow(e: EventInfo, nowMs: number): string {
  return fill(T.eventRow, {
    type: e.type,
    typeLower: e.type.toLowerCase(),
    reason: e.reason,
    count: e.count > 1 ? ` (${e.count}×)` : "",
    object: e.object,
    message: e.message,
    lastSeen: e.lastSeen,
    lastSeenExact: exactUtc(e.lastSeen),
    lastSeenText: ago(e.lastSeen, nowMs),
  });
}

const OUTCOME_TEXT: Record<HistoryEntry["outcome"], string> = {
  complete: "completed",
  failed: "failed",
  "timed-out": "timed out",
  "in-progress": "in progress",
  unknown: "not seen by this app",
};

function historyRow(h: HistoryEntry, nowMs: number): string {
  return fill(T.historyRow, {
    outcome: h.outcome,
    restartedAt: h.restartedAt,
    restartedAtExact: exactUtc(h.restartedAt),
    restartedAtText: ago(h.restartedAt, nowMs),
    by: h.restartedBy || "—",
    outcomeText: `${OUTCOME_TEXT[h.outcome]}${h.why ? `: ${h.why}` : ""}`,
    took: h.durationSec === null ? "—" : duration(h.durationSec),
    revision: h.revision || "—",
  });
}

const listOr = (rows: string[], wrap: string, none: string) => (rows.length ? fill(wrap, { rows: rows.join("") }) : fill(T.empty, { text: none }));

/** The panel's live part: pods, Events, history (what the details websocket re-sends on change). */
export function renderDetailsBody(d: ServiceDetails, nowMs: number): string {
  return fill(T.body, {
    pods: listOr(d.pods.map((p) => podRow(p, nowMs)), T.podsTable, "No pods."),
    events: listOr(d.events.map((e) => eventRow(e, nowMs)), T.eventsList, "No recent Warning or rollout Events."),
    history: listOr(d.history.map((h) => historyRow(h, nowMs)), T.historyTable, "No restarts recorded in the revisions the cluster keeps."),
    gaps: d.gaps.length ? fill(T.gaps, { gaps: d.gaps.join(", ") }) : "",
  });
}

/** The whole panel, opened in place under a card (and on the permalink page). */
export function renderDetails(key: ServiceKey, d: ServiceDetails, nowMs: number): string {
  return fill(T.details, { id: domId(key), kind: key.kind, namespace: key.namespace, name: key.name, body: renderDetailsBody(d, nowMs) });
}
