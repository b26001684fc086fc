// The small handlers: the page, the service list, one service's status stream, health, readiness, metrics and the embedded assets.
import type { Server } from "bun";
import type { ConfigFile } from "../config/file.ts";
import { serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { mayView, whyNotRestart } from "../restart/identity.ts";
import { findService } from "../restart/restart.ts";
import type { StatusHub } from "../status/hub.ts";
import type { Identify } from "./identify.ts";
import type { Stream, WsData } from "./live.ts";
import { accessBanner, detailsBanner, renderGroups, renderPage, signedIn, staleBanner } from "./render.ts";
import { html, json, STATIC, STATUS, text, withHeaders } from "./respond.ts";
import type { Handler, Route } from "./router.ts";

export interface HandlerDeps {
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  version: string;
  clusterName: string;
  unusable(): Map<string, string[]>;
  ready(): { ready: boolean; detail: string[] };
  upgrade(req: Request, server: Server<WsData>, stream: Stream, only?: ConfigFile["services"][number]): Response | undefined;
}

export function makeHandlers(d: HandlerDeps) {
  const visible = (who: Parameters<typeof mayView>[2]) => d.config.services.filter((e) => mayView(d.config, e, who));

  const page: Handler = (req) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    const cards = visible(who).map((key) => ({ key, status: d.hub.current(key), refusal: whyNotRestart(d.config, key, who, d.unusable().get(serviceId(key))) }));
    const banners = staleBanner(d.hub.stale(), false) + accessBanner(d.unusable()) + detailsBanner(d.hub.detailGaps());
    const query = new URL(req.url).searchParams.get("q") ?? "";
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
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    return d.upgrade(req, server as Server<WsData>, "json", found.entry);
  };

  const readyz: Handler = () => {
    const r = d.ready();
    return text(`${r.ready ? "ok" : "not ready"}\n${r.detail.map((x) => `- ${x}\n`).join("")}`, r.ready ? 200 : 503);
  };

  const metrics: Handler = async () =>
    withHeaders(new Response(await d.metrics.registry.metrics(), { headers: { "Content-Type": d.metrics.registry.contentType } }));

  const assets: Route[] = Object.entries(STATIC).map(([path, asset]) => ({
    path,
    GET: () => withHeaders(new Response(Bun.file(asset.path), { headers: { "Content-Type": asset.type, "Cache-Control": "public, max-age=300" } })),
  }));

  return { page, list, serviceStream, healthz: (() => text("ok\n", 200)) as Handler, readyz, metrics, assets };
}
