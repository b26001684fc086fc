// Covers the Makefile's demo target: loopback for both listeners unless DEMO_LISTEN says otherwise (read from `make -n`, which runs nothing).
import { expect, test } from "bun:test";
import { join } from "node:path";

function demoCommand(vars: string[] = []): { listen: string; monitoring: string } {
  const p = Bun.spawnSync(["make", "-n", "-s", "demo", ...vars], { cwd: join(import.meta.dir, "../.."), stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString();
  return { listen: /LISTEN_ADDRESS=(\S+)/.exec(out)?.[1] ?? "", monitoring: /LISTEN_MONITORING_ADDRESS=(\S+)/.exec(out)?.[1] ?? "" };
}

test.each([
  [[], { listen: "127.0.0.1:8080", monitoring: "127.0.0.1:6060" }],
  [["DEMO_LISTEN=:9090"], { listen: ":9090", monitoring: ":6060" }],
  [["DEMO_LISTEN=0.0.0.0:8080", "DEMO_MONITORING_PORT=7070"], { listen: "0.0.0.0:8080", monitoring: "0.0.0.0:7070" }],
  [["DEMO_LISTEN=[::1]:8081"], { listen: "[::1]:8081", monitoring: "[::1]:6060" }],
])("make demo %j listens on %j", (vars, expected) => {
  expect(demoCommand(vars)).toEqual(expected);
});
