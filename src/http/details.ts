// The details of one service on the page: the panel opened in place (an htmx fragment), its live websocket, and the permalink page.
import type { Server } from "bun";
import { notListed, type ServiceEntry, serviceId } from "../config/file.ts";
import { mayView, whyNotRestart } from "../restart/identity.ts";
import { findService } from "../restart/restart.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { Identify } from "./identify.ts";
import type { Stream, WsData } from "./live.ts";
import { accessBanner, renderGroups, renderPage, signedIn, staleBanner } from "./render.ts";
import { renderDetails, wireDetails } from "./render-details.ts";
import { html, json, STATUS } from "./respond.ts";
import type { Handler, Params } from "./router.ts";

export interface DetailsDeps {
  /** The services offered now (a reload or a selector match changes them). */
  services: Pick<ServiceSet, "current">;
  hub: StatusHub;
  identify: Identify;
  version: string;
  clusterName: string;
  unusable(): Map<string, string[]>;
  upgrade(req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }): Response | undefined;
}

const wantsJson = (req: Request) => /application\/json/.test(req.headers.get("accept") ?? "") && !req.headers.get("hx-request");

// The sockets: like the JSON stream of one service, an unknown service goes through the same checks as a hidden one
// (issue 15 #5), and every socket goes through the live side's origin check, per-address cap and send bounds.
function socketRoute(d: DetailsDeps, stream: Stream): Handler {
  return (req, p, server) => {
    if (p.kind === undefined || p.namespace === undefined || p.name === undefined) {
      return json({ error: "bad-request", message: "malformed percent-encoding in the path" }, 400);
    }
    const found = findService(d.services.current(), p.kind, p.namespace, p.name);
    if (!found.ok && found.reason === "not-found") return d.upgrade(req, server as Server<WsData>, stream, { kind: p.kind as never, namespace: p.namespace, name: p.name, unknown: true });
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    return d.upgrade(req, server as Server<WsData>, stream, found.entry);
  };
}

export function makeDetailsHandlers(d: DetailsDeps) {
  /** The configured service the caller may see, or the answer to give instead (a hidden one is "not listed"). */
  const visible = (req: Request, p: Params) => {
    const who = d.identify(req);
    if (who instanceof Response) return who;
    if (p.kind === undefined || p.namespace === undefined || p.name === undefined) {
      return json({ error: "bad-request", message: "malformed percent-encoding in the path" }, 400);
    }
    const config = d.services.current();
    const found = findService(config, p.kind, p.namespace, p.name);
    if (!found.ok) return json({ error: found.reason, message: found.detail }, STATUS[found.reason]);
    if (!mayView(config, found.entry, who)) return json({ error: "not-found", message: notListed(p.kind, p.namespace, p.name) }, 404);
    return { entry: found.entry, who };
  };

  // The same details as JSON for scripts that ask for it (Accept: application/json); the page gets the fragment.
  const fragment: Handler = (req, p) => {
    const v = visible(req, p);
    if (v instanceof Response) return v;
    const details = d.hub.details(v.entry);
    if (wantsJson(req)) return json(wireDetails(details));
    return html(renderDetails(v.entry, details, Date.now()));
  };

  const live = socketRoute(d, "details");
  const stream = socketRoute(d, "html");

  /** /service/{kind}/{namespace}/{name}: the one card with its details open, live on its own stream. */
  const page: Handler = (req, p) => {
    const v = visible(req, p);
    if (v instanceof Response) return v;
    const { entry, who } = v;
    const details = renderDetails(entry, d.hub.details(entry), Date.now());
    const card = { key: entry, status: d.hub.current(entry), refusal: whyNotRestart(d.services.current(), entry, who, d.unusable().get(serviceId(entry))), details };
    const problems = new Map([...d.unusable()].filter(([id]) => id === serviceId(entry)));
    return html(
      renderPage({
        groups: renderGroups([card]),
        banners: staleBanner(d.hub.stale(), false) + accessBanner(problems),
        who: signedIn(who),
        version: d.version,
        clusterName: d.clusterName,
        query: "",
        stream: `/ui/service/${entry.kind}/${entry.namespace}/${entry.name}/status?since=${d.hub.mark()}`,
        heading: `${entry.kind} ${entry.namespace}/${entry.name}`,
      }),
    );
  };

  return { fragment, live, stream, page };
}
