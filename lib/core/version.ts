// Version instants: an item's `last_update` (ISO-8601, with or without milliseconds or an
// offset) as epoch milliseconds, so versions order as instants, never as strings.

/**
 * Epoch milliseconds of an ISO-8601 timestamp, or undefined when it is not one. A timestamp
 * without a zone is read as UTC (the search guard does the same), never as local time.
 *
 * @example
 * versionMillis('2025-01-01T00:00:00Z') < versionMillis('2025-01-01T00:00:00.500Z') // true
 */
export function versionMillis(version: string | undefined): number | undefined {
  if (version === undefined) return undefined;
  const s = version.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s))
    return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) ? s : `${s}Z`;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : undefined;
}
