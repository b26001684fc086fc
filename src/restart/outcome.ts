// What a restart request is and what can come of it: the values every layer above passes around.
import type { ServiceKey } from "../config/file.ts";
import type { Identity } from "./identity.ts";

/** Why a restart did not happen; http/respond.ts maps each to exactly one HTTP status. */
export type Reason =
  | "bad-request"
  | "not-found"
  | "forbidden"
  | "unauthenticated"
  | "rate-limited"
  | "missing"
  | "paused"
  | "locked"
  | "upstream"
  | "unavailable";

/** Who holds a restart lock, for the 423 answer. */
export interface HeldLock {
  user: string;
  since: string;
  expiresAt: string;
}

export type RestartFailure = { ok: false; reason: Reason; detail: string; service?: ServiceKey; retryAfterSec?: number; lock?: HeldLock };
export type RestartResult = { ok: true; service: ServiceKey; restartedAt: string; generation: number; user: string } | RestartFailure;

export interface RestartRequest {
  kind: string;
  namespace: string;
  name: string;
  identity: Identity;
  requestId: string;
  source: string;
}

