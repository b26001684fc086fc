// Who is asking, and whether the config lets them see or restart a service (pure rules).
import type { ConfigFile, ServiceEntry } from "../config/file.ts";

export interface Identity {
  /** Empty when anonymous (auth mode "none"). */
  user: string;
  groups: string[];
  authenticated: boolean;
  /** Which credential proved it (a token's digest), so a revoked one can be recognised later. */
  credential?: string;
}

export const ANONYMOUS: Identity = { user: "", groups: [], authenticated: false };

type Pair = { users: string[]; groups: string[] } | undefined;

/**
 * The pair of lists that governs a service: its own when it sets either list (the other one
 * then counts as empty), else the top-level defaults when those set either, else none at all.
 * Lists are never merged across levels: a service that says "only dba" means only dba.
 */
function governing(ownUsers?: string[], ownGroups?: string[], topUsers?: string[], topGroups?: string[]): Pair {
  if (ownUsers !== undefined || ownGroups !== undefined) return { users: ownUsers ?? [], groups: ownGroups ?? [] };
  if (topUsers !== undefined || topGroups !== undefined) return { users: topUsers ?? [], groups: topGroups ?? [] };
  return undefined;
}

/** undefined when no list applies (everyone); otherwise whether `who` is named. An empty list names nobody. */
function listed(pair: Pair, who: Identity): boolean | undefined {
  if (pair === undefined) return undefined;
  return (who.user !== "" && pair.users.includes(who.user)) || pair.groups.some((g) => who.groups.includes(g));
}

const restartPair = (cfg: ConfigFile, e: ServiceEntry) => governing(e.allowedUsers, e.allowedGroups, cfg.allowedUsers, cfg.allowedGroups);
const viewPair = (cfg: ConfigFile, e: ServiceEntry) => governing(e.viewUsers, e.viewGroups, cfg.viewUsers, cfg.viewGroups);

/** Whether `who` may see `entry` at all: no view lists ⇒ everyone; being allowed to restart implies view. */
export function mayView(cfg: ConfigFile, entry: ServiceEntry, who: Identity): boolean {
  const v = listed(viewPair(cfg, entry), who);
  return v === undefined || v || listed(restartPair(cfg, entry), who) === true;
}

/** Why `who` may not restart `entry`, or undefined when allowed. No list at all ⇒ everyone may. */
export function mayRestart(cfg: ConfigFile, entry: ServiceEntry, who: Identity): string | undefined {
  if (listed(restartPair(cfg, entry), who) !== false) return undefined;
  const label = who.user || "anonymous";
  return `${label} is not allowed to restart ${entry.kind} ${entry.namespace}/${entry.name}`;
}
