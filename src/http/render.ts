// A status rendered two ways side by side — JSON for the API and websocket clients, HTML fragments (one template each) for the page.
import accessBannerRaw from "../../templates/access-banner.html" with { type: "text" };
import accessItemRaw from "../../templates/access-item.html" with { type: "text" };
import bannerRaw from "../../templates/banner.html" with { type: "text" };
import configBannerRaw from "../../templates/config-banner.html" with { type: "text" };
import clusterNameRaw from "../../templates/cluster-name.html" with { type: "text" };
import countsRaw from "../../templates/counts.html" with { type: "text" };
import detailsBannerRaw from "../../templates/details-banner.html" with { type: "text" };
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
import surgeRaw from "../../templates/surge.html" with { type: "text" };
import whyLineRaw from "../../templates/why-line.html" with { type: "text" };
import { type ServiceKey, serviceId } from "../config/file.ts";
import type { Refusal } from "../restart/identity.ts";
import type { RestartResult } from "../restart/outcome.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { RemovalMessageBody, StatusMessageBody } from "./schemas.ts";
import { fill } from "./template.ts";
import { ago, duration, exactUtc } from "./times.ts";

// bun-types declares *.html imports as HTML bundles; with { type: "text" } they are strings.
// Line breaks and indentation become one space (the same to HTML): a page of 2,000 cards is ~15 % smaller.
export const tpl = (t: unknown) => (t as string).replace(/\n\s*/g, " ").trim();
const T = {
  accessBanner: tpl(accessBannerRaw),
  accessItem: tpl(accessItemRaw),
  banner: tpl(bannerRaw),
  configBanner: tpl(configBannerRaw),
  clusterName: tpl(clusterNameRaw),
  counts: tpl(countsRaw),
  detailsBanner: tpl(detailsBannerRaw),
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
  surge: tpl(surgeRaw),
  whyLine: tpl(whyLineRaw),
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
      why: s.why ?? "",
      outcome: s.outcome ? { restarted_at: s.outcome.restartedAt, result: s.outcome.result, seconds: s.outcome.seconds, why: s.outcome.why } : null,
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

/** Why the button is disabled, in words, or "" when it is enabled. */
function whyDisabled(s: ServiceStatus | undefined, refusal: Refusal | undefined): string {
  if (refusal) return REFUSAL_TEXT[refusal.why];
  if (s?.lock) return `Restart in progress${s.lock.user ? ` (by ${s.lock.user})` : ""}; unlocks when the rollout finishes.`;
  if (s?.rollout === "paused") return "Paused deployments cannot be restarted.";
  if (s?.rollout === "missing") return "Not found in the cluster.";
  return "";
}

const OUTCOME_VERB = { complete: "completed in", failed: "failed after", "timed-out": "timed out after" } as const;

/** What the card says aloud (its live region): how the last restart ended, else its state. */
export function saidOf(s: ServiceStatus | undefined, key: ServiceKey): string {
  const what = `${key.kind} ${key.namespace}/${key.name}`;
  const o = s?.outcome;
  if (s && o && o.restartedAt === s.lastRestart) return `Restart of ${what} ${OUTCOME_VERB[o.result]} ${duration(o.seconds)}${o.why ? `: ${o.why}` : ""}`;
  return `${what}: ${LABEL[s?.rollout ?? "loading"]}`;
}

/** Updated and ready against desired, each labelled; pods beyond desired are a surge, never "5/4 ready". */
function counts(s: ServiceStatus | undefined): string {
  const desired = s?.desired ?? 0;
  const pods = s?.podsTotal ?? 0;
  const extra = s?.service.kind === "Deployment" ? pods - desired : 0;
  return fill(T.counts, {
    updated: Math.min(s?.updated ?? 0, desired),
    ready: Math.min(s?.ready ?? 0, desired),
    desired,
    surge: extra > 0 && s?.rollout === "progressing" ? fill(T.surge, { pods, extra }) : "",
  });
}

/** The cause line: a failed card always says the new revision failed, even when the cause is unknown. */
function whyLine(s: ServiceStatus | undefined): string {
  if (s?.rollout === "failed") return fill(T.whyLine, { tone: "bad", lead: "New revision failed:", text: s.why || "its pods did not become ready." });
  if (s?.rollout === "progressing" && s.why) return fill(T.whyLine, { tone: "warn", lead: "Waiting on:", text: s.why });
  return "";
}

export function renderState(s: ServiceStatus | undefined, key: ServiceKey, refusal: Refusal | undefined, oob: boolean, nowMs = Date.now()): string {
  const locked = s?.lock != null;
  const rollout = s?.rollout ?? "loading";
  const phases = Object.entries(s?.podStatus ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([phase, count]) => fill(T.phase, { phase, count }))
    .join("");
  const disabled = !s || locked || refusal !== undefined || rollout === "missing" || rollout === "paused";
  const desired = s?.desired ?? 0;
  const updated = Math.min(s?.updated ?? 0, desired);
  const last = s?.lastRestart ?? "";
  return fill(T.state, {
    id: domId(key),
    kind: key.kind,
    namespace: key.namespace,
    name: key.name,
    rollout,
    rolloutLabel: LABEL[rollout] ?? rollout,
    locked: String(locked),
    said: saidOf(s, key),
    outcomeAt: s?.outcome && s.outcome.restartedAt === last ? last : "",
    counts: counts(s),
    progressMax: Math.max(1, desired),
    progressValue: updated,
    progressLabel: `Updated pods: ${updated} of ${desired}`,
    whyLine: whyLine(s),
    message: s?.message ?? "Waiting for cluster data…",
    phases,
    lastRestart: last,
    lastRestartExact: exactUtc(last),
    lastRestartText: last ? ago(last, nowMs) : "never",
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
  /** The details panel, already open (the permalink page). */
  details?: string;
}

export function renderService(c: Card): string {
  const { key } = c;
  return fill(T.service, {
    id: domId(key),
    search: `${key.kind} ${key.namespace} ${key.name} ${key.namespace}/${key.name}`.toLowerCase(),
    kind: key.kind,
    kindLower: key.kind.toLowerCase(),
    namespace: key.namespace,
    name: key.name,
    state: renderState(c.status, key, c.refusal, false),
    said: saidOf(c.status, key),
    details: c.details ?? "",
  });
}

export function renderGroups(cards: Card[]): string {
  if (cards.length === 0) return fill(T.empty, {});
  const byNs = new Map<string, string[]>();
  for (const c of cards) byNs.set(c.key.namespace, [...(byNs.get(c.key.namespace) ?? []), renderService(c)]);
  return [...byNs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, services]) => fill(T.group, { namespace, count: services.length, noun: services.length === 1 ? "service" : "services", services: services.join("\n") }))
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

export interface PageView {
  groups: string;
  banners: string;
  who: string;
  version: string;
  /** CLUSTER_NAME (or the kubeconfig's cluster); "" shows none. */
  clusterName: string;
  /** The filter from ?q=. */
  query: string;
  /** The websocket the page listens on (all services, or one on a permalink page). */
  stream?: string;
  /** What the page shows, for the title ("Restart services" or the one service). */
  heading?: string;
}

/** Operators' note when the app may not read Events or revisions; nothing when it may. */
export function detailsBanner(gaps: string[]): string {
  return gaps.length ? renderBanner("details", "warn", fill(T.detailsBanner, { gaps: gaps.join(", ") }), false) : "";
}

export function renderPage(v: PageView): string {
  const heading = v.heading ?? "Restart services";
  const title = [heading, v.clusterName, "k8s-restart-app"].filter(Boolean).join(" · ");
  return fill(T.page, {
    groups: v.groups,
    banners: v.banners,
    who: v.who,
    version: v.version,
    query: v.query,
    title,
    stream: v.stream ?? "/ui/status",
    cluster: v.clusterName ? fill(T.clusterName, { name: v.clusterName }) : "",
  });
}

export function renderLogin(message: string): string {
  return fill(T.login, { message });
}

const OK_TEXT = (r: Extract<RestartResult, { ok: true }>) =>
  `Restart of ${r.service.kind} ${r.service.namespace}/${r.service.name} started; the status above follows the rollout.`;

export function renderFlash(r: RestartResult, now: Date): string {
  const time = now.toISOString().slice(11, 19) + " UTC";
  if (r.ok) return fill(T.flash, { tone: "ok", role: "status", text: OK_TEXT(r), time, restartedAt: r.restartedAt });
  const tone = r.reason === "locked" || r.reason === "rate-limited" || r.reason === "paused" || r.reason === "unavailable" ? "warn" : "bad";
  return fill(T.flash, { tone, role: "alert", text: r.detail, time, restartedAt: "" });
}

/** "Signed in as …" in the header, or nothing when anonymous. */
export const signedIn = (who: { user: string; authenticated: boolean }) => (who.authenticated ? `Signed in as ${who.user}` : "");
