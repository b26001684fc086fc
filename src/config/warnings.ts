// What is legal but probably not meant, said once at start: no identity required, nothing to restart.
import type { Env } from "./env.ts";
import type { ConfigFile } from "./file.ts";

export function startupWarnings(env: Pick<Env, "auth" | "configFilePath">, config: ConfigFile): string[] {
  const out: string[] = [];
  if (env.auth.mode === "none") {
    out.push("AUTH_MODE=none: anyone who can reach this service can restart every listed workload; set AUTH_MODE=proxy or token to require an identity");
  }
  if (config.services.length === 0 && !config.selectors?.length) out.push(`${env.configFilePath}: the services list is empty: nothing can be seen or restarted`);
  return out;
}
