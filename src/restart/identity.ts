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

function listed(users: string[] | undefined, groups: string[] | undefined, who: Identity): boolean | undefined {
  if (users === undefined && groups === undefined) return undefined;
  return (who.user !== "" && !!users?.includes(who.user)) || !!groups?.some((g) => who.groups.includes(g));
}

/** Whether `who` may see `entry` at all: no view lists ⇒ everyone; being listed for restarts implies view. */
export function mayView(cfg: ConfigFile, entry: ServiceEntry, who: Identity): boolean {
  const v = listed(entry.viewUsers ?? cfg.viewUsers, entry.viewGroups ?? cfg.viewGroups, who);
  return v === undefined || v || listed(entry.allowedUsers ?? cfg.allowedUsers, entry.allowedGroups ?? cfg.allowedGroups, who) === true;
}

/** Why `who` may not restart `entry`, or undefined when allowed. No list at all ⇒ everyone may. */
export function mayRestart(cfg: ConfigFile, entry: ServiceEntry, who: Identity): string | undefined {
  if (listed(entry.allowedUsers ?? cfg.allowedUsers, entry.allowedGroups ?? cfg.allowedGroups, who) !== false) return undefined;
  const label = who.user || "anonymous";
  return `${label} is not allowed to restart ${entry.kind} ${entry.namespace}/${entry.name}`;
}
