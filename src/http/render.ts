// A status rendered two ways side by side — JSON for the API and websocket clients, HTML fragments (one template each) for the page.
import accessBannerRaw from "../../templates/access-banner.html" with { type: "text" };
import accessItemRaw from "../../templates/access-item.html" with { type: "text" };
import bannerRaw from "../../templates/banner.html" with { type: "text" };
import configBannerRaw from "../../templates/config-banner.html" with { type: "text" };
import emptyRaw from "../../templates/empty.html" with { type: "text" };
import flashRaw from "../../templates/flash.html" with { type: "text" };
import groupRaw from "../../templates/group.html" with { type: "text" };
import itemRaw from "../../templates/item.html" with { type: "text" };
import loginRaw from "../../templates/login.html" with { type: "text" };
import pageRaw from "../../templates/page.html" with { type: "text" };
import phaseRaw from "../../templates/phase.html" with { type: "text" };
import restartedByRaw from "../../templates/restarted-by.html" with { type: "text" };
import serviceRaw from "../../templates/service.html" with { type: "text" };
import staleBannerRaw from "../../templates/stale-banner.html" with { type: "text" };
import stateRaw from "../../templates/state.html" with { type: "text" };
import { type ServiceKey, serviceId } from "../config/file.ts";
import type { Refusal } from "../restart/identity.ts";
import type { RestartResult } from "../restart/outcome.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { RemovalMessageBody, StatusMessageBody } from "./schemas.ts";
import { fill } from "./template.ts";

// bun-types declares *.html imports as HTML bundles; with { type: "text" } they are strings.
const tpl = (t: unknown) => t as string;
const T = {
  accessBanner: tpl(accessBannerRaw),
  accessItem: tpl(accessItemRaw),
  banner: tpl(bannerRaw),
  configBanner: tpl(configBannerRaw),
  empty: tpl(emptyRaw),
  flash: tpl(flashRaw),
  group: tpl(groupRaw),
  item: tpl(itemRaw),
  login: tpl(loginRaw),
  page: tpl(pageRaw),
  phase: tpl(phaseRaw),
  restartedBy: tpl(restartedByRaw),
  service: tpl(serviceRaw),
  staleBanner: tpl(staleBannerRaw),
  state: tpl(stateRaw),
};

/** States whose message reports a problem; in the others all is well and the original's `message` is empty. */
const PROBLEM = new Set(["failed", "missing", "unknown"]);

/** The original tool's websocket/JSON shape; new fields are added, none renamed or removed. */
export function wireStatus(s: ServiceStatus): StatusMessageBody {
  return {
    kind_namespace_name: { kind: s.service.kind, namespace: s.service.namespace, name: s.service.name },
    status: {
      // The original's meaning: empty when all is well, the error otherwise; the kubectl-style text has its own field.
      message: PROBLEM.has(s.rollout) ? s.message : "",
      rollout_message: s.message,
      pod_status: s.podStatus,
      last_restart: s.lastRestart,
      pods_ready: s.podsReady,
      rollout: s.rollout,
      desired: s.desired,
      ready: s.ready,
      updated: s.updated,
      restarted_by: s.restartedBy,
    },
    is_locked: s.lock !== null,
    lock: s.lock ? { since: s.lock.since, expires_at: s.lock.expiresAt, user: s.lock.user ?? "" } : null,
  };
}

/**
 * A service that left the list (config reload, or a workload that no longer matches a selector
 * entry), on the JSON streams: the original's status message with rollout "removed" — clients that
 * only know status messages show it as an unknown state — plus `removed: true` for those that know.
 */
export function wireRemoval(s: ServiceKey): RemovalMessageBody {
  const message = "no longer in the list of restartable services";
  return {
    kind_namespace_name: { kind: s.kind, namespace: s.namespace, name: s.name },
    status: { message, rollout_message: message, pod_status: {}, last_restart: "", pods_ready: 0, rollout: "removed", desired: 0, ready: 0, updated: 0, restarted_by: "" },
    is_locked: false,
    lock: null,
    removed: true,
  };
}

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

/** What the card says when a restart is refused before it is tried. */
const REFUSAL_TEXT: Record<Refusal["why"], string> = {
  "not-allowed": "You are not allowed to restart this service.",
  "app-lacks-rights": "Unavailable: the app lacks permissions for this service (see the banner).",
};

