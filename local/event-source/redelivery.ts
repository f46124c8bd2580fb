// At-least-once delivery, emulated: a seeded, low-rate chance that a successful delivery is made
// again. AWS ("How Lambda processes records from stream and queue-based event sources"): event
// source mappings process each event at least once, and duplicate processing of records can
// occur. A local run that never redelivers would prove idempotence nowhere, so both mappings
// redeliver on purpose:
// - stream: a batch is invoked again before its checkpoint is saved (same records, same order),
//   or the shard is re-read from its previous checkpoint after later batches (a lease handed over
//   before the checkpoint was saved);
// - SQS: the delete of a processed message is skipped, so it comes back after its visibility
//   timeout with ApproximateReceiveCount + 1.
import { prng } from '../../lib/core/prng.ts';

export interface RedeliveryOptions {
  /** Chance (0..1) per successful batch (stream) or message (SQS). 0 turns it off. */
  rate: number;
  /** Seed of the dice, so a run can be repeated. @default 1 */
  seed?: number;
}

/** A clear error for a rate or seed the emulation cannot use. */
export function checkRedelivery(o: RedeliveryOptions): void {
  if (!Number.isFinite(o.rate) || o.rate < 0 || o.rate > 1)
    throw new Error(`redelivery rate must be between 0 and 1, got ${o.rate}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed))
    throw new Error(`redelivery seed must be an integer, got ${o.seed}`);
}

/** The dice: true with probability `rate`; undefined when redelivery is off. */
export function redeliveryDice(o: RedeliveryOptions | undefined): (() => boolean) | undefined {
  if (!o) return undefined;
  checkRedelivery(o);
  if (o.rate === 0) return undefined;
  const random = prng(o.seed ?? 1); // seedable, so a run's duplicates can be replayed
  return () => random() < o.rate;
}
