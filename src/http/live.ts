// The live side: websocket upgrade, topics per service and audience, the full state on every open, hub changes published to subscribers, and services added or removed at runtime.
//
// Memory stays bounded however many clients connect and however slowly they read (issue 15
// #17): sockets of the same viewer share one plan (wsplan.ts), the full state is rendered once
// per status and fed in acknowledged windows (wsfeed.ts), a client too far behind is closed,
// and each client address may hold only so many sockets. When the service set changes (a
// reload, a workload a selector starts or stops matching) the plans are rebuilt and every
// socket moves to its viewer's new plan (wsfollow.ts). A details panel's socket (issue 11) is
// one more socket under the same rules: admitted against the same cap, fed through the same
// acknowledged window, closed by the same backpressure limit; its rendering is shared per
// service; it is closed when its service leaves the set or its viewer may no longer see it.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Env } from "../config/env.ts";
import { notListed, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";
import type { Metrics } from "../metrics.ts";
import { type Audience, type Identity, mayRestart, mayView, refusalFor } from "../restart/identity.ts";
import type { StatusHub } from "../status/hub.ts";
import type { ServiceStatus } from "../status/model.ts";
import type { ServiceSet } from "../status/service-set.ts";
import type { Authn } from "./auth.ts";
import { clientAddress } from "./clientaddr.ts";
import type { Identify } from "./identify.ts";
import { configBanner, renderGroups, renderState, staleBanner, wireStatus } from "./render.ts";
import { renderDetailsBody } from "./render-details.ts";
import { requestUrl } from "./requrl.ts";
import { json } from "./respond.ts";
import { crossSiteRefusal } from "./security.ts";
import { acknowledged, type FeedState, makeConnectionCap, makeRenderCache, pump } from "./wsfeed.ts";
import { followChange } from "./wsfollow.ts";
import { makePlans, type Plan } from "./wsplan.ts";

/** The streams: the original's JSON messages, HTML fragments for the page, and one open details panel. */
export type Stream = "json" | "html" | "details";

export type WsData = {
  /** Shared by every socket of the same viewer: services, topics, audiences. */
  plan: Plan;
  identity: Identity;
  /** The client address counted against WEBSOCKET_MAX_PER_ADDRESS. */
  addr: string;
  /** How far the initial state (or, after a service-set change, the re-rendered page) has gone. */
  feed: FeedState;
  /** html, after the service set changed: the feed sends the whole card list (then the banners) instead of single cards. */
  regroup?: boolean;
  /** JSON, after the service set changed: what the feed sends instead of the plan's statuses (removals as text, services whose status to send). */
  queue?: (string | ServiceEntry)[];
  /** The hub mark the page was rendered at: the initial state then holds only cards changed after it. */
  since?: string;
  /** AUTH_MODE=proxy: the socket's end of life (issue 15 #6). */
  expire?: ReturnType<typeof setTimeout>;
  /** When the peer was last heard from (pong or message): the re-send tick reaps silent peers. */
  seen?: number;
};

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
  /** Tells when credentials change, so sockets of a revoked token are closed (issue 15 #6). */
  authn: Authn;
  /** The permissions the app itself lacks, per service id. */
  unusable(): Map<string, string[]>;
  /** The TCP peer of a request. */
  peerOf(req: Request): string;
  configProblem?: Notice;
}

const AUDIENCES: [Audience, "allowed" | "denied"][] = [["may-restart", "allowed"], ["not-allowed", "denied"]];

/** What the live side keeps: open sockets, the shared plans and renderings, the per-address cap. */
function liveState(deps: LiveDeps) {
  const { services: set, unusable } = deps;
  const visible = (who: Identity) => {
    const config = set.current();
    return config.services.filter((e) => mayView(config, e, who));
  };
  const card = (s: ServiceStatus | undefined, entry: ServiceKey, audience: Audience, oob: boolean) =>
    renderState(s, entry, refusalFor(audience, entry, unusable().get(serviceId(entry))), oob);
  return {
    deps,
    sockets: new Set<ServerWebSocket<WsData>>(),
    plans: makePlans({ services: () => set.current().services, visible, refused: (s, who) => !mayRestart(set.current(), s, who) }),
    /** Plans with open sockets (shared and single), for the watcher gauge. */
    open: new Set<Plan>(),
    rendered: makeRenderCache(),
    /** Bumped on every status change: a re-rendered card list is reused per plan until it moves. */
    epoch: { n: 0 },
    groups: new WeakMap<Plan, { epoch: number; text: string }>(),
    details: detailsCache(deps.hub),
    cap: makeConnectionCap(deps.env.websocketMaxPerAddress),
    card,
    banners: (oob: boolean) => staleBanner(deps.hub.stale(), oob) + (deps.configProblem ? configBanner(deps.configProblem.current(), oob) : ""),
  };
}
export type LiveState = ReturnType<typeof liveState>;

