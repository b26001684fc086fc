// The live side: websocket upgrade, topics per service and audience, the full state on every open, hub changes published to subscribers, and services added or removed at runtime.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Env } from "../config/env.ts";
import { notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { type Audience, audienceOf, type Identity, mayView, type Refusal, refusalFor } from "../restart/identity.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { ServiceChange, ServiceSet } from "../status/service-set.ts";
import type { Identify } from "./identify.ts";
import { type Card, configBanner, renderGroups, renderState, staleBanner, wireRemoval, wireStatus } from "./render.ts";
import { json } from "./respond.ts";
import { crossSiteRefusal } from "./security.ts";

/** The two streams: the original's JSON messages, and HTML fragments for the page. */
export type Stream = "json" | "html";

/** What a socket subscribes to; the topic string is derived, never compared as UI text. */
type Topic = { stream: "json"; service: string } | { stream: "html"; service: string; audience: Audience } | { stream: "banner" };

const topicName = (t: Topic): string => (t.stream === "json" ? `json:${t.service}` : t.stream === "html" ? `html:${t.service}:${t.audience}` : "html:banner");

/** `all`: the socket follows every service it may see (so services added later too), not just one. */
export type WsData = { stream: Stream; all: boolean; topics: string[]; services: ServiceEntry[]; identity: Identity };

/** A message for operators that can change at runtime (a refused config reload). */
export interface Notice {
  current(): string;
  onChange(h: (text: string) => void): void;
}

export interface LiveDeps {
  env: Env;
  services: ServiceSet;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  /** The permissions the app itself lacks, per service id. */
  unusable(): Map<string, string[]>;
  configProblem?: Notice;
}

const watcherLabels = (s: ServiceKey) => ({ kind: s.kind, namespace: s.namespace, name: s.name });

/** The topics a socket subscribes to for `services`. */
function topicsFor(stream: Stream, services: ServiceEntry[], audience: (s: ServiceEntry) => Audience): string[] {
  const topics: Topic[] = services.map((s) => (stream === "json" ? { stream, service: serviceId(s) } : { stream, service: serviceId(s), audience: audience(s) }));
  if (stream === "html") topics.push({ stream: "banner" });
  return topics.map(topicName);
}

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
      for (const s of ws.data.services) metrics.watchers.inc(watcherLabels(s));
      sendFullState(ws);
    },
    message() {},
    close(ws) {
      sockets.delete(ws);
      for (const s of ws.data.services) metrics.watchers.dec(watcherLabels(s));
    },
  };
}

/** Answers the upgrade request: a refusal, or undefined once the socket is upgraded. */
function upgrade({ env, services: set, identify }: LiveDeps, req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry): Response | undefined {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return json({ error: "bad-request", message: "this endpoint is a websocket: connect with Upgrade: websocket" }, 400);
  }
  const refusal = crossSiteRefusal(req, env.trustedOrigins);
  if (refusal) return json({ error: "forbidden", message: refusal }, 403);
  const who = identify(req);
  if (who instanceof Response) return who;
  const config = set.current();
  // A service the caller may not see answers exactly like one that is not configured.
  if (only && !mayView(config, only, who)) return json({ error: "not-found", message: notListed(only.kind, only.namespace, only.name) }, 404);
  const services = only ? [only] : config.services.filter((e) => mayView(config, e, who));
  const topics = topicsFor(stream, services, (s) => audienceOf(config, s, who));
  if (server.upgrade(req, { data: { stream, all: !only, topics, services, identity: who } })) return undefined;
  return json({ error: "bad-request", message: "websocket upgrade failed" }, 400);
}

