// Watch cache for one (resource, namespace): the app's only view of cluster state.
//
// One request fills it and keeps it current: a watch that asks the API server to send the current
// state first (sendInitialEvents, "streaming lists"), marked complete by a bookmark, then carries
// on with changes on the same connection. A server that refuses that (older than Kubernetes 1.27,
// or with the WatchList feature off) gets the classic list (paged) + watch instead, for good.
//
// client-node's informer stops for good on any watch error other than 410/timeout; this cache
// owns its restart instead: a failed watch is retried with capped exponential backoff, only a
// 410 Gone fetches the whole state again, and an ended (or dead) stream resumes from the last
// seen resourceVersion.
//
// A connection can also die silently (a NAT or proxy dropping it without a reset): nothing
// arrives and nothing fails. Watches ask for bookmarks and a server-side timeout shorter than
// IDLE_LIMIT_MS, so a healthy one always hears an event, a bookmark or its end within it; one
// that hears nothing for longer is treated as dead.
import type { KubeClient } from "./api.ts";
import { KubeError, kubeErrorFrom } from "./api.ts";
import type { KubeObject, ObjectList, WatchEvent } from "./types.ts";
import { withoutManagedFields } from "./trim.ts";

export type ChangeType = "add" | "update" | "delete";
/** `prev` is the object as it was before an update (absent for adds and deletes). */
export type ChangeHandler<T> = (type: ChangeType, obj: T, prev?: T) => void;

export interface WatchCacheOptions<T extends KubeObject = KubeObject> {
  /** Collection path, e.g. /apis/apps/v1/namespaces/shop/deployments */
  path: string;
  labelSelector?: string;
  /** Delay before retry n (0-based); injectable for tests. */
  backoff?: (attempt: number) => number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** Server-side watch timeout; the cache resumes after it. Must stay below the idle limit. */
  watchTimeoutSec?: number;
  /** A watch that hears nothing (no byte) for this long is dead. */
  idleLimitMs?: number;
  /** Fill the cache from the watch itself (one request) rather than list + watch; default true. */
  initialEvents?: boolean;
  /** What the cache keeps of each object it stores (default: all but metadata.managedFields). */
  keep?: (o: T) => T;
  /** A watch asking for initial events that ends cleanly after this long without their closing bookmark came from a server that ignored the ask. */
  ignoredAfterMs?: number;
}

/** Silence after which a watch is dead: a silent drop shows as disconnected within this (plus reconnecting). */
export const IDLE_LIMIT_MS = 60_000;
/** The server ends each watch after 40–50 s, well inside IDLE_LIMIT_MS. */
const serverTimeoutSec = () => 40 + Math.floor(Math.random() * 10);

export const defaultBackoff = (n: number) => Math.min(30_000, 500 * 2 ** n) * (0.8 + Math.random() * 0.4);

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

class Gone extends Error {}
/** The server does not do streaming lists: use list + watch from now on. */
class NoInitialEvents extends Error {}

/** The bookmark that ends a watch's initial events (Kubernetes' WatchList). */
export const INITIAL_EVENTS_END = "k8s.io/initial-events-end";
/** A watch that ends cleanly after this long without its initial-events bookmark was not a streaming list. */
const IGNORED_AFTER_MS = 10_000;

export class WatchCache<T extends KubeObject> {
  private items = new Map<string, T>();
  private handlers: ChangeHandler<T>[] = [];
  private stateHandlers: ((connected: boolean) => void)[] = [];
  private abort = new AbortController();
  private resourceVersion = "";
  private attempt = 0;
  /** The whole state must be fetched (first start, or after 410 Gone). */
  private needState = true;
  private streaming: boolean;
  /** Objects of a streaming list in progress, adopted at its closing bookmark. */
  private pending: Map<string, T> | undefined;
  private readonly keep: (o: T) => T;
  private syncedOnce!: Promise<void>;
  private markSynced!: () => void;
  synced = false;
  connected = false;
  lastError = "";
  /** The API server answered 403 to the last list or watch: the app may not watch this. */
  forbidden = false;
  private forbiddenHandlers: (() => void)[] = [];

