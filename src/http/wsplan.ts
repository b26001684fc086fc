// What a status websocket receives, computed once per kind of viewer and shared by all their sockets.
//
// At 300 services, working out per socket which services it sees, which topics it joins and how
// each is rendered costs hundreds of objects and strings; 10,000 sockets opening at once turned
// that into hundreds of MiB of garbage. Sockets of the same viewer (mode, user, groups) share one
// plan; the per-service websocket-client counts are kept per plan and summed only when scraped.
import { type ServiceEntry, serviceId } from "../config/file.ts";
import type { Identity } from "../restart/identity.ts";
import { topicsFor } from "./wsfeed.ts";

export interface Plan {
  /** "details": one service's open details panel (issue 11); not a status watcher. */
  mode: "json" | "html" | "details";
  services: ServiceEntry[];
  topics: string[];
  /** Per service: refused to this viewer (mayRestart says no). */
  denied: boolean[];
  /** Open sockets using this plan. */
  sockets: number;
  /** One service's own stream: not shared, not kept in the plan cache. */
  single: boolean;
}

/** Cache keys per service, made once: rendering looks them up instead of building strings per socket. */
export interface PieceKeys {
  id: string;
  json: string;
  html: { allowed: string; denied: string; unusable: string };
}

const keysOf = (s: ServiceEntry): PieceKeys => {
  const id = serviceId(s);
  return { id, json: `json:${id}`, html: { allowed: `html:${id}:allowed`, denied: `html:${id}:denied`, unusable: `html:${id}:unusable` } };
};

/** One service's details panel (issue 11): its own topic, never shared, not a status watcher. */
function detailsPlan(only: ServiceEntry | undefined, keyFor: (s: ServiceEntry) => PieceKeys): Plan {
  if (!only) throw new Error("a details socket is for one service");
  return { mode: "details", services: [only], topics: [`details:${keyFor(only).id}`], denied: [false], sockets: 0, single: true };
}

/** Websocket clients per service, for the restart_app_service_status_watchers gauge (0 for services once watched). */
function countWatchers(everWatched: Map<string, ServiceEntry>, open: Iterable<Plan>, keyFor: (s: ServiceEntry) => PieceKeys): Map<ServiceEntry, number> {
  const counts = new Map<string, number>();
  for (const id of everWatched.keys()) counts.set(id, 0);
  for (const p of open) {
    // A details panel is not a status watcher (the card beside it already counts).
    if (p.sockets > 0 && p.mode !== "details") for (const s of p.services) counts.set(keyFor(s).id, (counts.get(keyFor(s).id) ?? 0) + p.sockets);
  }
  return new Map([...counts].map(([id, n]) => [everWatched.get(id)!, n]));
}

/**
 * `services()` is the current service set. When it changes, `rebuild()` forgets every plan (sockets
 * keep theirs until they are moved: `planFor` again, `closed(old)`, `opened(new)`), so the cache
 * only ever holds plans for the current set.
 */
export function makePlans(o: {
  services(): ServiceEntry[];
  visible(who: Identity): ServiceEntry[];
  refused(s: ServiceEntry, who: Identity): boolean;
}) {
  const plans = new Map<string, Plan>();
  const keys = new Map<ServiceEntry, PieceKeys>();
  let total = 0;
  const rebuild = () => {
    plans.clear();
    keys.clear();
    const all = o.services();
    total = all.length;
    for (const s of all) keys.set(s, keysOf(s));
  };
  rebuild();
  /** Services that ever had a websocket client, by id: their gauge goes to 0, not away, when none is left. */
  const everWatched = new Map<string, ServiceEntry>();
  const keyFor = (s: ServiceEntry) => keys.get(s) ?? keysOf(s);
  const build = (mode: "json" | "html", services: ServiceEntry[], who: Identity, single: boolean): Plan => {
    const denied = services.map((s) => o.refused(s, who));
    const ids = services.map((s) => keyFor(s).id);
    const byId = new Map(ids.map((id, i) => [id, i]));
    const topics = topicsFor(mode, ids, single ? -1 : total, (id) => (denied[byId.get(id)!] ? "denied" : "allowed"));
    return { mode, services, topics, denied, sockets: 0, single };
  };
  return {
    keys: keyFor,
    rebuild,
    /** The plan for this viewer; `only` (one service's own stream, or its details) is not shared. */
    planFor(mode: "json" | "html" | "details", who: Identity, only?: ServiceEntry): Plan {
      if (mode === "details") return detailsPlan(only, keyFor);
      if (only) return build(mode, [only], who, true);
      const key = `${mode}\u0000${who.user}\u0000${who.groups.join("\u0001")}`;
      let p = plans.get(key);
      if (!p) {
        // Bounded: past this many distinct viewers, forget the idle plans.
        if (plans.size >= 10_000) for (const [k, v] of plans) if (v.sockets === 0) plans.delete(k);
        p = build(mode, o.visible(who), who, false);
        plans.set(key, p);
      }
      return p;
    },
    opened(p: Plan): void {
      p.sockets++;
      if (p.mode !== "details") for (const s of p.services) everWatched.set(keyFor(s).id, s);
    },
    closed(p: Plan): void {
      p.sockets--;
    },
    /** Websocket clients per service, for the restart_app_service_status_watchers gauge. */
    watchers: (open: Iterable<Plan>) => countWatchers(everWatched, open, keyFor),
  };
}
