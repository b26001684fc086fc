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

export function makePlans(o: {
  services: ServiceEntry[];
  visible(who: Identity): ServiceEntry[];
  refused(s: ServiceEntry, who: Identity): boolean;
}) {
  const plans = new Map<string, Plan>();
  const keys = new Map<ServiceEntry, PieceKeys>();
  for (const s of o.services) {
    const id = serviceId(s);
    keys.set(s, { id, json: `json:${id}`, html: { allowed: `html:${id}:allowed`, denied: `html:${id}:denied`, unusable: `html:${id}:unusable` } });
  }
  const everWatched = new Set<ServiceEntry>();
  const build = (mode: "json" | "html", services: ServiceEntry[], who: Identity, single: boolean): Plan => {
    const denied = services.map((s) => o.refused(s, who));
    const ids = services.map((s) => keys.get(s)?.id ?? serviceId(s));
    const byId = new Map(ids.map((id, i) => [id, i]));
    const topics = topicsFor(mode, ids, single ? -1 : o.services.length, (id) => (denied[byId.get(id)!] ? "denied" : "allowed"));
    return { mode, services, topics, denied, sockets: 0, single };
  };
  return {
    keys: (s: ServiceEntry) => keys.get(s)!,
    /** The plan for this viewer; `only` (one service's own stream, or its details) is not shared. */
    planFor(mode: "json" | "html" | "details", who: Identity, only?: ServiceEntry): Plan {
      if (mode === "details") {
        if (!only) throw new Error("a details socket is for one service");
        return { mode, services: [only], topics: [`details:${keys.get(only)?.id ?? serviceId(only)}`], denied: [false], sockets: 0, single: true };
      }
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
      if (p.mode !== "details") for (const s of p.services) everWatched.add(s);
    },
    closed(p: Plan): void {
      p.sockets--;
    },
    /** Websocket clients per service, for the restart_app_connected_status_watchers gauge. */
    watchers(singles: Iterable<Plan>): Map<ServiceEntry, number> {
      const out = new Map<ServiceEntry, number>();
      for (const s of everWatched) out.set(s, 0);
      for (const p of [...plans.values(), ...singles]) {
        // A details panel is not a status watcher (the card beside it already counts).
        if (p.sockets > 0 && p.mode !== "details") for (const s of p.services) out.set(s, (out.get(s) ?? 0) + p.sockets);
      }
      return out;
    },
  };
}
