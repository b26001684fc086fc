// Who is asking, and whether the config lets them see or restart a service (pure rules).
import { type ConfigFile, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";

export interface Identity {
  /** Empty when anonymous (auth mode "none"). */
  user: string;
  groups: string[];
  authenticated: boolean;
  /** Which credential proved it (a token's digest), so a revoked one can be recognised later. */
  credential?: string;
}

/** The caller when no identity is required (AUTH_MODE=none) or none could be established. */
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

/** Whether the config lets `who` restart `entry`. No list at all ⇒ everyone may. */
export function mayRestart(cfg: ConfigFile, entry: ServiceEntry, who: Identity): boolean {
  return listed(restartPair(cfg, entry), who) !== false;
}

/** The two kinds of viewer a service's card is rendered for; live pushes are published per audience. */
export type Audience = "may-restart" | "not-allowed";

export const audienceOf = (cfg: ConfigFile, entry: ServiceEntry, who: Identity): Audience => (mayRestart(cfg, entry, who) ? "may-restart" : "not-allowed");

/** Why a restart is refused before anything is asked of the cluster. */
export type Refusal = { why: "not-allowed" | "app-lacks-rights"; detail: string };

/** The refusal an audience gets; `appMissing` lists the rights the app itself lacks for this service. */
export function refusalFor(audience: Audience, entry: ServiceKey, appMissing: string[] | undefined, who?: Identity): Refusal | undefined {
  if (audience === "not-allowed") {
    return { why: "not-allowed", detail: `${who?.user || "anonymous"} is not allowed to restart ${entry.kind} ${entry.namespace}/${entry.name}` };
  }
  if (appMissing?.length) return { why: "app-lacks-rights", detail: `the app itself lacks permissions for ${serviceId(entry)}: ${appMissing.join("; ")}` };
  return undefined;
}

/** Why `who` may not restart `entry` (for the button, the live topic and the restart itself), or nothing. */
export function whyNotRestart(cfg: ConfigFile, entry: ServiceEntry, who: Identity, appMissing: string[] | undefined): Refusal | undefined {
  return refusalFor(audienceOf(cfg, entry, who), entry, appMissing, who);
}
