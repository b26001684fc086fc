// Domain values → HTML fragments, one template file per fragment, shared by the page, the POST and the push.
import bannerRaw from "../../templates/banner.html" with { type: "text" };
import flashRaw from "../../templates/flash.html" with { type: "text" };
import groupRaw from "../../templates/group.html" with { type: "text" };
import loginRaw from "../../templates/login.html" with { type: "text" };
import pageRaw from "../../templates/page.html" with { type: "text" };
import serviceRaw from "../../templates/service.html" with { type: "text" };
import stateRaw from "../../templates/state.html" with { type: "text" };
import { type ServiceKey, serviceId } from "../config/file.ts";
import type { RestartResult } from "../restart/restart.ts";
import type { ServiceStatus } from "../status/model.ts";
import { escapeHtml, fill } from "./template.ts";

// bun-types declares *.html imports as HTML bundles; with { type: "text" } they are strings.
const [bannerTpl, flashTpl, groupTpl, loginTpl, pageTpl, serviceTpl, stateTpl] = [bannerRaw, flashRaw, groupRaw, loginRaw, pageRaw, serviceRaw, stateRaw].map(
  (t) => t as unknown as string,
) as [string, string, string, string, string, string, string];

/** DOM id for a service: stable, and safe in CSS selectors (names may contain dots). */
export function domId(s: ServiceKey): string {
  return serviceId(s).toLowerCase().replace(/[^a-z0-9-]/g, "_");
}

const LABEL: Record<string, string> = {
  complete: "Ready",
  progressing: "Rolling out",
  failed: "Failed",
  paused: "Paused",
  missing: "Not found",
  unknown: "Unknown",
  loading: "Loading…",
};

/** "2026-11-26T05:29:08Z" → "2026-11-26 05:29:08 UTC"; "" → "never". */
function readableTime(iso: string): string {
  if (!iso) return "never";
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

export interface Viewer {
  /** Why the viewer may not restart this service, or undefined when allowed. */
  denied?: string;
}

export function renderState(s: ServiceStatus | undefined, key: ServiceKey, viewer: Viewer, oob: boolean): string {
  const locked = s?.lock != null;
  const rollout = s?.rollout ?? "loading";
  const phases = Object.entries(s?.podStatus ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([phase, n]) => `<li class="ph-${escapeHtml(phase)}">${escapeHtml(phase)} ${n}</li>`)
    .join("");
  const disabled = !s || locked || viewer.denied !== undefined || rollout === "missing" || rollout === "paused";
  let why = "";
  if (viewer.denied) why = viewer.denied;
  else if (locked) why = `Restart in progress${s?.lock?.user ? ` (by ${s.lock.user})` : ""}; unlocks when the rollout finishes.`;
  else if (rollout === "paused") why = "Paused deployments cannot be restarted.";
  else if (rollout === "missing") why = "Not found in the cluster.";
  return fill(stateTpl, {
    id: domId(key),
    kind: key.kind,
    namespace: key.namespace,
    name: key.name,
    rollout,
    rolloutLabel: LABEL[rollout] ?? rollout,
    locked: String(locked),
    ready: s?.ready ?? 0,
    desired: s?.desired ?? 0,
    updated: Math.min(s?.updated ?? 0, s?.desired ?? 0),
    progressMax: Math.max(1, s?.desired ?? 0),
    message: s?.message ?? "Waiting for cluster data…",
    phases,
    lastRestart: s?.lastRestart ?? "",
    lastRestartText: readableTime(s?.lastRestart ?? ""),
    restartedBy: s?.restartedBy ? ` by <span class="by">${escapeHtml(s.restartedBy)}</span>` : "",
    disabled: disabled ? "disabled" : "",
    buttonLabel: locked ? "Restarting…" : "Restart",
    why,
    oob: oob ? ' hx-swap-oob="true"' : "",
  });
}

export function renderService(s: ServiceStatus | undefined, key: ServiceKey, viewer: Viewer): string {
  return fill(serviceTpl, {
    id: domId(key),
    search: `${key.kind} ${key.namespace} ${key.name} ${key.namespace}/${key.name}`.toLowerCase(),
    kind: key.kind,
    kindLower: key.kind.toLowerCase(),
    name: key.name,
    state: renderState(s, key, viewer, false),
  });
}

export function renderGroups(items: { key: ServiceKey; status: ServiceStatus | undefined; viewer: Viewer }[]): string {
  if (items.length === 0) return '<p class="empty">No services are configured for you to see.</p>';
  const byNs = new Map<string, string[]>();
  for (const it of items) byNs.set(it.key.namespace, [...(byNs.get(it.key.namespace) ?? []), renderService(it.status, it.key, it.viewer)]);
  return [...byNs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, services]) => fill(groupTpl, { namespace, services: services.join("\n") }))
    .join("\n");
}

export function renderBanner(key: string, tone: "stale" | "warn" | "bad", contentHtml: string, oob: boolean): string {
  return fill(bannerTpl, { key, tone: contentHtml ? tone : "none", content: contentHtml, oob: oob ? ' hx-swap-oob="true"' : "" });
}

export function staleBanner(stale: string[], oob: boolean): string {
  const content = stale.length
    ? `Cluster watch interrupted; the status shown may be out of date. Reconnecting to: <ul>${stale
        .map((s) => `<li>${escapeHtml(s)}</li>`)
        .join("")}</ul>`
    : "";
  return renderBanner("stale", "stale", content, oob);
}

export function renderPage(v: { groups: string; banners: string; who: string; version: string }): string {
  return fill(pageTpl, v);
}

export function renderLogin(message: string): string {
  return fill(loginTpl, { message });
}

const OK_TEXT = (r: Extract<RestartResult, { ok: true }>) =>
  `Restart of ${r.service.kind} ${r.service.namespace}/${r.service.name} started; the status above follows the rollout.`;

export function renderFlash(r: RestartResult, now: Date): string {
  const time = now.toISOString().slice(11, 19) + " UTC";
  if (r.ok) return fill(flashTpl, { tone: "ok", role: "status", text: OK_TEXT(r), time });
  const tone = r.reason === "locked" || r.reason === "rate-limited" || r.reason === "paused" || r.reason === "unavailable" ? "warn" : "bad";
  return fill(flashTpl, { tone, role: "alert", text: r.detail, time });
}