export function makeLive(deps: LiveDeps) {
  const { env, services: set, hub, metrics, unusable } = deps;
  const sockets = new Set<ServerWebSocket<WsData>>();
  const refusal = (entry: ServiceKey, audience: Audience) => refusalFor(audience, entry, unusable().get(serviceId(entry)));
  const card = (s: ServiceStatus | undefined, entry: ServiceKey, audience: Audience, oob: boolean) => renderState(s, entry, refusal(entry, audience), oob);
  const banners = (oob: boolean) => staleBanner(hub.stale(), oob) + (deps.configProblem ? configBanner(deps.configProblem.current(), oob) : "");

  // The page may have been open for a while (or the tab hidden): every open gets everything.
  function sendFullState(ws: ServerWebSocket<WsData>): void {
    const { stream, services, identity } = ws.data;
    if (stream === "json") {
      for (const s of services) {
        const st = hub.current(s);
        if (st) ws.send(JSON.stringify(wireStatus(st)));
      }
      return;
    }
    const config = set.current();
    const parts = services.map((s) => card(hub.current(s), s, audienceOf(config, s, identity), true));
    parts.push(banners(true));
    ws.send(parts.join("\n"));
  }

  const websocket = socketHandler(env.heartbeatSec, metrics, sockets, sendFullState);
  const follow = (c: ServiceChange) => sockets.forEach((ws) => followChange(ws, c, { set, hub, metrics, refusal }));

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
    hub.onConnection((stale) => {
      metrics.watchConnected.set(stale.length ? 0 : 1);
      server.publish(topicName({ stream: "banner" }), staleBanner(stale, true));
    });
    deps.configProblem?.onChange((text) => server.publish(topicName({ stream: "banner" }), configBanner(text, true)));
    set.onChange(follow);
  }

  return {
    upgrade: (req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry) => upgrade(deps, req, server, stream, only),
    websocket,
    publishFrom,
    /** Closes every socket (1001 on shutdown, so htmx reconnects to the next instance). */
    closeAll: (code: number, reason: string) => sockets.forEach((ws) => ws.close(code, reason)),
  };
}

interface Follow {
  set: ServiceSet;
  hub: StatusHub;
  metrics: Metrics;
  refusal: (entry: ServiceKey, audience: Audience) => Refusal | undefined;
}

/**
 * One socket after the service set changed: what it may see now is recomputed from the change;
 * JSON sockets get a status for each service that appeared and a removal for each that left, the
 * page gets its cards re-rendered (a message without out-of-band markers replaces them all).
 */
function followChange(ws: ServerWebSocket<WsData>, c: ServiceChange, f: Follow): void {
  const { stream, identity } = ws.data;
  const config = f.set.current();
  const gone = new Set(c.removed.map(serviceId));
  if (!ws.data.all) {
    const s = ws.data.services[0]!;
    if (!gone.has(serviceId(s)) && !c.changed.some((e) => serviceId(e) === serviceId(s) && !mayView(config, e, identity))) return;
    ws.send(JSON.stringify(wireRemoval(s)));
    return void ws.close(1000, "service removed from the list");
  }
  const visible = new Map(ws.data.services.map((s) => [serviceId(s), s]));
  for (const s of [...c.removed, ...c.changed]) visible.delete(serviceId(s));
  for (const s of [...c.added, ...c.changed]) if (mayView(config, s, identity)) visible.set(serviceId(s), s);
  const before = new Set(ws.data.services.map(serviceId));
  const left = ws.data.services.filter((s) => !visible.has(serviceId(s)));
  const joined = [...visible.values()].filter((s) => !before.has(serviceId(s)));
  const touched = c.changed.some((s) => visible.has(serviceId(s)));
  if (!left.length && !joined.length && !touched) return;
  for (const s of left) f.metrics.watchers.dec(watcherLabels(s));
  for (const s of joined) f.metrics.watchers.inc(watcherLabels(s));
  for (const t of ws.data.topics) ws.unsubscribe(t);
  ws.data.services = config.services.filter((s) => visible.has(serviceId(s)));
  ws.data.topics = topicsFor(stream, ws.data.services, (s) => audienceOf(config, s, identity));
  for (const t of ws.data.topics) ws.subscribe(t);
  if (stream === "json") {
    for (const s of left) ws.send(JSON.stringify(wireRemoval(s)));
    for (const s of joined) {
      const st = f.hub.current(s);
      if (st) ws.send(JSON.stringify(wireStatus(st)));
    }
    return;
  }
  const cards: Card[] = ws.data.services.map((s) => ({ key: s, status: f.hub.current(s), refusal: f.refusal(s, audienceOf(config, s, identity)) }));
  ws.send(renderGroups(cards));
}