/** "2026-11-26T05:29:08Z" → "2026-11-26 05:29:08 UTC"; "" → "never". */
function readableTime(iso: string): string {
  if (!iso) return "never";
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

/** Why the button is disabled, in words, or "" when it is enabled. */
function whyDisabled(s: ServiceStatus | undefined, refusal: Refusal | undefined): string {
  if (refusal) return REFUSAL_TEXT[refusal.why];
  if (s?.lock) return `Restart in progress${s.lock.user ? ` (by ${s.lock.user})` : ""}; unlocks when the rollout finishes.`;
  if (s?.rollout === "paused") return "Paused deployments cannot be restarted.";
  if (s?.rollout === "missing") return "Not found in the cluster.";
  return "";
}

export function renderState(s: ServiceStatus | undefined, key: ServiceKey, refusal: Refusal | undefined, oob: boolean): string {
  const locked = s?.lock != null;
  const rollout = s?.rollout ?? "loading";
  const phases = Object.entries(s?.podStatus ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([phase, count]) => fill(T.phase, { phase, count }))
    .join("");
  const disabled = !s || locked || refusal !== undefined || rollout === "missing" || rollout === "paused";
  return fill(T.state, {
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
    restartedBy: s?.restartedBy ? fill(T.restartedBy, { user: s.restartedBy }) : "",
    disabled: disabled ? "disabled" : "",
    buttonLabel: locked ? "Restarting…" : "Restart",
    why: whyDisabled(s, refusal),
    oob: oob ? ' hx-swap-oob="true"' : "",
  });
}

export interface Card {
  key: ServiceKey;
  status: ServiceStatus | undefined;
  refusal: Refusal | undefined;
}

export function renderService(c: Card): string {
  const { key } = c;
  return fill(T.service, {
    id: domId(key),
    search: `${key.kind} ${key.namespace} ${key.name} ${key.namespace}/${key.name}`.toLowerCase(),
    kind: key.kind,
    kindLower: key.kind.toLowerCase(),
    name: key.name,
    state: renderState(c.status, key, c.refusal, false),
  });
}

export function renderGroups(cards: Card[]): string {
  if (cards.length === 0) return fill(T.empty, {});
  const byNs = new Map<string, string[]>();
  for (const c of cards) byNs.set(c.key.namespace, [...(byNs.get(c.key.namespace) ?? []), renderService(c)]);
  return [...byNs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, services]) => fill(T.group, { namespace, services: services.join("\n") }))
    .join("\n");
}

export function renderBanner(key: string, tone: "stale" | "warn" | "bad", contentHtml: string, oob: boolean): string {
  return fill(T.banner, { key, tone: contentHtml ? tone : "none", content: contentHtml, oob: oob ? ' hx-swap-oob="true"' : "" });
}

export function staleBanner(stale: string[], oob: boolean): string {
  // The watch paths name namespaces a viewer may not be allowed to see: they go to the log and
  // /readyz only; every viewer gets the same plain notice (issue 15 #5).
  return renderBanner("stale", "stale", stale.length ? T.staleBanner.trim() : "", oob);
}

/** Why the last reload of the services file was refused; an empty (hidden) banner when it was not. */
export function configBanner(problem: string, oob: boolean): string {
  return renderBanner("config", "bad", problem ? fill(T.configBanner, { problem }) : "", oob);
}

/** The app's own missing permissions, per service id; no banner when there are none. */
export function accessBanner(problems: Map<string, string[]>): string {
  if (problems.size === 0) return "";
  const items = [...problems].map(([service, missing]) => fill(T.accessItem, { service, missing: missing.join("; ") })).join("");
  return renderBanner("access", "warn", fill(T.accessBanner, { items }), false);
}

export function renderPage(v: { groups: string; banners: string; who: string; version: string }): string {
  return fill(T.page, v);
}

export function renderLogin(message: string): string {
  return fill(T.login, { message });
}

const OK_TEXT = (r: Extract<RestartResult, { ok: true }>) =>
  `Restart of ${r.service.kind} ${r.service.namespace}/${r.service.name} started; the status above follows the rollout.`;

export function renderFlash(r: RestartResult, now: Date): string {
  const time = now.toISOString().slice(11, 19) + " UTC";
  if (r.ok) return fill(T.flash, { tone: "ok", role: "status", text: OK_TEXT(r), time });
  const tone = r.reason === "locked" || r.reason === "rate-limited" || r.reason === "paused" || r.reason === "unavailable" ? "warn" : "bad";
  return fill(T.flash, { tone, role: "alert", text: r.detail, time });
}

/** "Signed in as …" in the header, or nothing when anonymous. */
export const signedIn = (who: { user: string; authenticated: boolean }) => (who.authenticated ? `Signed in as ${who.user}` : "");
