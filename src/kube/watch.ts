// List+watch cache for one (resource, namespace): the app's only view of cluster state.
//
// client-node's informer stops for good on any watch error other than 410/timeout; this cache
// owns its restart instead: a failed list or watch is retried with capped exponential backoff,
// only a 410 Gone relists, and an ended (or dead) stream resumes from the last seen resourceVersion.
//
// A connection can also die silently (a NAT or proxy dropping it without a reset): nothing
// arrives and nothing fails. Watches ask for bookmarks and a server-side timeout shorter than
// IDLE_LIMIT_MS, so a healthy one always hears an event, a bookmark or its end within it; one
// that hears nothing for longer is treated as dead.
import type { KubeClient } from "./api.ts";
import { KubeError, kubeErrorFrom } from "./api.ts";
import type { KubeObject, ObjectList, WatchEvent } from "./types.ts";

export type ChangeType = "add" | "update" | "delete";
/** `prev` is the object as it was before an update (absent for adds and deletes). */
export type ChangeHandler<T> = (type: ChangeType, obj: T, prev?: T) => void;

export interface WatchCacheOptions {
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
}

/** Silence after which a watch is dead: a silent drop shows as disconnected within this (plus reconnecting). */
export const IDLE_LIMIT_MS = 60_000;
/** The server ends each watch after 40–50 s, well inside IDLE_LIMIT_MS. */
const serverTimeoutSec = () => 40 + Math.floor(Math.random() * 10);

export const defaultBackoff = (n: number) => Math.min(30_000, 500 * 2 ** n) * (0.8 + Math.random() * 0.4);

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

/**
 * What the cache keeps of an object: all of it but `metadata.managedFields` (server-side apply's
 * bookkeeping, often half an object's size and most of its nested objects), which nothing in the
 * app reads. A Lease written back from the cache without it keeps its managedFields on the
 * server: an update that omits the field leaves it unchanged.
 */
function kept<T extends KubeObject>(o: T): T {
  const m = o.metadata as { managedFields?: unknown } | undefined;
  if (m?.managedFields) delete m.managedFields;
  return o;
}

class Gone extends Error {}

export class WatchCache<T extends KubeObject> {
  private items = new Map<string, T>();
  private handlers: ChangeHandler<T>[] = [];
  private stateHandlers: ((connected: boolean) => void)[] = [];
  private abort = new AbortController();
  private resourceVersion = "";
  private attempt = 0;
  private syncedOnce!: Promise<void>;
  private markSynced!: () => void;
  synced = false;
  connected = false;
  lastError = "";
  /** The API server answered 403 to the last list or watch: the app may not watch this. */
  forbidden = false;
  private forbiddenHandlers: (() => void)[] = [];

  constructor(
    private client: KubeClient,
    readonly opts: WatchCacheOptions,
  ) {
    this.syncedOnce = new Promise((r) => (this.markSynced = r));
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
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const t0 = Date.now();
        const events = await this.watchOnce();
        // A watch that ends at once with nothing in it (a proxy cutting streams, say) must not
        // turn into a tight reconnect loop: back off as for an error until one lasts or delivers.
        if (events === 0 && Date.now() - t0 < 1000) await Bun.sleep(backoff(this.attempt++));
        else this.attempt = 0;
      } catch (e) {
        if (this.abort.signal.aborted) return;
        if (e instanceof Gone) {
          log("watch expired (410 Gone), relisting", { path: this.opts.path });
          needList = true;
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
        // Resume from the last resourceVersion; only 410 Gone (or no list yet) needs a relist.
        needList = needList || !this.synced;
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
      for (const it of page.items) fresh.set(keyOf(it), kept(it));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    const old = this.items;
    this.items = fresh;
    this.resourceVersion = rv;
    for (const [k, o] of old) if (!fresh.has(k)) this.emit("delete", o);
    for (const [k, o] of fresh) {
      const prev = old.get(k);
      if (!prev) this.emit("add", o);
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit("update", o, prev);
    }
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
    try {
      const res = await this.client.stream({
        path: this.opts.path,
        query: {
          watch: 1,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          labelSelector: this.opts.labelSelector,
          timeoutSeconds: this.opts.watchTimeoutSec ?? serverTimeoutSec(),
        },
        signal: ctl.signal,
      });
      if (res.status === 410) throw new Gone();
      if (!res.ok) throw await kubeErrorFrom(res, `watch ${this.opts.path}`);
      this.setConnected(true);
      arm();
      return await this.readEvents(res, arm);
    } catch (e) {
      if (dead) throw new Error(`watch ${this.opts.path}: nothing heard for ${idleLimit / 1000}s (no event, bookmark or close): connection presumed dead`);
      throw e;
    } finally {
      clearTimeout(idle);
      this.abort.signal.removeEventListener("abort", onStop);
      ctl.abort();
    }
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
    if (rv) this.resourceVersion = rv;
    if (ev.type === "BOOKMARK") return;
    kept(ev.object);
    const k = keyOf(ev.object);
    if (ev.type === "DELETED") {
      this.items.delete(k);
      this.emit("delete", ev.object);
      return;
    }
    const prev = this.items.get(k);
    // Drop no-op updates (same resourceVersion), as sample-controller does.
    if (prev && prev.metadata?.resourceVersion === rv) return;
    this.items.set(k, ev.object);
    this.emit(prev ? "update" : "add", ev.object, prev);
  }
}
