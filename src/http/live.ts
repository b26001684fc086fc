// The live side: websocket upgrade, topics per service and audience, the full state on every open, and hub changes published to subscribers.
//
// Memory stays bounded however many clients connect and however slowly they read (issue 15
// #17): sockets of the same viewer share one plan (wsplan.ts), the full state is rendered once
// per status and fed in acknowledged windows (wsfeed.ts), a client too far behind is closed,
// and each client address may hold only so many sockets. A details panel's socket (issue 11) is
// one more socket under the same rules: admitted against the same cap, fed through the same
// acknowledged window, closed by the same backpressure limit; its rendering is shared per service.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Env } from "../config/env.ts";
import { type ConfigFile, notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { type Audience, type Identity, mayRestart, mayView, refusalFor } from "../restart/identity.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { Authn } from "./auth.ts";
import { clientAddress } from "./clientaddr.ts";
import type { Identify } from "./identify.ts";
import { renderState, staleBanner, wireStatus } from "./render.ts";
import { renderDetailsBody } from "./render-details.ts";
import { requestUrl } from "./requrl.ts";
import { json } from "./respond.ts";
import { crossSiteRefusal } from "./security.ts";
import { acknowledged, type FeedState, makeConnectionCap, makeRenderCache, pump } from "./wsfeed.ts";
import { makePlans, type Plan } from "./wsplan.ts";

/** The streams: the original's JSON messages, HTML fragments for the page, and one open details panel. */
export type Stream = "json" | "html" | "details";

export type WsData = {
  /** Shared by every socket of the same viewer: services, topics, audiences. */
  plan: Plan;
  identity: Identity;
  /** The client address counted against WEBSOCKET_MAX_PER_ADDRESS. */
  addr: string;
  /** How far the initial state has gone. */
  feed: FeedState;
  /** The hub mark the page was rendered at: the initial state then holds only cards changed after it. */
  since?: string;
  /** AUTH_MODE=proxy: the socket's end of life (issue 15 #6). */
  expire?: ReturnType<typeof setTimeout>;
};

export interface LiveDeps {
  env: Env;
  config: ConfigFile;
  hub: StatusHub;
  metrics: Metrics;
  identify: Identify;
  /** Tells when credentials change, so sockets of a revoked token are closed (issue 15 #6). */
  authn: Authn;
  /** The permissions the app itself lacks, per service id. */
  unusable(): Map<string, string[]>;
  /** The TCP peer of a request. */
  peerOf(req: Request): string;
}

const AUDIENCES: [Audience, "allowed" | "denied"][] = [["may-restart", "allowed"], ["not-allowed", "denied"]];

/** What the live side keeps: open sockets, the shared plans and renderings, the per-address cap. */
function liveState(deps: LiveDeps) {
  const { config, unusable } = deps;
  const visible = (who: Identity) => config.services.filter((e) => mayView(config, e, who));
  return {
    deps,
    sockets: new Set<ServerWebSocket<WsData>>(),
    plans: makePlans({ services: config.services, visible, refused: (s, who) => !mayRestart(config, s, who) }),
    singles: new Set<Plan>(),
    rendered: makeRenderCache(),
    details: detailsCache(deps.hub),
    cap: makeConnectionCap(deps.env.websocketMaxPerAddress),
    card: (s: ServiceStatus | undefined, entry: ServiceKey, audience: Audience, oob: boolean) =>
      renderState(s, entry, refusalFor(audience, entry, unusable().get(serviceId(entry))), oob),
  };
}
type LiveState = ReturnType<typeof liveState>;

/** Feeds a socket its full state: message `i` from the shared render cache, in acknowledged windows. */
function feeder(st: LiveState): (ws: ServerWebSocket<WsData>) => void {
  const { hub, unusable, env } = st.deps;
  const piece = (ws: ServerWebSocket<WsData>, i: number): string | undefined => {
    const { plan, since } = ws.data;
    if (plan.mode === "details") return st.details.get(plan.services[0]!);
    if (i === plan.services.length) return staleBanner(hub.stale(), true);
    const s = plan.services[i]!;
    // A page rendered moments ago already shows every card: only those changed since go out.
    if (since && !hub.changedSince(s, since)) return undefined;
    const k = st.plans.keys(s);
    const cur = hub.current(s);
    if (plan.mode === "json") return cur ? st.rendered.get(k.json, cur, () => JSON.stringify(wireStatus(cur))) : undefined;
    if (plan.denied[i]) return st.rendered.get(k.html.denied, cur, () => st.card(cur, s, "not-allowed", true));
    const key = unusable().get(k.id)?.length ? k.html.unusable : k.html.allowed;
    return st.rendered.get(key, cur, () => st.card(cur, s, "may-restart", true));
  };
  // The page may have been open for a while (or the tab hidden): every open gets everything it does not show yet.
  return (ws) => void pump(ws, ws.data.feed, (i) => piece(ws, i), env.websocketBufferBytes);
}

/** Bun's websocket callbacks: subscribe and count on open, feed the state, bounded buffers, lifetimes. */
function socketHandler(st: LiveState, feed: (ws: ServerWebSocket<WsData>) => void): WebSocketHandler<WsData> {
  const { env } = st.deps;
  return {
    // Heartbeat: WATCH_INTERVAL paces pings; a peer silent for two intervals is closed as dead.
    idleTimeout: Math.min(960, Math.max(4, env.heartbeatSec * 2)),
    sendPings: true,
    // Clients have nothing to say: a tiny limit, and messages are ignored.
    maxPayloadLength: 1024,
    // A client that does not read is closed once this much waits for it, never buffered without bound.
    backpressureLimit: env.websocketBufferBytes,
    closeOnBackpressureLimit: true,
    open(ws) {
      st.sockets.add(ws);
      for (const t of ws.data.plan.topics) ws.subscribe(t);
      st.plans.opened(ws.data.plan);
      if (ws.data.plan.single) st.singles.add(ws.data.plan);
      // Behind a proxy a socket lives at most this long, so a reconnect passes its session check again (1001: htmx reconnects).
      if (env.auth.mode === "proxy") ws.data.expire = setTimeout(() => ws.close(1001, "session check due: reconnect"), env.auth.websocketLifetimeSec * 1000);
      // Outside the open handler, where sends would pile up in a userspace buffer first.
      setTimeout(() => ws.readyState === 1 && feed(ws), 0);
    },
    drain: feed,
    pong(ws, data) {
      if (acknowledged(ws.data.feed, String(data))) feed(ws);
    },
    message() {},
    close(ws) {
      st.sockets.delete(ws);
      clearTimeout(ws.data.expire);
      st.cap.release(ws.data.addr);
      st.plans.closed(ws.data.plan);
      if (ws.data.plan.sockets === 0) st.singles.delete(ws.data.plan);
    },
  };
}

/** Answers the upgrade request: a refusal, or undefined once the socket is upgraded. */
function upgrade(st: LiveState, req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }): Response | undefined {
  const { env, config } = st.deps;
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return json({ error: "bad-request", message: "this endpoint is a websocket: connect with Upgrade: websocket" }, 400);
  }
  const refusal = crossSiteRefusal(req, env.trustedOrigins);
  if (refusal) return json({ error: "forbidden", message: refusal }, 403);
  const who = st.deps.identify(req);
  if (who instanceof Response) return who;
  // A service the caller may not see answers exactly like one that is not configured.
  if (only && (only.unknown || !mayView(config, only, who))) return json({ error: "not-found", message: notListed(only.kind, only.namespace, only.name) }, 404);
  const addr = clientAddress(st.deps.peerOf(req), req.headers.get("x-forwarded-for"), env.trustedProxies);
  if (!st.cap.admit(addr)) return json({ error: "rate-limited", message: `too many open websockets from ${addr} (WEBSOCKET_MAX_PER_ADDRESS=${env.websocketMaxPerAddress})` }, 429);
  const plan = st.plans.planFor(stream, who, only);
  const total = stream === "details" ? 1 : plan.services.length + (stream === "html" ? 1 : 0);
  const data: WsData = { plan, identity: who, addr, feed: { next: 0, total }, since: markOf(req) };
  if (server.upgrade(req, { data })) return undefined;
  st.cap.release(addr);
  return json({ error: "bad-request", message: "websocket upgrade failed" }, 400);
}

