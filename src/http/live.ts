// The live side: websocket upgrade, topics per service and audience, the full state on every open, and hub changes published to subscribers.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Env } from "../config/env.ts";
import { type ConfigFile, notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { type Audience, audienceOf, type Identity, mayView, refusalFor } from "../restart/identity.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { Identify } from "./identify.ts";
import { renderState, staleBanner, wireStatus } from "./render.ts";
import { renderDetailsBody } from "./render-details.ts";
import { json } from "./respond.ts";
import { crossSiteRefusal } from "./security.ts";

/** The streams: the original's JSON messages, HTML fragments for the page, and one open details panel. */
export type Stream = "json" | "html" | "details";

/** What a socket subscribes to; the topic string is derived, never compared as UI text. */
type Topic =
  | { stream: "json"; service: string }
  | { stream: "html"; service: string; audience: Audience }
  | { stream: "banner" }
  // Details go only to sockets of open panels: the list stream stays as lean as before.
  | { stream: "details"; service: string };

const topicName = (t: Topic): string =>
  t.stream === "json" ? `json:${t.service}` : t.stream === "html" ? `html:${t.service}:${t.audience}` : t.stream === "details" ? `details:${t.service}` : "html:banner";

/** `since`: the hub mark the page was rendered at; the socket then sends only cards changed after it. */
export type WsData = { stream: Stream; topics: string[]; services: ServiceEntry[]; identity: Identity; since?: string };

export interface LiveDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  /** The permissions the app itself lacks, per service id. */
  unusable(): Map<string, string[]>;
}

const watcherLabels = (s: ServiceEntry) => ({ kind: s.kind, namespace: s.namespace, name: s.name });
/** A details panel is not a status watcher (the card beside it already counts). */
const watched = (ws: ServerWebSocket<WsData>) => (ws.data.stream === "details" ? [] : ws.data.services);

/** Bun's websocket callbacks: subscribe on open, send the full state, count watchers. */
function socketHandler(heartbeatSec: number, metrics: Metrics, sockets: Set<ServerWebSocket<WsData>>, sendFullState: (ws: ServerWebSocket<WsData>) => void): WebSocketHandler<WsData> {
  return {
    // Heartbeat: WATCH_INTERVAL paces pings; a peer silent for two intervals is closed as dead.
    idleTimeout: Math.min(960, Math.max(4, heartbeatSec * 2)),
    sendPings: true,
    // Clients have nothing to say: a tiny limit, and messages are ignored.
    maxPayloadLength: 1024,
    open(ws) {
      sockets.add(ws);
      for (const t of ws.data.topics) ws.subscribe(t);
      for (const s of watched(ws)) metrics.watchers.inc(watcherLabels(s));
      sendFullState(ws);
    },
    message() {},
    close(ws) {
      sockets.delete(ws);
      for (const s of watched(ws)) metrics.watchers.dec(watcherLabels(s));
    },
  };
}

/** Answers the upgrade request: a refusal, or undefined once the socket is upgraded. */
function upgrade({ env, config, identify }: LiveDeps, req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry): Response | undefined {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return json({ error: "bad-request", message: "this endpoint is a websocket: connect with Upgrade: websocket" }, 400);
  }
  const refusal = crossSiteRefusal(req, env.trustedOrigins);
  if (refusal) return json({ error: "forbidden", message: refusal }, 403);
  const who = identify(req);
  if (who instanceof Response) return who;
  // A service the caller may not see answers exactly like one that is not configured.
  if (only && !mayView(config, only, who)) return json({ error: "not-found", message: notListed(only.kind, only.namespace, only.name) }, 404);
  const services = only ? [only] : config.services.filter((e) => mayView(config, e, who));
  const topics: Topic[] = services.map((s) =>
    stream === "html" ? { stream, service: serviceId(s), audience: audienceOf(config, s, who) } : { stream, service: serviceId(s) },
  );
  if (stream === "html") topics.push({ stream: "banner" });
  const since = new URL(req.url).searchParams.get("since") ?? undefined;
  if (server.upgrade(req, { data: { stream, topics: topics.map(topicName), services, identity: who, since } })) return undefined;
  return json({ error: "bad-request", message: "websocket upgrade failed" }, 400);
}

export function makeLive(deps: LiveDeps) {
  const { env, config, hub, metrics, unusable } = deps;
  const sockets = new Set<ServerWebSocket<WsData>>();
  const card = (s: ServiceStatus | undefined, entry: ServiceKey, audience: Audience, oob: boolean) =>
    renderState(s, entry, refusalFor(audience, entry, unusable().get(serviceId(entry))), oob);

  const details = (s: ServiceKey) => renderDetailsBody(hub.details(s), Date.now());

  // The page may have been open for a while (or the tab hidden): every open gets everything.
  function sendFullState(ws: ServerWebSocket<WsData>): void {
    const { stream, services, identity } = ws.data;
    if (stream === "details") return void ws.send(details(services[0]!));
    if (stream === "json") {
      for (const s of services) {
        const st = hub.current(s);
        if (st) ws.send(JSON.stringify(wireStatus(st)));
      }
      return;
    }
    // A page rendered moments ago already shows every card: send only those that changed since.
    const stale = ws.data.since ? services.filter((s) => hub.changedSince(s, ws.data.since!)) : services;
    const parts = stale.map((s) => card(hub.current(s), s, audienceOf(config, s, identity), true));
    parts.push(staleBanner(hub.stale(), true));
    ws.send(parts.join("\n"));
  }

  const websocket = socketHandler(env.heartbeatSec, metrics, sockets, sendFullState);

  /** Publishes every hub change to the sockets that watch it, rendered once per topic. */
  function publishFrom(server: Server<WsData>): void {
    const publish = (t: Topic, render: () => string) => {
      const name = topicName(t);
      if (server.subscriberCount(name) > 0) server.publish(name, render());
    };
    hub.onStatus((s) => {
      const service = serviceId(s.service);
      publish({ stream: "json", service }, () => JSON.stringify(wireStatus(s)));
      for (const audience of ["may-restart", "not-allowed"] as const) publish({ stream: "html", service, audience }, () => card(s, s.service, audience, true));
    });
    publishDetails(server, hub, details);
    hub.onConnection((stale) => {
      metrics.watchConnected.set(stale.length ? 0 : 1);
      server.publish(topicName({ stream: "banner" }), staleBanner(stale, true));
    });
  }

  return {
    upgrade: (req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry) => upgrade(deps, req, server, stream, only),
    websocket,
    publishFrom,
    /** Closes every socket (1001 on shutdown, so htmx reconnects to the next instance). */
    closeAll: (code: number, reason: string) => sockets.forEach((ws) => ws.close(code, reason)),
  };
}

/** Re-renders the details of touched services that have an open panel, and sends them when they changed. */
function publishDetails(server: Server<WsData>, hub: StatusHub, render: (s: ServiceKey) => string): void {
  const last = new Map<string, string>();
  hub.onTouched((batch) => {
    for (const s of batch) {
      const id = serviceId(s);
      const name = topicName({ stream: "details", service: id });
      if (server.subscriberCount(name) === 0) {
        last.delete(id);
        continue;
      }
      const body = render(s);
      if (last.get(id) === body) continue;
      last.set(id, body);
      server.publish(name, body);
    }
  });
}
