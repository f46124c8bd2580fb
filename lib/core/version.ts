// Version instants: an item's `last_update` as epoch milliseconds, so versions order as
// instants, never as strings. Accepted (and nothing else, so no update is ever unordered):
// - ISO-8601 with or without seconds, milliseconds (more digits are cut to the millisecond)
//   or an offset; no zone is UTC;
// - a whole epoch number, as a JSON number or a digit string: below EPOCH_MS_FROM it is
//   seconds, from it on milliseconds (see there).

/**
 * The first epoch value read as milliseconds: 10^11. As seconds it would be the year 5138; as
 * milliseconds it is 1973-03-03T09:46:40Z. So seconds up to the year 5138 and milliseconds from
 * March 1973 on are told apart without a hint; a millisecond value before March 1973 would be
 * read as seconds (no chat session is that old).
 */
export const EPOCH_MS_FROM = 100_000_000_000;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Epoch ms of a whole epoch number in seconds or milliseconds (EPOCH_MS_FROM decides). */
export function epochMillis(n: number): number {
  return n < EPOCH_MS_FROM ? n * 1000 : n;
}

/**
 * Epoch milliseconds of a version (`last_update`), or undefined when it is not one of the
 * accepted forms above.
 *
 * @example
 * versionMillis('2025-01-01T00:00:00Z') < versionMillis('2025-01-01T00:00:00.500Z') // true
 * versionMillis(1735689600) === versionMillis('2025-01-01T00:00:00Z') // seconds
 * versionMillis('1735689600000') === versionMillis('2025-01-01T00:00:00Z') // milliseconds
 */
export function versionMillis(version: unknown): number | undefined {
  if (typeof version === 'number') {
    return Number.isSafeInteger(version) && version >= 0 ? epochMillis(version) : undefined;
  }
  if (typeof version !== 'string') return undefined;
  const s = version.trim();
  if (/^\d{1,16}$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? epochMillis(n) : undefined;
  }
  if (!ISO.test(s)) return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) ? s : `${s}Z`;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : undefined;
}
