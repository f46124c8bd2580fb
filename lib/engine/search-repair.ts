// Search-only repair tasks: a keyword update that failed (OpenSearch down) or found no document
// (the app's indexer is behind) after the DynamoDB write had settled is retried later from the
// work queue, so search trouble never holds up or dead-letters DynamoDB work.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { packMessage, type SearchRepairMessage } from '../core/work-message.ts';
import type { Key, SearchChange } from '../core/types.ts';
import type { SearchIndex } from '../adapters/search-index.ts';
import { sendMessages } from '../adapters/work-queue.ts';
import type { ItemResult } from './migrate-items.ts';

const MISSING = 'search document still missing';

/** Attempts of one repair before it is given up (then parked in the DLQ with its reason). */
export const SEARCH_REPAIR_MAX_ATTEMPTS = 8;

/** Delay before attempt `n` (1-based): 5 s, 10 s, 20 s … capped at SQS's 900 s maximum. */
export function repairDelaySeconds(attempt: number): number {
  return Math.min(900, 5 * 2 ** Math.max(0, attempt - 1));
}

/** Where repair tasks go, and how long each attempt waits. */
export interface SearchRepairTarget {
  sqs: SQSClient;
  /** The work queue the repairs travel on. */
  workQueueUrl: string;
  /** Delay before attempt n. @default repairDelaySeconds (5 s, 10 s, 20 s … ≤ 900 s) */
  delaySeconds?: (attempt: number) => number;
}

export interface SearchRepairDeps extends SearchRepairTarget {
  search: SearchIndex;
  maxAttempts?: number;
}

export type SearchRepairOutcome =
  /** Applied, or a no-op because the document already holds these or newer keywords. */
  | 'repaired'
  /** Failed again (or the document is still missing) and re-enqueued with a longer delay. */
  | 'rescheduled'
  /** Gave up after the last attempt: the caller parks the message with `reason`. */
  | 'failed';

export interface SearchRepairResult {
  outcome: SearchRepairOutcome;
  reason?: string;
  /** Given up because the document was still missing: count it as `SearchMissing` now. */
  missing?: true;
}

/**
 * Turns keyword updates that did not land into repair messages (attempt 1), each naming the
 * item whose document it is, so a given-up repair is parked with that item's table and key.
 */
export function repairMessagesFor(
  table: string,
  changes: readonly { change: SearchChange; key: Key; reason: string }[],
): SearchRepairMessage[] {
  return changes.map(({ change, key, reason }) => ({
    v: 1,
    kind: 'search-repair',
    table,
    key,
    docId: change.id,
    keywords: change.doc,
    ...(change.remove?.length && { remove: change.remove }),
    ...(change.version !== undefined && { version: change.version }),
    attempt: 1,
    reason,
  }));
}

/** Enqueues repair messages with the back-off delay of their attempt. */
export async function enqueueRepairs(
  sqs: SQSClient,
  workQueueUrl: string,
  messages: readonly SearchRepairMessage[],
  delaySeconds: (attempt: number) => number = repairDelaySeconds,
): Promise<void> {
  if (!messages.length) return;
  await sendMessages(
    sqs,
    workQueueUrl,
    messages.map((m) => ({ ...packMessage(m), delaySeconds: delaySeconds(m.attempt) })),
  );
}

/**
 * After a batch: every item whose DynamoDB write settled but whose keyword update failed or
 * found no document becomes a delayed repair task, and its result `repair-queued` (settled:
 * the record no longer waits on search). When the enqueue fails the results stay unsettled
 * (a missing document becomes `failed`), so the records are retried and nothing is lost.
 * A `not-ready` index is not deferred: that is a deployment fault, retried loudly.
 */
export async function deferSearchFailures(
  table: string,
  results: readonly ItemResult[],
  target: SearchRepairTarget,
): Promise<number> {
  const deferred = results.filter(
    (r) =>
      (r.outcome === 'migrated' || r.outcome === 'unchanged') &&
      (r.search === 'failed' || r.search === 'search-missing') &&
      r.searchChange !== undefined,
  );
  if (!deferred.length) return 0;
  const messages = repairMessagesFor(
    table,
    deferred.map((r) => ({
      change: r.searchChange as SearchChange,
      key: r.key,
      reason:
        r.search === 'search-missing' ? 'search document missing' : (r.reason ?? 'search failed'),
    })),
  );
  try {
    await enqueueRepairs(target.sqs, target.workQueueUrl, messages, target.delaySeconds);
  } catch (e) {
    for (const r of deferred) {
      r.search = 'failed';
      r.reason = `search repair could not be queued: ${(e as Error).message}`;
    }
    return 0;
  }
  for (const r of deferred) r.search = 'repair-queued';
  return deferred.length;
}

/**
 * Applies repair messages in one bulk request. A failure or a still-missing document is
 * re-enqueued as the next attempt until `maxAttempts`; throws only when that re-enqueue fails
 * (the caller then fails the messages and SQS redelivers them).
 */
export async function processSearchRepairs(
  messages: readonly SearchRepairMessage[],
  deps: SearchRepairDeps,
): Promise<SearchRepairResult[]> {
  const max = deps.maxAttempts ?? SEARCH_REPAIR_MAX_ATTEMPTS;
  const changes: SearchChange[] = messages.map((m) => ({
    id: m.docId,
    doc: m.keywords,
    ...(m.remove && { remove: m.remove }),
    ...(m.version !== undefined && { version: m.version }),
  }));
  let reasons: (string | undefined)[];
  try {
    const out = await deps.search.applyUpdates(changes);
    reasons = out.map((o) =>
      o.outcome === 'failed'
        ? `search: ${o.error ?? 'update failed'}`
        : o.outcome === 'search-missing'
          ? MISSING
          : undefined,
    );
  } catch (e) {
    reasons = messages.map(() => `search: ${(e as Error).message}`);
  }
  const again: SearchRepairMessage[] = [];
  const results = messages.map((m, i): SearchRepairResult => {
    const reason = reasons[i];
    if (reason === undefined) return { outcome: 'repaired' };
    if (m.attempt >= max)
      return {
        outcome: 'failed',
        reason: `${reason} (gave up after ${m.attempt} attempts)`,
        ...(reason === MISSING && { missing: true as const }),
      };
    again.push({ ...m, attempt: m.attempt + 1, reason });
    return { outcome: 'rescheduled', reason };
  });
  await enqueueRepairs(deps.sqs, deps.workQueueUrl, again, deps.delaySeconds);
  return results;
}
