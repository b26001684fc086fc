// Who is asking: no auth (compatible default), identity headers from a trusted proxy, or bearer tokens from a file.
import { parse as parseYaml } from "yaml";
import { type Cidr, inAny } from "../config/cidr.ts";
import type { AuthSettings } from "../config/env.ts";
import { ConfigError } from "../config/env.ts";
import { ANONYMOUS, type Identity } from "../restart/identity.ts";

export type AuthFailure = { error: string; status: 400 | 401 };

/**
 * `peer` is the TCP peer's address: identity headers count only from TRUSTED_PROXIES.
 * `stillValid` and `onChange` let long-lived connections (websockets) learn that the
 * credential they were opened with has been revoked.
 */
export type Authn = ((req: Request, peer: string) => Identity | AuthFailure) & {
  /** False once the credential `who` was authenticated with is gone (a token removed from the file). */
  stillValid(who: Identity): boolean;
  /** Called after the credentials changed (the tokens file was reloaded); returns an unsubscribe. */
  onChange(h: () => void): () => void;
  stop(): void;
};

export interface AuthOptions {
  trustedProxies: Cidr[];
  log?: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** How often the tokens file is checked for changes (ms). */
  reloadIntervalMs?: number;
}

export interface TokenEntry {
  digest: Buffer;
  user: string;
  groups: string[];
}

// Bun's own hasher and the Web Crypto global: node:crypto would cost ≈ 6 MiB of RSS to load.
const digest = (s: string): Buffer => new Bun.CryptoHasher("sha256").update(s).digest();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Header values arrive as bytes, one char per byte (Latin-1); identities are UTF-8.
 * Returns undefined when the bytes are not valid UTF-8.
 */
export function decodeHeader(v: string): string | undefined {
  // Not from the wire (a Request built in-process with real Unicode): take it as is.
  if (/[^\x00-\xff]/.test(v)) return v;
  try {
    return utf8.decode(Buffer.from(v, "latin1"));
  } catch {
    return undefined;
  }
}

/** Parses the tokens file: a YAML list of {token, user, groups}. Errors name the file and entry. */
export function parseTokens(text: string, file: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: invalid YAML: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new ConfigError(`${file}: expected a list of {token, user, groups}`);
  const seen = new Map<string, number>();
  return doc.map((e, i) => {
    const t = e as { token?: unknown; user?: unknown; groups?: unknown };
    if (typeof t?.token !== "string" || t.token.length < 16) throw new ConfigError(`${file}: [${i}].token: expected a string of at least 16 characters`);
    // A token with whitespace can never be sent intact in an Authorization header.
    if (/\s/.test(t.token)) throw new ConfigError(`${file}: [${i}].token: must not contain whitespace`);
    const first = seen.get(t.token);
    if (first !== undefined) throw new ConfigError(`${file}: [${i}].token: the same token as [${first}]: each token must name one identity`);
    seen.set(t.token, i);
    if (typeof t.user !== "string" || t.user === "") throw new ConfigError(`${file}: [${i}].user: expected a non-empty string`);
    if (t.groups !== undefined && !(Array.isArray(t.groups) && t.groups.every((g) => typeof g === "string"))) {
      throw new ConfigError(`${file}: [${i}].groups: expected a list of strings`);
    }
    return { digest: digest(t.token), user: t.user, groups: (t.groups as string[] | undefined) ?? [] };
  });
}

function withApi(
  fn: (req: Request, peer: string) => Identity | AuthFailure,
  api: Partial<Pick<Authn, "stillValid" | "onChange" | "stop">> = {},
): Authn {
  return Object.assign(fn, {
    stillValid: api.stillValid ?? (() => true),
    onChange: api.onChange ?? (() => () => {}),
    stop: api.stop ?? (() => {}),
  });
}