/** The whole card list of a plan (no out-of-band markers: it replaces the page's cards), rendered once per plan and status epoch. */
function groupsFor(st: LiveState, plan: Plan): string {
  const hit = st.groups.get(plan);
  if (hit && hit.epoch === st.epoch.n) return hit.text;
  const cards = plan.services.map((s, i) => {
    const status = st.deps.hub.current(s);
    const audience: Audience = plan.denied[i] ? "not-allowed" : "may-restart";
    return { key: s, status, refusal: refusalFor(audience, s, st.deps.unusable().get(serviceId(s))) };
  });
  const text = renderGroups(cards);
  st.groups.set(plan, { epoch: st.epoch.n, text });
  return text;
}

/** Feeds a socket its full state: message `i` from the shared render cache, in acknowledged windows. */
function feeder(st: LiveState): (ws: ServerWebSocket<WsData>) => void {
  const { hub, unusable, env } = st.deps;
  const piece = (ws: ServerWebSocket<WsData>, i: number): string | undefined => {
    const { plan, since } = ws.data;
    if (plan.mode === "details") return i === 0 ? st.details.get(plan.services[0]!) : undefined;
    if (ws.data.regroup) {
      if (i === 0) return groupsFor(st, plan);
      ws.data.regroup = false;
      return st.banners(true);
    }
    if (plan.mode === "html" && i === plan.services.length) return st.banners(true);
    const item = (ws.data.queue ?? plan.services)[i];
    if (item === undefined || typeof item === "string") return item;
    const s = item;
    // A page rendered moments ago already shows every card: only those changed since go out.
    if (since && !ws.data.queue && !hub.changedSince(s, since)) return undefined;
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
      ws.data.seen = Date.now();
      st.sockets.add(ws);
      st.deps.metrics.watchers.inc();
      for (const t of ws.data.plan.topics) ws.subscribe(t);
      st.plans.opened(ws.data.plan);
      st.open.add(ws.data.plan);
      // Behind a proxy a socket lives at most this long, so a reconnect passes its session check again (1001: htmx reconnects).
      if (env.auth.mode === "proxy") ws.data.expire = setTimeout(() => ws.close(1001, "session check due: reconnect"), env.auth.websocketLifetimeSec * 1000);
      // Outside the open handler, where sends would pile up in a userspace buffer first.
      setTimeout(() => ws.readyState === 1 && feed(ws), 0);
    },
    drain: feed,
    pong(ws, data) {
      ws.data.seen = Date.now();
      if (acknowledged(ws.data.feed, String(data))) feed(ws);
    },
    message(ws) {
      ws.data.seen = Date.now();
    },
    close(ws) {
      st.sockets.delete(ws);
      st.deps.metrics.watchers.dec();
      clearTimeout(ws.data.expire);
      st.cap.release(ws.data.addr);
      st.plans.closed(ws.data.plan);
      if (ws.data.plan.sockets === 0) st.open.delete(ws.data.plan);
    },
  };
}

/** Answers the upgrade request: a refusal, or undefined once the socket is upgraded. */
function upgrade(st: LiveState, req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }): Response | undefined {
  const { env } = st.deps;
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return json({ error: "bad-request", message: "this endpoint is a websocket: connect with Upgrade: websocket" }, 400);
  }
  const refusal = crossSiteRefusal(req, env.trustedOrigins);
  if (refusal) return json({ error: "forbidden", message: refusal }, 403);
  const who = st.deps.identify(req);
  if (who instanceof Response) return who;
  // A service the caller may not see answers exactly like one that is not configured.
  if (only && (only.unknown || !mayView(st.deps.services.current(), only, who))) return json({ error: "not-found", message: notListed(only.kind, only.namespace, only.name) }, 404);
  const addr = clientAddress(st.deps.peerOf(req), req.headers.get("x-forwarded-for"), env.trustedProxies);
  if (!st.cap.admit(addr)) return json({ error: "rate-limited", message: `too many open websockets from ${addr} (WEBSOCKET_MAX_PER_ADDRESS=${env.websocketMaxPerAddress})` }, 429);
  const plan = st.plans.planFor(stream, who, only);
  const total = stream === "details" ? 1 : plan.services.length + (stream === "html" ? 1 : 0);
  const data: WsData = { plan, identity: who, addr, feed: { next: 0, total }, since: markOf(req) };
  if (server.upgrade(req, { data })) return undefined;
  st.cap.release(addr);
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
 * that checks its deadline between messages): the JSON stream keeps doing so; the page's stays
 * change-only. A re-send goes to the shared topics like a change does, rendered once per status
 * (render cache), so it costs no per-socket buffer; a reader too slow for it meets the backpressure limit.
 */
