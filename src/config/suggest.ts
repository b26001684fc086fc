// "did you mean …?": the closest known word to a misspelled one, when it is close enough to be a typo.

/** Edit distance (insert, delete, substitute, swap of neighbours). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known word closest to `word` (case-insensitively), if at most a third of its letters differ. */
export function closest(word: string, known: string[]): string | undefined {
  let best: { w: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { w: k, d };
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.w : undefined;
}