  /**
   * The connection is gone: not merely not there yet (not started, or on its first request — "not
   * synced yet" says that), and not refused with 403 (its services show as not watchable).
   */
  get lost(): boolean {
    return !this.connected && !this.forbidden && (this.synced || this.lastError !== "");
  }

  constructor(
    private client: KubeClient,
    readonly opts: WatchCacheOptions<T>,
  ) {
    this.syncedOnce = new Promise((r) => (this.markSynced = r));
    this.streaming = opts.initialEvents ?? true;
    this.keep = opts.keep ?? withoutManagedFields;
  }

  onChange(h: ChangeHandler<T>): void {
    this.handlers.push(h);
  }
  onConnection(h: (connected: boolean) => void): void {
    this.stateHandlers.push(h);
  }
  /** Called each time a list or watch is answered 403 (rights lost or never granted). */
  onForbidden(h: () => void): void {
    this.forbiddenHandlers.push(h);
  }

  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }
  list(): T[] {
    return [...this.items.values()];
  }

  /** Starts the loop; resolves once the first list has been stored. */
  start(): Promise<void> {
    void this.loop();
    return this.syncedOnce;
  }

  stop(): void {
    this.abort.abort();
  }

  private setConnected(c: boolean, err = ""): void {
    this.lastError = err;
    if (c) this.forbidden = false;
    if (c === this.connected) return;
    this.connected = c;
    for (const h of this.stateHandlers) h(c);
  }

  private emit(type: ChangeType, obj: T, prev?: T): void {
    for (const h of this.handlers) h(type, obj, prev);
  }

  private async loop(): Promise<void> {
    const log = this.opts.log ?? (() => {});
    const backoff = this.opts.backoff ?? defaultBackoff;
    while (!this.abort.signal.aborted) {
      try {
        if (this.needState && !this.streaming) await this.relist();
        const t0 = Date.now();
        const events = await this.watchOnce();
        // A watch that ends at once with nothing in it (a proxy cutting streams, say) must not
        // turn into a tight reconnect loop: back off as for an error until one lasts or delivers.
        if (events === 0 && Date.now() - t0 < 1000) await Bun.sleep(backoff(this.attempt++));
        else this.attempt = 0;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (e instanceof Gone) {
          log("watch expired (410 Gone), fetching the whole state again", { path: this.opts.path });
          this.needState = true;
          continue;
        }
        if (e instanceof NoInitialEvents) {
          log("the API server does not stream initial events; using list + watch", { path: this.opts.path, reason: e.message });
          this.streaming = false;
          continue;
        }
        const msg = (e as Error).message;
        this.setConnected(false, msg);
        if (e instanceof KubeError && e.code === 403) {
          this.forbidden = true;
          // A cache the app may not fill must not hold start-up (or readiness) back forever:
          // it counts as settled, and its services are shown as not watchable.
          this.markSynced();
          for (const h of this.forbiddenHandlers) h();
        }
        const delay = backoff(this.attempt++);
        log("watch failed, retrying", { path: this.opts.path, error: msg, retryInMs: Math.round(delay) });
        // Resume from the last resourceVersion; only 410 Gone (or no state yet) fetches everything.
        await Bun.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.client.request<ObjectList<T>>(
        {
          path: this.opts.path,
          query: { labelSelector: this.opts.labelSelector, limit: 500, continue: cont },
          signal: this.abort.signal,
        },
        `list ${this.opts.path}`,
      );
      for (const it of page.items) fresh.set(keyOf(it), this.keep(it));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    this.adopt(fresh, rv);
  }

  /** The whole state as fetched: becomes the cache, differences are reported, the cache is synced. */
  private adopt(fresh: Map<string, T>, rv: string): void {
    const old = this.items;
    this.items = fresh;
    this.resourceVersion = rv;
    for (const [k, o] of old) if (!fresh.has(k)) this.emit("delete", o);
    for (const [k, o] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit("add", o);
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit("update", o, prev);
    }
    this.needState = false;
    this.setConnected(true);
    if (!this.synced) {
      this.synced = true;
      this.markSynced();
    }
  }

  /** Returns how many events the stream delivered before it ended. */
  private async watchOnce(): Promise<number> {
    // One controller per watch, linked to stop(): aborting it closes this stream's connection.
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    this.abort.signal.addEventListener("abort", onStop, { once: true });
    const idleLimit = this.opts.idleLimitMs ?? IDLE_LIMIT_MS;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let dead = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ((dead = true), ctl.abort()), idleLimit);
    };
    const initial = this.needState;
    const t0 = Date.now();
    try {
      const res = await this.client.stream({ path: this.opts.path, query: this.watchQuery(initial), signal: ctl.signal });
      if (res.status === 410) throw new Gone();
      if (!res.ok) {
        const err = await kubeErrorFrom(res, `watch ${this.opts.path}`);
        // 400/422: the server does not know (or allow) sendInitialEvents / resourceVersionMatch on a watch.
        if (initial && (res.status === 400 || res.status === 422)) throw new NoInitialEvents(err.message);
        throw err;
      }
      this.setConnected(true);
      arm();
      if (initial) this.pending = new Map();
      const events = await this.readEvents(res, arm);
      if (this.pending) {
        if (Date.now() - t0 >= (this.opts.ignoredAfterMs ?? IGNORED_AFTER_MS)) throw new NoInitialEvents(`a watch asking for initial events ended after ${events} events without the ${INITIAL_EVENTS_END} bookmark`);
        throw new Error(`watch ${this.opts.path}: ended before its initial events were complete`);
      }
      return events;
    } catch (e) {
      if (dead) throw new Error(`watch ${this.opts.path}: nothing heard for ${idleLimit / 1000}s (no event, bookmark or close): connection presumed dead`);
      throw e;
    } finally {
      this.pending = undefined;
      clearTimeout(idle);
      this.abort.signal.removeEventListener("abort", onStop);
      ctl.abort();
    }
  }

  private watchQuery(initial: boolean): Record<string, string | number | boolean | undefined> {
    const common = { watch: 1, allowWatchBookmarks: true, labelSelector: this.opts.labelSelector, timeoutSeconds: this.opts.watchTimeoutSec ?? serverTimeoutSec() };
    if (!initial || !this.streaming) return { ...common, resourceVersion: this.resourceVersion };
    // The current state (from the watch cache, at least as new as any state seen), then changes.
    return { ...common, sendInitialEvents: true, resourceVersionMatch: "NotOlderThan", resourceVersion: "" };
  }

  private async readEvents(res: Response, heard: () => void): Promise<number> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let events = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return events;
        heard();
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) {
            events++;
            this.apply(JSON.parse(line) as WatchEvent<T>);
          }
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === "ERROR") {
      const st = ev.object as unknown as { code?: number; reason?: string; message?: string };
      if (st.code === 410) throw new Gone();
      throw new KubeError(st.code ?? 0, st.reason ?? "Error", st.message ?? "error event", `watch ${this.opts.path}`);
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (this.pending) return this.collect(ev);
    if (rv) this.resourceVersion = rv;
    if (ev.type === "BOOKMARK") return;
    const k = keyOf(ev.object);
    if (ev.type === "DELETED") {
      this.items.delete(k);
      this.emit("delete", ev.object);
      return;
    }
    const prev = this.items.get(k);
    // Drop no-op updates (same resourceVersion), as sample-controller does.
    if (prev && prev.metadata?.resourceVersion === rv) return;
    const obj = this.keep(ev.object);
    this.items.set(k, obj);
    this.emit(prev ? "update" : "add", obj, prev);
  }

  /** During a streaming list: gather the state until the bookmark that closes it, then adopt it whole. */
  private collect(ev: WatchEvent<T>): void {
    const pending = this.pending!;
    const rv = ev.object.metadata?.resourceVersion ?? "";
    if (ev.type === "BOOKMARK") {
      const done = (ev.object.metadata as { annotations?: Record<string, string> } | undefined)?.annotations?.[INITIAL_EVENTS_END] === "true";
      if (!done) return;
      this.pending = undefined;
      this.adopt(pending, rv);
      return;
    }
    // Only ADDED is expected before the bookmark; anything else is applied to the state being gathered.
    if (ev.type === "DELETED") pending.delete(keyOf(ev.object));
    else pending.set(keyOf(ev.object), this.keep(ev.object));
  }
}
