// Pure helpers for a batch of stream records.

/**
 * Splits records into the newest record of each item and the older ones it supersedes.
 * Planning from an older image would only produce conflicts (its inputs are stale), so one
 * write per item per batch is enough — and keeps writes per changed item near 1.
 */
export function latestPerKey<T>(
  records: readonly T[],
  keyOf: (r: T) => string,
): { latest: T[]; superseded: T[] } {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(keyOf(r), i));
  const latest: T[] = [];
  const superseded: T[] = [];
  records.forEach((r, i) => (last.get(keyOf(r)) === i ? latest : superseded).push(r));
  return { latest, superseded };
}
