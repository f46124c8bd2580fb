// Sends packed work messages with SendMessageBatch (failed entries retried with back-off, then a
// loud error naming each entry and its reason) and reads queue depth for the throttler/status.
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { backoffMs } from '../core/concurrency.ts';
import { batchForSend } from '../core/work-message.ts';

export interface OutgoingMessage {
  body: string;
  /** UTF-8 bytes of the body (from packItems / packMessage). */
  bytes: number;
  /** Per-message delay, e.g. for search-repair tasks (0..900 s). */
  delaySeconds?: number;
}

export interface EntryFailure {
  id: string;
  code: string;
  message: string;
  senderFault: boolean;
}

/** Entries SQS would not take after all retries (or that it rejected as the sender's fault). */
export class WorkQueueSendError extends Error {
  override readonly name = 'WorkQueueSendError';
  constructor(
    queueUrl: string,
    readonly failures: EntryFailure[],
    attempts: number,
  ) {
    super(
      `SendMessageBatch to ${queueUrl}: ${failures.length} message(s) not accepted after ${attempts} attempt(s): ` +
        failures
          .map((f) => `${f.id}: ${f.code}${f.senderFault ? ' (sender fault)' : ''}: ${f.message}`)
          .join('; '),
    );
  }
}

export interface SendOptions {
  /** Attempts per entry (default 5), on top of the SDK's own retries of whole calls. */
  maxAttempts?: number;
  baseBackoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface SendResult {
  sent: number;
  batches: number;
  /** Entries that needed more than one attempt. */
  retried: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends messages in order, grouped into batches of ≤ 10 entries and ≤ 256 KiB. Resolves once
 * every message was accepted: only then may the scanner checkpoint past the page they carry.
 */
export async function sendMessages(
  sqs: SQSClient,
  QueueUrl: string,
  messages: readonly OutgoingMessage[],
  options: SendOptions = {},
): Promise<SendResult> {
  const maxAttempts = options.maxAttempts ?? 5;
  const sleep = options.sleep ?? defaultSleep;
  const result: SendResult = { sent: 0, batches: 0, retried: 0 };
  for (const batch of batchForSend(messages)) {
    let pending = batch.map((m, i) => ({ id: `m${i}`, m }));
    const retried = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const res = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: pending.map(({ id, m }) => ({
            Id: id,
            MessageBody: m.body,
            ...(m.delaySeconds !== undefined && { DelaySeconds: m.delaySeconds }),
          })),
        }),
      );
      result.batches++;
      const failed = new Map(
        (res.Failed ?? []).map((f) => [
          f.Id ?? '?',
          {
            id: f.Id ?? '?',
            code: f.Code ?? 'Unknown',
            message: f.Message ?? '',
            senderFault: f.SenderFault ?? false,
          },
        ]),
      );
      result.sent += pending.length - failed.size;
      if (!failed.size) break;
      // A sender fault (bad body, bad delay) fails the same way every time: report it now.
      const fatal = [...failed.values()].filter((f) => f.senderFault);
      if (fatal.length || attempt >= maxAttempts) {
        throw new WorkQueueSendError(QueueUrl, [...failed.values()], attempt);
      }
      pending = pending.filter((p) => failed.has(p.id));
      for (const p of pending) retried.add(p.id);
      await sleep(backoffMs(attempt, options.baseBackoffMs ?? 100, 5_000));
    }
    result.retried += retried.size;
  }
  return result;
}

export interface QueueStats {
  visible: number;
  inFlight: number;
  delayed: number;
  /** visible + in flight + delayed: the backlog the throttler bounds. */
  backlog: number;
}

/**
 * Depth of a queue from its Approximate* attributes (SQS and ElasticMQ). The age of the oldest
 * message is not a queue attribute: on AWS it is CloudWatch's ApproximateAgeOfOldestMessage.
 */
export async function queueStats(sqs: SQSClient, QueueUrl: string): Promise<QueueStats> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = res.Attributes ?? {};
  const visible = Number(a.ApproximateNumberOfMessages ?? 0);
  const inFlight = Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  const delayed = Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  return { visible, inFlight, delayed, backlog: visible + inFlight + delayed };
}
