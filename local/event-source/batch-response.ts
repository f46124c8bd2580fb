// Lambda's reading of a handler's partial batch response, shared by both mappings.

export type ItemFailures =
  | { kind: 'success' }
  | { kind: 'failure'; reason: string }
  /** The failed identifiers, all known to belong to the batch. */
  | { kind: 'ids'; ids: string[] };

/**
 * No response, or no/empty `batchItemFailures`: success. A malformed list or an identifier
 * that is missing, empty or not in `batchIds`: the whole batch failed.
 */
export function readItemFailures(
  response: unknown,
  reportBatchItemFailures: boolean,
  batchIds: ReadonlySet<string>,
): ItemFailures {
  if (!reportBatchItemFailures || response === null || typeof response !== 'object') {
    return { kind: 'success' };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) {
    return {
      kind: 'failure',
      reason: 'invalid partial batch response: batchItemFailures is not a list',
    };
  }
  if (failures.length === 0) return { kind: 'success' };
  const ids: string[] = [];
  for (const failure of failures as unknown[]) {
    const id =
      failure && typeof failure === 'object'
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || id === '') {
      return {
        kind: 'failure',
        reason: `invalid partial batch response: itemIdentifier ${JSON.stringify(id ?? null)}`,
      };
    }
    if (!batchIds.has(id)) {
      return {
        kind: 'failure',
        reason: `invalid partial batch response: itemIdentifier ${id} is not in the batch`,
      };
    }
    ids.push(id);
  }
  return { kind: 'ids', ids };
}
