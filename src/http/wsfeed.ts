// Websocket memory bounds: the full state fed in windows the client must acknowledge, rendered once and shared, and a per-address connection cap.
//
// A client that never reads must not make the app hold the whole page state for it (≈ 330 KB
// at 300 services), neither in the process nor in the kernel's socket buffers. So the state is
// sent at most `window` bytes ahead of what the client has provably read: after each window a
// ping goes out behind the data, and only its pong (which the client can send only after reading
// everything before it; browsers answer pings by themselves) releases the next window. A send
// the kernel does not take waits for `drain`. Feeding starts outside the open handler, where
// sends would be collected in a userspace buffer first. Each rendering is cached per status
// version and shared by every socket; a socket holds only its position.

/** The slice of Bun's ServerWebSocket the feed needs (a fake in unit tests). */
export interface FeedSocket {
  /** Bytes sent (> 0), -1 when queued in the process (backpressure), 0 when dropped. */
  send(msg: string): number;
  ping(data?: string): number;
  close(code?: number, reason?: string): void;
}

export interface FeedState {
  /** How many of the initial messages have been handed over so far. */
  next: number;
  /** Total number of initial messages for this socket. */
  total: number;
  /** Bytes sent since the client last proved (pong) it had read everything before. */
  unacked?: number;
}

/** The ping payload that marks the end of a window. */
export const FEED_PING = "feed";

/**
 * Hands the socket initial message after message (`piece(i)` renders, or fetches from the
 * cache, message i) until one is queued instead of sent: then the caller waits for `drain` and
 * calls again. Returns true when everything has been handed over.
 */
export function pump(ws: FeedSocket, state: FeedState, piece: (i: number) => string | undefined, window = Infinity): boolean {
  while (state.next < state.total) {
    if ((state.unacked ?? 0) >= window) {
      // Wait for the client to read this window: its pong calls `acknowledged`.
      ws.ping(FEED_PING);
      return false;
    }
    const msg = piece(state.next++);
    if (msg === undefined || msg === "") continue;
    state.unacked = (state.unacked ?? 0) + msg.length;
    const r = ws.send(msg);
    if (r === 0) {
      // Dropped: the socket is over its backpressure limit. A reader that slow is closed, not buffered for.
      ws.close(1008, "client too slow: send buffer limit reached");
      return false;
    }
    if (r < 0) return state.next >= state.total;
  }
  return true;
}

/** A pong arrived: if it answers a window's ping, the next window may go. */
export function acknowledged(state: FeedState, pongData: string): boolean {
  if (pongData !== FEED_PING) return false;
  state.unacked = 0;
  return true;
}

/**
 * Renderings keyed by what they depend on (service, audience), reused while the service's
 * status is unchanged: 10,000 sockets opening on an unchanged page cost one rendering per key.
 */
export function makeRenderCache() {
  const cache = new Map<string, { version: unknown; text: string }>();
  return {
    /** The cached text for `key` if it was rendered from `version` (compared by identity), else renders and stores it. */
    get(key: string, version: unknown, render: () => string): string {
      const hit = cache.get(key);
      if (hit && hit.version === version) return hit.text;
      const text = render();
      cache.set(key, { version, text });
      return text;
    },
    size: () => cache.size,
    clear: () => cache.clear(),
  };
}

/** Open websockets per client address, refused past `max` (0 = no cap). */
export function makeConnectionCap(max: number) {
  const open = new Map<string, number>();
  return {
    /** Counts a new connection from `addr`; false (and nothing counted) when it would exceed the cap. */
    admit(addr: string): boolean {
      const n = open.get(addr) ?? 0;
      if (max > 0 && n >= max) return false;
      open.set(addr, n + 1);
      return true;
    },
    release(addr: string): void {
      const n = (open.get(addr) ?? 0) - 1;
      if (n > 0) open.set(addr, n);
      else open.delete(addr);
    },
    count: (addr: string) => open.get(addr) ?? 0,
  };
}

/**
 * The topics a socket subscribes to. A socket that sees every service, all of them with the same
 * audience, subscribes to one shared topic instead of one per service: 10,000 such sockets at
 * 300 services are 10,000 subscriptions, not 3,000,000.
 */
export function topicsFor(mode: "json" | "html", ids: string[], totalServices: number, audience: (id: string) => "allowed" | "denied"): string[] {
  const shared = ids.length === totalServices && (mode === "json" || ids.every((id) => audience(id) === "allowed"));
  const topics = shared ? [`${mode}:*`] : ids.map((id) => (mode === "json" ? `json:${id}` : `html:${id}:${audience(id)}`));
  if (mode === "html") topics.push("html:banner");
  return topics;
}
