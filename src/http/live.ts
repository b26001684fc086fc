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
import { json } from "./respond.ts";
import { crossSiteRefusal } from "./security.ts";

/** The two streams: the original's JSON messages, and HTML fragments for the page. */
export type Stream = "json" | "html";

/** What a socket subscribes to; the topic string is derived, never compared as UI text. */
type Topic = { stream: "json"; service: string } | { stream: "html"; service: string; audience: Audience } | { stream: "banner" };

const topicName = (t: Topic): string => (t.stream === "json" ? `json:${t.service}` : t.stream === "html" ? `html:${t.service}:${t.audience}` : "html:banner");

export type WsData = { stream: Stream; topics: string[]; services: ServiceEntry[]; identity: Identity; seen?: number };

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

/** Bun's websocket callbacks: subscribe on open, send the full state, count watchers. */
function socketHandler(heartbeatSec: number, metrics: Metrics, sockets: Set<ServerWebSocket<WsData>>, sendFullState: (ws: ServerWebSocket<WsData>) => void): WebSocketHandler<WsData> {
  return {
    // Heartbeat: WATCH_INTERVAL paces pings; a peer silent for two intervals is closed as dead.
    idleTimeout: Math.min(960, Math.max(4, heartbeatSec * 2)),
    sendPings: true,
    // Clients have nothing to say: a tiny limit, and messages are ignored.
    maxPayloadLength: 1024,
    open(ws) {
      ws.data.seen = Date.now();
      sockets.add(ws);
      for (const t of ws.data.topics) ws.subscribe(t);
      metrics.watchers.inc();
      for (const s of ws.data.services) metrics.serviceWatchers.inc(watcherLabels(s));
      sendFullState(ws);
    },
    message(ws) {
      ws.data.seen = Date.now();
    },
    pong(ws) {
      ws.data.seen = Date.now();
    },
    close(ws) {
      sockets.delete(ws);
      metrics.watchers.dec();
      for (const s of ws.data.services) metrics.serviceWatchers.dec(watcherLabels(s));
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
    stream === "json" ? { stream, service: serviceId(s) } : { stream, service: serviceId(s), audience: audienceOf(config, s, who) },
  );
  if (stream === "html") topics.push({ stream: "banner" });
  if (server.upgrade(req, { data: { stream, topics: topics.map(topicName), services, identity: who } })) return undefined;
  return json({ error: "bad-request", message: "websocket upgrade failed" }, 400);
}

/**
 * Bun's idle timeout counts traffic both ways, so while re-sends flow it never fires for a peer
 * that vanished: ping each tick ourselves and drop a peer silent for two intervals.
 */
function reapSilent(sockets: Set<ServerWebSocket<WsData>>, sec: number): void {
  const now = Date.now();
  for (const ws of sockets) {
    if (now - (ws.data.seen ?? now) > 2 * sec * 1000) ws.terminate();
    else ws.ping();
  }
}

/**
 * The original re-sent every status every WATCH_INTERVAL, and its clients rely on it (a read loop
 * that checks its deadline between messages): the JSON stream keeps doing so; the page's stays change-only.
 */
function resendEvery(server: Server<WsData>, sec: number, services: ServiceKey[], hub: StatusHub, sockets: Set<ServerWebSocket<WsData>>): Timer | undefined {
  if (sec <= 0) return undefined;
  const t = setInterval(() => {
    reapSilent(sockets, sec);
    for (const s of services) {
      const name = topicName({ stream: "json", service: serviceId(s) });
      const st = hub.current(s);
      if (st && server.subscriberCount(name) > 0) server.publish(name, JSON.stringify(wireStatus(st)));
    }
  }, sec * 1000);
  t.unref();
  return t;
}

export function makeLive(deps: LiveDeps) {
  const { env, config, hub, metrics, unusable } = deps;
  const sockets = new Set<ServerWebSocket<WsData>>();
  const card = (s: ServiceStatus | undefined, entry: ServiceKey, audience: Audience, oob: boolean) =>
    renderState(s, entry, refusalFor(audience, entry, unusable().get(serviceId(entry))), oob);

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
    const parts = services.map((s) => card(hub.current(s), s, audienceOf(config, s, identity), true));
    parts.push(staleBanner(hub.stale(), true));
    ws.send(parts.join("\n"));
  }

  const websocket = socketHandler(env.heartbeatSec, metrics, sockets, sendFullState);

  let resend: Timer | undefined;

  /** Publishes every hub change to the sockets that watch it, rendered once per topic. */
  function publishFrom(server: Server<WsData>): void {
    resend = resendEvery(server, env.statusResendSec, config.services, hub, sockets);
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
      server.publish(topicName({ stream: "banner" }), staleBanner(stale, true));
    });
  }

  return {
    upgrade: (req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry) => upgrade(deps, req, server, stream, only),
    websocket,
    publishFrom,
    /** Closes every socket (1001 on shutdown, so htmx reconnects to the next instance). */
    closeAll: (code: number, reason: string) => (clearInterval(resend), sockets.forEach((ws) => ws.close(code, reason))),
  };
}
