// "Did you mean": the known name closest to a mistyped one, for messages about unknown
// templates, commands, statuses and the like.

/** Edit distance (insert, delete, substitute, swap of neighbours), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The known name nearest to `name`, when it is near enough to be what was meant: at most
 * a third of its length away (at least 1, at most 3 edits), or the same but for case, or
 * one that starts with it.
 */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(name, k);
    if (distance < bestDistance) {
      best = k;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  if (bestDistance <= allowed) return best;
  const prefix = known.find(
    (k) => name.length >= 2 && k.toLowerCase().startsWith(name.toLowerCase()),
  );
  return prefix;
}

/**
 * The tail of an "unknown X" message: ` (did you mean 'y'?)` when one is close, else the
 * known names (the first `max` of them), or nothing when there are none.
 */
export function didYouMean(name: string, known: readonly string[], max = 20): string {
  const near = closest(name, known);
  if (near !== undefined && near !== name) return ` (did you mean '${near}'?)`;
  if (known.length === 0) return "";
  const shown = known.slice(0, max).join(", ");
  return ` (known: ${shown}${known.length > max ? ", …" : ""})`;
}

/** ` (did you mean "y"?)` when a known name is close to `name`, else nothing. */
export function meant(name: string, known: Iterable<string>): string {
  const near = closest(name, [...known]);
  return near !== undefined && near !== name ? ` (did you mean ${JSON.stringify(near)}?)` : "";
}
