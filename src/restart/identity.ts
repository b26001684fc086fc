// Who is asking, and whether the config lets them see or restart a service (pure rules).
import { type ConfigFile, type ServiceEntry, type ServiceKey, serviceId } from "../config/file.ts";

export interface Identity {
  /** Empty when anonymous (auth mode "none"). */
  user: string;
  groups: string[];
  authenticated: boolean;
}

/** The caller when no identity is required (AUTH_MODE=none) or none could be established. */
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

/** Whether the config lets `who` restart `entry`. No list at all ⇒ everyone may. */
export function mayRestart(cfg: ConfigFile, entry: ServiceEntry, who: Identity): boolean {
  return listed(entry.allowedUsers ?? cfg.allowedUsers, entry.allowedGroups ?? cfg.allowedGroups, who) !== false;
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
