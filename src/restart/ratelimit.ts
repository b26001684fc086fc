// Restarts per caller per minute, beside the restart flow that asks it: a sliding one-minute window of applied restarts per key.
//
// Only restarts that were applied spend budget: a refused attempt (locked, paused, missing,
// denied) changed nothing, so a script that retries on 423 is never pushed into 429.

export interface RateLimiter {
  /** 0 when `key` may restart now, else the seconds until it may. Records nothing. */
  wait(key: string): number;
  /** Records an applied restart by `key`. */
  spend(key: string): void;
}

export function makeRateLimiter(perMinute: number, now = () => Date.now()): RateLimiter {
  const hits = new Map<string, number[]>();
  const recent = (key: string, t: number) => (hits.get(key) ?? []).filter((x) => t - x < 60_000);
  return {
    wait(key) {
      if (perMinute <= 0) return 0;
      const t = now();
      const r = recent(key, t);
      if (r.length < perMinute) return 0;
      return Math.max(1, Math.ceil((r[r.length - perMinute]! + 60_000 - t) / 1000));
    },
    spend(key) {
      if (perMinute <= 0) return;
      const t = now();
      const r = recent(key, t);
      r.push(t);
      hits.set(key, r);
      // Keep the map from growing without bound under many distinct callers.
      if (hits.size > 10_000) for (const [k, v] of hits) if (v.every((x) => t - x >= 60_000)) hits.delete(k);
    },
  };
}
