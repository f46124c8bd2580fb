// Bounded concurrency and retry backoff, shared by the writer, the lookup and the seeder.
/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping result order.
 * Bounded concurrency is how the writer honours "worker concurrency is capped".
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be >= 1, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Full-jitter exponential backoff delay in ms for retry `attempt` (0-based). */
export function backoffMs(
  attempt: number,
  baseMs = 50,
  capMs = 5_000,
  random = Math.random,
): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
