// Test helpers for the historic path: items messages built the way the scanner builds them
// (projection from the planner, as the scanner projects), SQS events by hand, DLQ draining.
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { ParkedRecord } from '../../lib/adapters/dead-letters.ts';
import type { Item } from '../../lib/core/types.ts';
import { packItems, workItemOf, type WorkItem } from '../../lib/core/work-message.ts';
import { PIKA } from './pika.ts';

/** Every item of a table, projected as the scanner projects it. */
export async function scanAll(
  doc: DynamoDBDocumentClient,
  TableName: string,
  projection?: readonly string[],
): Promise<Item[]> {
  const out: Item[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const r = await doc.send(
      new ScanCommand({
        TableName,
        ConsistentRead: true,
        ...(projection && {
          ProjectionExpression: projection.map((_, i) => `#p${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(projection.map((n, i) => [`#p${i}`, n])),
        }),
        ...(ExclusiveStartKey && { ExclusiveStartKey }),
      }),
    );
    out.push(...((r.Items ?? []) as Item[]));
    ExclusiveStartKey = r.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return out;
}

/** The work items of a table's current items, as the scanner would enqueue them. */
export async function workItemsOf(
  doc: DynamoDBDocumentClient,
  table: string,
  TableName: string,
  enabled: readonly string[],
): Promise<WorkItem[]> {
  const projection = PIKA.projection(table, enabled);
  const keys = PIKA.table(table).key;
  const inputs = projection.filter((n) => !keys.includes(n));
  return (await scanAll(doc, TableName, projection)).map((i) =>
    workItemOf(PIKA.table(table), i, inputs),
  );
}

/** Items message bodies of at most `perMessage` items each. */
export function itemsBodies(table: string, items: WorkItem[], perMessage: number): string[] {
  return packItems(table, items, { maxItemsPerMessage: perMessage }).map((p) => p.body);
}

/** An SQS event as Lambda would deliver these bodies (message ids m0, m1, …). */
export function sqsEvent(bodies: readonly string[], receiveCount = 1): SQSEvent {
  return {
    Records: bodies.map((body, i): SQSRecord => ({
      messageId: `m${i}`,
      receiptHandle: `r${i}`,
      body,
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: String(Date.now()),
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test-work',
      awsRegion: 'us-east-1',
    })),
  };
}

/** Receives every record of a DLQ (each hidden for 60 s, not deleted) until it is empty. */
export async function drainParked(sqs: SQSClient, QueueUrl: string): Promise<ParkedRecord[]> {
  const out: ParkedRecord[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: out.length ? 0 : 1,
        VisibilityTimeout: 60,
      }),
    );
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) out.push(JSON.parse(m.Body ?? '{}') as ParkedRecord);
  }
}

/** Receives and deletes every message of a queue (two empty polls in a row end it); their bodies. */
export async function takeAllMessages(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let empty = 0; empty < 2;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    if (!r.Messages?.length) {
      empty++;
      continue;
    }
    for (const m of r.Messages) {
      bodies.push(m.Body ?? '');
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }),
      );
    }
  }
  return bodies;
}