/** Publishes every hub change to the sockets that watch it, rendered once per topic; closes sockets of revoked tokens. */
function publishFrom(st: LiveState, server: Server<WsData>): void {
  const { hub, metrics, authn } = st.deps;
  const publish = (topics: string[], render: () => string) => {
    let text: string | undefined;
    for (const t of topics) if (server.subscriberCount(t) > 0) server.publish(t, (text ??= render()));
  };
  hub.onStatus((s) => {
    const id = serviceId(s.service);
    // Sockets that see everything share "json:*" / "html:*" (the may-restart audience).
    publish([`json:${id}`, "json:*"], () => JSON.stringify(wireStatus(s)));
    for (const [audience, name] of AUDIENCES) publish(audience === "may-restart" ? [`html:${id}:${name}`, "html:*"] : [`html:${id}:${name}`], () => st.card(s, s.service, audience, true));
  });
  st.details.publishTo(server);
  hub.onConnection((stale) => {
    metrics.watchConnected.set(stale.length ? 0 : 1);
    server.publish("html:banner", staleBanner(stale, true));
  });
  // A revoked token's sockets are closed (1008: htmx does not reconnect).
  authn.onChange(() => {
    for (const ws of st.sockets) if (!authn.stillValid(ws.data.identity)) ws.close(1008, "credential revoked");
  });
}

