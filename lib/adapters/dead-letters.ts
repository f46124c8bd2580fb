// Parking: items that can never be migrated as they stand go to the dead-letter queue at once,
// with their reason, instead of holding up their shard or queue.
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { ServiceName } from '../config/defaults.ts';

/**
 * A record parked by streamfill itself: an item that can never be migrated as it stands
 * (malformed), so retrying would only hold up its shard. It carries the reason and the
 * record, so an operator can fix the item and redrive.
 */
export interface ParkedRecord {
  version: 'streamfill.parked/1';
  /** The entry point that parked it. */
  source: ServiceName;
  reason: string;
  table: string;
  key: Record<string, unknown>;
  parkedAt: string;
  record: unknown;
}

export type ParkEntry = Omit<ParkedRecord, 'version' | 'parkedAt'>;

/**
 * Sends parked records to a dead-letter queue.
 *
 * @example
 * await new DeadLetters(sqs, dlqUrl).park([{ source: 'stream-consumer', reason, table, key, record }]);
 */
export class DeadLetters {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  /** Sends every entry or throws (then the caller fails the records, and nothing is lost). */
  async park(entries: readonly ParkEntry[]): Promise<void> {
    const parkedAt = new Date().toISOString();
    for (let i = 0; i < entries.length; i += 10) {
      const chunk = entries.slice(i, i + 10);
      const res = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((e) => ({
            Id: randomUUID(),
            MessageBody: JSON.stringify({
              version: 'streamfill.parked/1',
              parkedAt,
              ...e,
            } satisfies ParkedRecord),
          })),
        }),
      );
      if (res.Failed?.length) {
        throw new Error(
          `parking in ${this.queueUrl} failed: ${res.Failed.map((f) => f.Message).join('; ')}`,
        );
      }
    }
  }
}