function resendEvery(st: LiveState, server: Server<WsData>): ReturnType<typeof setInterval> | undefined {
  const { env, hub, services: set } = st.deps;
  const sec = env.statusResendSec;
  if (sec <= 0) return undefined;
  const t = setInterval(() => {
    reapSilent(st.sockets, sec);
    const all = server.subscriberCount("json:*") > 0;
    // The current service set: after a reload or a selector change the re-send follows the new plans' topics.
    for (const s of set.current().services) {
      const k = st.plans.keys(s);
      const cur = hub.current(s);
      if (!cur || !(all || server.subscriberCount(k.json) > 0)) continue;
      const text = st.rendered.get(k.json, cur, () => JSON.stringify(wireStatus(cur)));
      if (all) server.publish("json:*", text);
      if (server.subscriberCount(k.json) > 0) server.publish(k.json, text);
    }
  }, sec * 1000);
  t.unref();
  return t;
}

/** Publishes every hub change to the sockets that watch it, rendered once per topic; closes sockets of revoked tokens; follows the service set. */
function publishFrom(st: LiveState, server: Server<WsData>, feed: (ws: ServerWebSocket<WsData>) => void): (s: ServiceStatus, cardsOnly?: boolean) => void {
  const { hub, authn, services: set, configProblem } = st.deps;
  const publish = (topics: string[], render: () => string) => {
    let text: string | undefined;
    for (const t of topics) if (server.subscriberCount(t) > 0) server.publish(t, (text ??= render()));
  };
  const onStatus = (s: ServiceStatus, cardsOnly = false) => {
    st.epoch.n++;
    const id = serviceId(s.service);
    // Sockets that see everything share "json:*" / "html:*" (the may-restart audience).
    if (!cardsOnly) publish([`json:${id}`, "json:*"], () => JSON.stringify(wireStatus(s)));
    for (const [audience, name] of AUDIENCES) publish(audience === "may-restart" ? [`html:${id}:${name}`, "html:*"] : [`html:${id}:${name}`], () => st.card(s, s.service, audience, true));
  };
  hub.onStatus(onStatus);
  st.details.publishTo(server);
  hub.onConnection((stale) => {
    server.publish("html:banner", staleBanner(stale, true));
  });
  configProblem?.onChange((text) => server.publish("html:banner", configBanner(text, true)));
  set.onChange((c) => followChange(st, c, feed));
  // A revoked token's sockets are closed (1008: htmx does not reconnect).
  authn.onChange(() => {
    for (const ws of st.sockets) if (!authn.stillValid(ws.data.identity)) ws.close(1008, "credential revoked");
  });
  return onStatus;
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
  const feed = feeder(st);
  let publishStatus: ((s: ServiceStatus, cardsOnly?: boolean) => void) | undefined;
  let resend: ReturnType<typeof setInterval> | undefined;
  return {
    upgrade: (req: Request, server: Server<WsData>, stream: Stream, only?: ServiceEntry & { unknown?: true }) => upgrade(st, req, server, stream, only),
    websocket: socketHandler(st, feed),
    publishFrom: (server: Server<WsData>) => {
      publishStatus = publishFrom(st, server, feed);
      resend = resendEvery(st, server);
    },
    /** The app's own rights changed (issue 15 #9): every card is rendered and pushed again. */
    refreshCards: () => {
      st.rendered.clear();
      for (const s of deps.hub.all()) publishStatus?.(s, true);
    },
    /** Sets restart_app_service_status_watchers from the per-plan counts (summed only when read). */
    countWatchers: () => {
      for (const [s, n] of st.plans.watchers(st.open)) deps.metrics.serviceWatchers.set({ kind: s.kind, namespace: s.namespace, name: s.name }, n);
    },
    /** Closes every socket (1001 on shutdown, so htmx reconnects to the next instance). */
    closeAll: (code: number, reason: string) => (clearInterval(resend), st.sockets.forEach((ws) => ws.close(code, reason))),
  };
}