/** `?since=` of the page's socket: a hub mark ("<run>.<count>"); anything else is ignored (the socket gets everything). */
function markOf(req: Request): string | undefined {
  const v = requestUrl(req).searchParams.get("since");
  return v && v.length <= 40 ? v : undefined;
}

/**
 * The details panels' renderings, one per service with an open panel, shared by all its sockets:
 * re-rendered when a watch event touched the service (published only when the text changed),
 * and at most DETAILS_MAX_AGE_MS old when a new panel opens (the page's script keeps "ago" current).
 */
const DETAILS_MAX_AGE_MS = 10_000;
function detailsCache(hub: StatusHub) {
  const last = new Map<string, { at: number; text: string }>();
  const render = (s: ServiceKey) => {
    const at = Date.now();
    const text = renderDetailsBody(hub.details(s), at);
    last.set(serviceId(s), { at, text });
    return text;
  };
  return {
    get(s: ServiceKey): string {
      const hit = last.get(serviceId(s));
      return hit && Date.now() - hit.at < DETAILS_MAX_AGE_MS ? hit.text : render(s);
    },
    publishTo(server: Server<WsData>): void {
      hub.onTouched((batch) => {
        for (const s of batch) {
          const id = serviceId(s);
          const topic = `details:${id}`;
          // No open panel: nothing kept for it.
          if (server.subscriberCount(topic) === 0) {
            last.delete(id);
            continue;
          }
          const before = last.get(id)?.text;
          const text = render(s);
          if (text !== before) server.publish(topic, text);
        }
      });
    },
  };
}

export function makeLive(deps: LiveDeps) {
  const st = liveState(deps);
  return {
    upgrade: (req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }) => upgrade(st, req, server, stream, only),
    websocket: socketHandler(st, feeder(st)),
    publishFrom: (server: Server<WsData>) => publishFrom(st, server),
    /** Sets restart_app_connected_status_watchers from the per-plan counts (summed only when read). */
    countWatchers: () => {
      for (const [s, n] of st.plans.watchers(st.singles)) deps.metrics.watchers.set({ kind: s.kind, namespace: s.namespace, name: s.name }, n);
    },
    /** Closes every socket (1001 on shutdown, so htmx reconnects to the next instance). */
    closeAll: (code: number, reason: string) => st.sockets.forEach((ws) => ws.close(code, reason)),
  };
}