/** AUTH_MODE=proxy: exactly one user header and one groups header, only from a trusted peer. */
function proxyAuthn(settings: AuthSettings, opts: AuthOptions): Authn {
  const { userHeader, groupsHeader } = settings;
  const log = opts.log ?? (() => {});
  return withApi((req, peer) => {
    const rawUser = req.headers.get(userHeader);
    const rawGroups = groupsHeader ? req.headers.get(groupsHeader) : null;
    if (rawUser === null && rawGroups === null) {
      return { error: `no identity: expected the header ${userHeader} from the authenticating proxy`, status: 401 };
    }
    if (!inAny(opts.trustedProxies, peer)) {
      log("warn", "identity headers from an untrusted peer refused", { peer, header: rawUser !== null ? userHeader : groupsHeader });
      return { error: `identity headers are accepted only from the authenticating proxy (TRUSTED_PROXIES); ${peer || "this peer"} is not one`, status: 401 };
    }
    // Bun joins a repeated header into one value with ", ": a repeated identity header must be
    // refused, never merged, so that separator is refused too (proxies join groups with ",").
    for (const [h, v] of [[userHeader, rawUser], [groupsHeader, rawGroups]] as const) {
      if (v !== null && (h === userHeader ? v.includes(",") : v.includes(", "))) {
        return { error: `${h} was sent more than once (or holds ", "): refused rather than merged`, status: 400 };
      }
    }
    const user = decodeHeader(rawUser ?? "")?.trim();
    const groupsText = decodeHeader(rawGroups ?? "");
    if (user === undefined || groupsText === undefined) return { error: "identity headers must be UTF-8", status: 400 };
    if (!user) return { error: `no identity: the header ${userHeader} from the authenticating proxy is empty`, status: 401 };
    const groups = groupsText.split(",").map((g) => g.trim()).filter(Boolean);
    return { user, groups, authenticated: true };
  });
}

type Log = NonNullable<AuthOptions["log"]>;

/**
 * Polls the tokens file and calls `onNew` with the tokens of each valid new content. Polling,
 * not fs.watch: a mounted Secret changes by swapping a symlinked directory, which inotify on the
 * file itself never reports. An unreadable or invalid file keeps the previous tokens (logged).
 */
function pollTokensFile(file: string, first: string, onNew: (t: TokenEntry[]) => void, log: Log, intervalMs: number): () => void {
  let text = first;
  let unreadable = ""; // logged once per distinct failure, not every second
  const check = async () => {
    let next: string;
    try {
      next = await Bun.file(file).text();
      unreadable = "";
    } catch (e) {
      const error = String((e as Error).message);
      if (error !== unreadable) log("error", "tokens file unreadable; keeping the previous tokens", { file, error });
      unreadable = error;
      return;
    }
    if (next === text) return;
    text = next;
    try {
      onNew(parseTokens(next, file));
    } catch (e) {
      log("error", "tokens file invalid; keeping the previous tokens", { file, error: (e as Error).message });
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void check().finally(() => (busy = false));
  }, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** The identity a bearer token proves, with the token's digest so a revoked one can be recognised. */
function bearerIdentity(tokens: TokenEntry[], req: Request): Identity | AuthFailure {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
  if (!m) return { error: "missing bearer token (Authorization: Bearer <token>)", status: 401 };
  // Compare fixed-length digests in constant time, and scan every entry, so neither the
  // token's length nor its position leaks through timing.
  const d = digest(m[1]!);
  let found: TokenEntry | undefined;
  for (const t of tokens) if (crypto.timingSafeEqual(t.digest, d)) found ??= t;
  if (!found) return { error: "invalid bearer token", status: 401 };
  return { user: found.user, groups: found.groups, authenticated: true, credential: found.digest.toString("hex") };
}

/** AUTH_MODE=token: bearer tokens from a file that is re-read when it changes (a mounted Secret's symlink swap included). */
async function tokenAuthn(settings: AuthSettings, opts: AuthOptions): Promise<Authn> {
  const file = settings.tokensFile;
  const log = opts.log ?? (() => {});
  if (!(await Bun.file(file).exists())) throw new ConfigError(`AUTH_TOKENS_FILE: ${file}: no such file`);
  const text = await Bun.file(file).text();
  let tokens = parseTokens(text, file);
  // A token whose user or groups changed counts as revoked too: its sockets carry the old identity.
  const liveOf = (ts: TokenEntry[]) => new Map(ts.map((t) => [t.digest.toString("hex"), JSON.stringify([t.user, t.groups])]));
  let live = liveOf(tokens);
  const handlers = new Set<() => void>();
  const stop = pollTokensFile(file, text, (next) => {
    tokens = next;
    live = liveOf(next);
    log("info", "tokens file reloaded", { file, tokens: next.length });
    for (const h of handlers) h();
  }, log, opts.reloadIntervalMs ?? 1000);
  return withApi((req) => bearerIdentity(tokens, req), {
    stillValid: (who) => who.credential === undefined || live.get(who.credential) === JSON.stringify([who.user, who.groups]),
    onChange: (h) => (handlers.add(h), () => void handlers.delete(h)),
    stop,
  });
}

export async function makeAuthn(settings: AuthSettings, opts: AuthOptions): Promise<Authn> {
  if (settings.mode === "none") return withApi(() => ANONYMOUS);
  if (settings.mode === "proxy") return proxyAuthn(settings, opts);
  return tokenAuthn(settings, opts);
}
