// The small handlers: the page, the service list, one service's status stream, health, readiness, metrics and the embedded assets.
import type { Server } from "bun";
import type { Env } from "../config/env.ts";
import type { ConfigFile } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { mayView, whyNotRestart } from "../restart/identity.ts";
import { findService } from "../restart/restart.ts";
import type { StatusHub } from "../status/hub.ts";
import type { Identify } from "./identify.ts";
import type { Stream, WsData } from "./live.ts";
import { accessBanner, detailsBanner, renderGroups, renderPage, signedIn, staleBanner } from "./render.ts";
import { requestUrl } from "./requrl.ts";
import { html, json, STATIC, STATUS, text, withHeaders } from "./respond.ts";
import type { Handler, Route } from "./router.ts";

export interface HandlerDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  version: string;
  clusterName: string;
  unusable(): Map<string, string[]>;
  ready(): { ready: boolean; detail: string[] };
  upgrade(req: Request, server: Server<WsData>, stream: Stream, only?: ConfigFile["services"][number] & { unknown?: true }): Response | undefined;
  /** Brings the per-service websocket gauge up to date (it is summed only when read). */
  beforeMetrics?(): void;
}

export function makeHandlers(d: HandlerDeps) {
  const visible = (who: Parameters<typeof mayView>[2]) => d.config.services.filter((e) => mayView(d.config, e, who));

  const page: Handler = (req) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    const mine = visible(who);
    const cards = mine.map((key) => ({ key, status: d.hub.current(key), refusal: whyNotRestart(d.config, key, who, d.unusable().get(serviceId(key))) }));
    // issue 15 #5: the banners name only services (and namespaces) this viewer may see.
    const ids = new Set(mine.map(serviceId));
    const namespaces = new Set(mine.map((s) => s.namespace));
    const gaps = d.hub.detailGaps().filter((g) => namespaces.has(g.slice(g.lastIndexOf(" in ") + 4)));
    const banners = staleBanner(d.hub.stale(), false) + accessBanner(new Map([...d.unusable()].filter(([id]) => ids.has(id)))) + detailsBanner(gaps);
    const query = requestUrl(req).searchParams.get("q") ?? "";
    const stream = `/ui/status?since=${d.hub.mark()}`;
    return html(renderPage({ groups: renderGroups(cards), banners, who: signedIn(who), version: d.version, clusterName: d.clusterName, query, stream }));
  };

  const list: Handler = (req) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    return json({ services: visible(who).map((e) => ({ kind: e.kind, name: e.name, namespace: e.namespace })) });
  };

  // One service's JSON stream: the same lookup as a restart, so a bad path answers the same way.
  const serviceStream: Handler = (req, p, server) => {
    if (p.kind === undefined || p.namespace === undefined || p.name === undefined) {
      return json({ error: "bad-request", message: "malformed percent-encoding in the path" }, 400);
    }
    const found = findService(d.config, p.kind, p.namespace, p.name);
    // issue 15 #5: an unknown service goes through the same checks as a hidden one, so both answer alike.
    if (!found.ok && found.reason === "not-found") return d.upgrade(req, server as Server<WsData>, "json", { kind: p.kind as never, namespace: p.namespace, name: p.name, unknown: true });
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    return d.upgrade(req, server as Server<WsData>, "json", found.entry);
  };

  const readyz: Handler = () => {
    const r = d.ready();
    return text(`${r.ready ? "ok" : "not ready"}\n${r.detail.map((x) => `- ${x}\n`).join("")}`, r.ready ? 200 : 503);
  };

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
