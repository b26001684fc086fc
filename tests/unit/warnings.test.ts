// Covers src/config/warnings.ts: legal settings that are probably not meant, said at start.
import { expect, test } from "bun:test";
import { parseEnv } from "../../src/config/env.ts";
import { startupWarnings } from "../../src/config/warnings.ts";

test("AUTH_MODE=none and an empty allow-list are warned about; a configured app with auth is not", () => {
  const none = parseEnv({});
  const token = parseEnv({ AUTH_MODE: "token", AUTH_TOKENS_FILE: "/t" });
  const one = { services: [{ kind: "Deployment" as const, name: "web", namespace: "shop" }] };
  const w = startupWarnings(none, { services: [] });
  expect(w).toHaveLength(2);
  expect(w[0]).toStartWith("AUTH_MODE=none: anyone who can reach");
  expect(w[1]).toBe("config.yaml: the services list is empty: nothing can be seen or restarted");
  expect(startupWarnings(token, one)).toEqual([]);
});
