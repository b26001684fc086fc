// Who is asking: no auth (compatible default), identity headers from a trusted proxy, or bearer tokens from a file.
import { parse as parseYaml } from "yaml";
import type { AuthSettings } from "../config/env.ts";
import { ConfigError } from "../config/env.ts";
import { ANONYMOUS, type Identity } from "../restart/identity.ts";

export type Authn = (req: Request) => Identity | { error: string };

interface TokenEntry {
  digest: Buffer;
  user: string;
  groups: string[];
}

// Bun's own hasher and the Web Crypto global: node:crypto would cost ≈ 6 MiB of RSS to load.
const digest = (s: string): Buffer => new Bun.CryptoHasher("sha256").update(s).digest();

/** Parses the tokens file: a YAML list of {token, user, groups}. Errors name the file and entry. */
export function parseTokens(text: string, file: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: invalid YAML: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new ConfigError(`${file}: expected a list of {token, user, groups}`);
  return doc.map((e, i) => {
    const t = e as { token?: unknown; user?: unknown; groups?: unknown };
    if (typeof t?.token !== "string" || t.token.length < 16) throw new ConfigError(`${file}: [${i}].token: expected a string of at least 16 characters`);
    if (typeof t.user !== "string" || t.user === "") throw new ConfigError(`${file}: [${i}].user: expected a non-empty string`);
    if (t.groups !== undefined && !(Array.isArray(t.groups) && t.groups.every((g) => typeof g === "string"))) {
      throw new ConfigError(`${file}: [${i}].groups: expected a list of strings`);
    }
    return { digest: digest(t.token), user: t.user, groups: (t.groups as string[] | undefined) ?? [] };
  });
}

export async function makeAuthn(settings: AuthSettings): Promise<Authn> {
  if (settings.mode === "none") return () => ANONYMOUS;
  if (settings.mode === "proxy") {
    return (req) => {
      let user = "";
      for (const h of settings.userHeaders) user ||= req.headers.get(h)?.trim() ?? "";
      if (!user) return { error: `no identity: expected one of the headers ${settings.userHeaders.join(", ")} from the authenticating proxy` };
      let groups: string[] = [];
      for (const h of settings.groupsHeaders) {
        const v = req.headers.get(h);
        if (v) groups = groups.concat(v.split(",").map((g) => g.trim()).filter(Boolean));
      }
      return { user, groups, authenticated: true };
    };
  }
  const f = Bun.file(settings.tokensFile);
  if (!(await f.exists())) throw new ConfigError(`AUTH_TOKENS_FILE: ${settings.tokensFile}: no such file`);
  const tokens = parseTokens(await f.text(), settings.tokensFile);
  return (req) => {
    const h = req.headers.get("authorization") ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return { error: "missing bearer token (Authorization: Bearer <token>)" };
    // Compare fixed-length digests in constant time, and scan every entry, so neither the
    // token's length nor its position leaks through timing.
    const d = digest(m[1]!);
    let found: TokenEntry | undefined;
    for (const t of tokens) if (crypto.timingSafeEqual(t.digest, d)) found ??= t;
    if (!found) return { error: "invalid bearer token" };
    return { user: found.user, groups: found.groups, authenticated: true };
  };
}
