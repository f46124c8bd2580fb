// Reads a dead-letter queue without losing anything: a peek that leaves every message where it
// is (status), and leases for redrive whose unmoved messages are made visible again at once.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface DlqEntry {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount after this receive. */
  receiveCount: number;
}

function toEntry(m: Message): DlqEntry | undefined {
  if (!m.MessageId || !m.ReceiptHandle || m.Body === undefined) return undefined;
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
  };
}

async function receive(
  sqs: SQSClient,
  QueueUrl: string,
  max: number,
  VisibilityTimeout: number,
): Promise<DlqEntry[]> {
  const res = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
      VisibilityTimeout,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return (res.Messages ?? []).flatMap((m) => toEntry(m) ?? []);
}

/**
 * Up to `max` distinct messages of the queue, left visible (VisibilityTimeout 0): nothing is
 * consumed or hidden. Each receive still counts towards the message's ApproximateReceiveCount,
 * which is why this is for the DLQ only: it has no redrive policy of its own, while on the work
 * queue it would bring messages closer to maxReceiveCount. Short polls sample the queue, so a
 * deep queue may show a subset: stops after `maxEmptyRounds` receives bring nothing new.
 */
export async function peekQueue(
  sqs: SQSClient,
  queueUrl: string,
  options: { max?: number; maxEmptyRounds?: number } = {},
): Promise<DlqEntry[]> {
  const max = options.max ?? 100;
  const seen = new Map<string, DlqEntry>();
  let empty = 0;
  while (seen.size < max && empty < (options.maxEmptyRounds ?? 3)) {
    const got = await receive(sqs, queueUrl, max - seen.size, 0);
    const fresh = got.filter((e) => !seen.has(e.messageId));
    for (const e of fresh) seen.set(e.messageId, e);
    empty = fresh.length ? 0 : empty + 1;
  }
  return [...seen.values()].slice(0, max);
}

/**
 * Leases up to `max` messages for `leaseSeconds` (hidden from other readers meanwhile). Every
 * leased message must end deleted (moved) or released: a crash only delays it by the lease.
 */
export async function leaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  options: { max: number; leaseSeconds: number; maxEmptyRounds?: number },
): Promise<DlqEntry[]> {
  const out = new Map<string, DlqEntry>();
  let empty = 0;
  while (out.size < options.max && empty < (options.maxEmptyRounds ?? 2)) {
    const got = await receive(sqs, queueUrl, options.max - out.size, options.leaseSeconds);
    for (const e of got) out.set(e.messageId, e);
    empty = got.length ? 0 : empty + 1;
  }
  return [...out.values()];
}

// One batch call per 10 entries; any failed entry fails the whole operation, loudly.
async function perTen(
  what: string,
  queueUrl: string,
  entries: readonly DlqEntry[],
  call: (chunk: readonly DlqEntry[]) => Promise<{ Failed?: { Id?: string; Message?: string }[] }>,
): Promise<void> {
  for (let i = 0; i < entries.length; i += 10) {
    const failed = (await call(entries.slice(i, i + 10))).Failed ?? [];
    if (failed.length) {
      throw new Error(
        `${what} in ${queueUrl} failed for ${failed.length} message(s): ${failed.map((f) => `${f.Id}: ${f.Message}`).join('; ')}`,
      );
    }
  }
}

/** Deletes leased messages (after their content was accepted elsewhere). */
export function deleteMessages(
  sqs: SQSClient,
  QueueUrl: string,
  entries: readonly DlqEntry[],
): Promise<void> {
  return perTen('DeleteMessageBatch', QueueUrl, entries, (chunk) =>
    sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: chunk.map((e, j) => ({ Id: `d${j}`, ReceiptHandle: e.receiptHandle })),
      }),
    ),
  );
}

/** Makes leased messages visible again now (they stay in the queue, unchanged). */
export function releaseMessages(
  sqs: SQSClient,
  QueueUrl: string,
  entries: readonly DlqEntry[],
): Promise<void> {
  return perTen('ChangeMessageVisibilityBatch', QueueUrl, entries, (chunk) =>
    sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: chunk.map((e, j) => ({
          Id: `v${j}`,
          ReceiptHandle: e.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    ),
  );
}

/** The URL of an existing queue; a clear error naming `setting` when it does not exist. */
export async function existingQueueUrl(
  sqs: SQSClient,
  QueueName: string,
  setting: string,
): Promise<string> {
  try {
    const res = await sqs.send(new GetQueueUrlCommand({ QueueName }));
    if (res.QueueUrl) return res.QueueUrl;
  } catch (e) {
    const name = (e as Error).name;
    if (name !== 'QueueDoesNotExist' && name !== 'AWS.SimpleQueueService.NonExistentQueue') throw e;
  }
  throw new Error(`queue "${QueueName}" does not exist (set ${setting})`);
}
