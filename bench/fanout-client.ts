// Fan-out load client (its own process): holds N status websockets and stamps, per socket, when a marked frame arrives.
//
// Usage: bun bench/fanout-client.ts <ws url> <N>
// Protocol (one JSON object per line). stdout: {"connected":N,"ms":..,"fds":..} once all sockets
// have their initial full-state frame; {"armed":k}; {"result":k,"arrivals":[epoch ms..],"missing":m,"cpuMs":..}.
// stdin: "arm <k> <marker>" — from now on record, for each socket, the first frame containing
// <marker> (e.g. "desired":2,); the result is printed when every socket has one, or 20 s after arming.
import { readFileSync } from "node:fs";

const [url, nArg] = process.argv.slice(2);
const N = Number(nArg);
const BATCH = Number(process.env.FANOUT_BATCH ?? 500);
/** A socket counts as connected once it has this many frames: 1 for one service, the service count for the full-state stream. */
const FULL = Number(process.env.FANOUT_FULL ?? 1);
if (!url || !(N > 0)) throw new Error("usage: bun bench/fanout-client.ts <ws url> <N>");
const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 0);
if (limit < N + 64) throw new Error(`open-file limit ${limit} is too low for ${N} sockets (raise it with ulimit -n / prlimit)`);

const now = () => performance.timeOrigin + performance.now();
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

let marker = "";
let round = -1;
const arrivals = new Float64Array(N);
let got = 0;
let finish: (() => void) | undefined;

const sockets: WebSocket[] = [];
const t0 = performance.now();
for (let i = 0; i < N; i += BATCH) {
  await Promise.all(
    Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => {
      const idx = i + j;
      return new Promise<void>((res, rej) => {
        const ws = new WebSocket(url);
        sockets[idx] = ws;
        let first = true;
        let frames = 0;
        ws.onmessage = (e) => {
          if (first) {
            if (++frames < FULL) return;
            first = false;
            res();
            return;
          }
          if (marker && arrivals[idx] === 0 && (e.data as string).includes(marker)) {
            arrivals[idx] = now();
            if (++got === N) finish?.();
          }
        };
        ws.onerror = () => rej(new Error(`socket ${idx} failed`));
        ws.onclose = (e) => {
          if (first) rej(new Error(`socket ${idx} closed before its first frame: ${e.code} ${e.reason}`));
        };
      });
    }),
  );
}
out({ connected: N, ms: Math.round(performance.now() - t0) });

for await (const line of console) {
  const m = /^arm (\d+) (.+)$/.exec(line.trim());
  if (!m) continue;
  round = Number(m[1]);
  arrivals.fill(0);
  got = 0;
  const cpu0 = process.cpuUsage();
  const done = new Promise<void>((r) => {
    finish = r;
    setTimeout(r, 20_000);
  });
  marker = m[2]!;
  out({ armed: round });
  await done;
  marker = "";
  const cpu = process.cpuUsage(cpu0);
  const list = Array.from(arrivals).filter((x) => x > 0);
  out({ result: round, arrivals: list, missing: N - list.length, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
}
