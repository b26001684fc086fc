// Times and durations in words: "32 s", "5 min", "3 min ago", and the exact UTC time shown on hover.

/** "2026-11-26T05:29:08Z" → "2026-11-26 05:29:08 UTC"; "" → "". */
export function exactUtc(iso: string): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** A duration in the unit a person would say: "32 s", "5 min", "2 h", "3 d". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "3 min ago" (or "just now"); "" for no time. The page's script keeps it current. */
export function ago(iso: string, nowMs: number): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = (nowMs - t) / 1000;
  return s < 5 ? "just now" : `${duration(s)} ago`;
}
