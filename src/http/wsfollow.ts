// Open websockets following a change of the service set: plans rebuilt, each socket moved to its viewer's new plan, told what came and went.
//
// Work is done once per (old plan → new plan) move, not per socket: sockets of the same viewer
// share both, so 10,000 sockets of one viewer cost one diff and one set of messages. What a
// socket is sent goes through its acknowledged feed (wsfeed.ts) like the initial state, so a
// change never buffers more for a slow reader than the first open did: a JSON socket gets a
// removal for each service it lost and a status for each it gained; a page gets its whole card
// list re-rendered once (a message without out-of-band markers replaces the cards), then the banners.
import { type ConfigFile, type ServiceEntry, serviceId } from "../config/file.ts";
import { type Identity, mayView } from "../restart/identity.ts";
import type { ServiceChange, ServiceSet } from "../status/service-set.ts";
import { wireRemoval } from "./render.ts";
import type { FeedState } from "./wsfeed.ts";
import type { makePlans, Plan } from "./wsplan.ts";

/** The slice of a Bun websocket (and its data) following needs. */
export interface FollowSocket {
  data: {
    plan: Plan;
    identity: Identity;
    feed: FeedState;
    regroup?: boolean;
    /** JSON, after a change: what to feed (removal messages as text, services whose status to send). */
    queue?: (string | ServiceEntry)[];
  };
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  send(msg: string): number;
  close(code?: number, reason?: string): void;
}

export interface FollowState<W extends FollowSocket> {
  sockets: Set<W>;
  plans: ReturnType<typeof makePlans>;
  open: Set<Plan>;
  rendered: { clear(): void };
  deps: { services: ServiceSet };
}

interface Move {
  to: Plan;
  /** Whether the socket must be told anything (JSON: services came or went; html: the cards differ). */
  tell: boolean;
  queue: (string | ServiceEntry)[];
  /** JSON, for a socket still being fed its initial state: the removals, then every status of the new plan. */
  restart: (string | ServiceEntry)[];
  unsubscribe: string[];
  subscribe: string[];
}

function moveOf(from: Plan, to: Plan, c: ServiceChange): Move {
  const before = new Map(from.services.map((s, i) => [serviceId(s), i]));
  const after = new Map(to.services.map((s, i) => [serviceId(s), i]));
  const left = from.services.filter((s) => !after.has(serviceId(s)));
  const joined = to.services.filter((s) => !before.has(serviceId(s)));
  const removals = to.mode === "json" ? left.map((s) => JSON.stringify(wireRemoval(s))) : [];
  const changed = new Set(c.changed.map(serviceId));
  // The page shows who may restart what: a changed entry, or a different refusal, means new cards.
  const redraw = [...after].some(([id, i]) => changed.has(id) || (before.has(id) && from.denied[before.get(id)!] !== to.denied[i]));
  const oldTopics = new Set(from.topics);
  const newTopics = new Set(to.topics);
  return {
    to,
    tell: left.length > 0 || joined.length > 0 || (to.mode === "html" && redraw),
    queue: to.mode === "json" ? [...removals, ...joined] : [],
    restart: to.mode === "json" ? [...removals, ...to.services] : [],
    unsubscribe: from.topics.filter((t) => !newTopics.has(t)),
    subscribe: to.topics.filter((t) => !oldTopics.has(t)),
  };
}

/**
 * One service's own stream, or its details panel (issue 11): closed once the service is gone or
 * hidden from its viewer; a JSON stream is told first (a removal message), HTML ones are not.
 */
function followSingle(ws: FollowSocket, c: ServiceChange, config: ConfigFile): void {
  const s = ws.data.plan.services[0]!;
  const id = serviceId(s);
  const hidden = c.changed.some((e) => serviceId(e) === id && !mayView(config, e, ws.data.identity));
  if (!hidden && !c.removed.some((e) => serviceId(e) === id)) return;
  if (ws.data.plan.mode === "json") ws.send(JSON.stringify(wireRemoval(s)));
  ws.close(1000, "service removed from the list");
}

function moveSocket<W extends FollowSocket>(f: FollowState<W>, ws: W, m: Move, feed: (ws: W) => void): void {
  const from = ws.data.plan;
  f.plans.closed(from);
  if (from.sockets === 0) f.open.delete(from);
  ws.data.plan = m.to;
  f.plans.opened(m.to);
  f.open.add(m.to);
  for (const t of m.unsubscribe) ws.unsubscribe(t);
  for (const t of m.subscribe) ws.subscribe(t);
  const { feed: state } = ws.data;
  // A socket still being fed its initial state waits for a drain or a pong that resumes it.
  const busy = state.next < state.total;
  if (m.to.mode === "json") {
    // Mid-way, the initial state restarts on the new plan (after the removals); else only the news.
    if (!m.tell && !busy) return;
    ws.data.queue = busy ? m.restart : m.queue;
    ws.data.feed = { next: 0, total: ws.data.queue.length, unacked: state.unacked };
  } else {
    if (!m.tell && !busy) return;
    ws.data.regroup = true;
    ws.data.feed = { next: 0, total: 2, unacked: state.unacked };
  }
  if (!busy) feed(ws);
}

/** Every open socket after the service set changed (the plans are rebuilt for the new set first). */
export function followChange<W extends FollowSocket>(f: FollowState<W>, c: ServiceChange, feed: (ws: W) => void): void {
  const config = f.deps.services.current();
  f.plans.rebuild();
  f.rendered.clear();
  const moves = new Map<Plan, Move>();
  for (const ws of [...f.sockets]) {
    const from = ws.data.plan;
    if (from.single) {
      followSingle(ws, c, config);
      continue;
    }
    let m = moves.get(from);
    if (!m) moves.set(from, (m = moveOf(from, f.plans.planFor(from.mode, ws.data.identity), c)));
    moveSocket(f, ws, m, feed);
  }
}
