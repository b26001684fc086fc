// The small handlers: the page, the service list, one service's status stream, health, readiness, metrics and the embedded assets.
import { requestUrl } from "./requrl.ts";
import type { Server } from "bun";
import type { Env } from "../config/env.ts";
import type { ServiceEntry } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { mayView, whyNotRestart } from "../restart/identity.ts";
import { findService } from "../restart/restart.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { Readiness } from "../status/readiness.ts";
import type { Identify } from "./identify.ts";
import type { Notice, Stream, WsData } from "./live.ts";
import { accessBanner, configBanner, detailsBanner, renderGroups, renderPage, signedIn, staleBanner } from "./render.ts";
import { html, json, STATIC, STATUS, text, withHeaders } from "./respond.ts";
import type { Handler, Route } from "./router.ts";
import type { ReadinessBody, ServiceListBody } from "./schemas.ts";

export interface HandlerDeps {
  env: Env;
  services: ServiceSet;
  configProblem?: Notice;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  version: string;
  clusterName: string;
  unusable(): Map<string, string[]>;
  ready(): Readiness;
  upgrade(req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }): Response | undefined;
  /** Brings the per-service websocket gauge up to date (it is summed only when read). */
  beforeMetrics?(): void;
}

/** ok and degraded are 200 (serving is right; the reasons say what is wrong), not ready is 503; ?format=json as JSON. */
function readyzHandler(ready: () => Readiness): Handler {
  return (req) => {
    const r = ready();
    const code = r.state === "not ready" ? 503 : 200;
    if (requestUrl(req).searchParams.get("format") === "json") return json({ status: r.state, reasons: r.reasons } satisfies ReadinessBody, code);
    return text(`${r.state}\n${r.reasons.map((x) => `- ${x}\n`).join("")}`, code);
  };
}

/** The page's banners; issue 15 #5: they name only services (and namespaces) this viewer may see. */
function pageBanners(d: HandlerDeps, mine: ServiceEntry[]): string {
  const ids = new Set(mine.map(serviceId));
  const namespaces = new Set(mine.map((s) => s.namespace));
  const gaps = d.hub.detailGaps().filter((g) => namespaces.has(g.slice(g.lastIndexOf(" in ") + 4)));
  const problems = new Map([...d.unusable()].filter(([id]) => ids.has(id)));
  return staleBanner(d.hub.stale(), false) + configBanner(d.configProblem?.current() ?? "", false) + accessBanner(problems) + detailsBanner(gaps);
}

export function makeHandlers(d: HandlerDeps) {
  const visible = (who: Parameters<typeof mayView>[2]) => {
    const config = d.services.current();
    return config.services.filter((e) => mayView(config, e, who));
  };

  const page: Handler = (req) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    const config = d.services.current();
    const mine = visible(who);
    const cards = mine.map((key) => ({ key, status: d.hub.current(key), refusal: whyNotRestart(config, key, who, d.unusable().get(serviceId(key))) }));
    const banners = pageBanners(d, mine);
    const query = requestUrl(req).searchParams.get("q") ?? "";
    const stream = `/ui/status?since=${d.hub.mark()}`;
    return html(renderPage({ groups: renderGroups(cards), banners, who: signedIn(who), version: d.version, clusterName: d.clusterName, query, stream }));
  };

  const list: Handler = (req) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    return json({ services: visible(who).map((e) => ({ kind: e.kind, name: e.name, namespace: e.namespace })) } satisfies ServiceListBody);
  };

  // One service's JSON stream: the same lookup as a restart, so a bad path answers the same way.
  const serviceStream: Handler = (req, p, server) => {
    if (p.kind === undefined || p.namespace === undefined || p.name === undefined) {
      return json({ error: "bad-request", message: "malformed percent-encoding in the path" }, 400);
    }
    const found = findService(d.services.current(), p.kind, p.namespace, p.name);
    // issue 15 #5: an unknown service goes through the same checks as a hidden one, so both answer alike.
    if (!found.ok && found.reason === "not-found") return d.upgrade(req, server as Server<WsData>, "json", { kind: p.kind as never, namespace: p.namespace, name: p.name, unknown: true });
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    return d.upgrade(req, server as Server<WsData>, "json", found.entry);
  };

  const readyz = readyzHandler(d.ready);

  const metrics: Handler = async () => {
    d.beforeMetrics?.();
    return withHeaders(new Response(await d.metrics.registry.metrics(), { headers: { "Content-Type": d.metrics.registry.contentType } }));
  };

  // issue 15 #5: on the main port, with AUTH_MODE≠none, metrics need an identity.
  const metricsWithIdentity: Handler = (req, p, server) => {
    if (d.env.auth.mode === "none") return metrics(req, p, server);
    const who = d.identify(req);
    return who instanceof Response ? who : metrics(req, p, server);
  };

  const assets: Route[] = Object.entries(STATIC).map(([path, asset]) => ({
    path,
    GET: () => withHeaders(new Response(Bun.file(asset.path), { headers: { "Content-Type": asset.type, "Cache-Control": "public, max-age=300" } })),
  }));

  return { page, list, serviceStream, healthz: (() => text("ok\n", 200)) as Handler, readyz, metrics, metricsWithIdentity, assets };
}
