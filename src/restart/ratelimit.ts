// Restarts per caller per minute, beside the restart flow that asks it: a sliding one-minute window of attempt times per key.

export function makeRateLimiter(perMinute: number, now = () => Date.now()) {
  const hits = new Map<string, number[]>();
  /** Records an attempt; returns 0 when allowed, else the seconds until the next one would be. */
  return (key: string): number => {
    if (perMinute <= 0) return 0;
    const t = now();
    const recent = (hits.get(key) ?? []).filter((x) => t - x < 60_000);
    if (recent.length >= perMinute) {
      hits.set(key, recent);
      return Math.max(1, Math.ceil((recent[0]! + 60_000 - t) / 1000));
    }
    recent.push(t);
    hits.set(key, recent);
    // Keep the map from growing without bound under many distinct callers.
    if (hits.size > 10_000) for (const [k, v] of hits) if (v.every((x) => t - x >= 60_000)) hits.delete(k);
    return 0;
  };
}
