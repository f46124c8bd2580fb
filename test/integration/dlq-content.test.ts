// Issue 15 item 5 (what leaves the tables) on the real local services: a malformed item parked
// by the stream consumer keeps its table, key and reason but not its image (chat contents stay
// out of the 14-day DLQ) unless STREAMFILL_DLQ_KEEP_IMAGES asks for it; redrive re-reads the
// item by its key.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues, type QueueUrls } from '../../lib/adapters/queues.ts';
import type { Item } from '../../lib/core/types.ts';
import { decodeWorkMessage } from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { redrive } from '../../lib/engine/redrive.ts';
import { processStreamBatch } from '../../lib/engine/stream-batch.ts';
import { ensurePikaTables, type PikaTableNames } from '../../local/pika-tables.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { takeAllMessages } from '../support/work-queue.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('dlqcontent');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const SECRET = 'my bank password is hunter2';
let clients: Clients;
let tables: PikaTableNames;
let queues: QueueUrls;
beforeAll(async () => {
  clients = makeClients({ searchEndpoint: undefined });
  const p = uniqueName('dlqc');
  tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
  await ensurePikaTables(clients.dynamodb, tables);
  queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
});
afterAll(() => destroyClients(clients));

/** The consumer's batch with one malformed record (chat_app_id is a list) and chat contents. */
async function parkOne(id: string, keepImages: boolean | undefined): Promise<void> {
  const item: Item = {
    user_id: 'u1',
    session_id: id,
    chat_app_id: ['not', 'a', 'string'],
    last_update: '2025-03-01T10:00:00.000Z',
    title: SECRET,
  };
  await clients.doc.send(new PutCommand({ TableName: tables.session, Item: item }));
  const record = {
    eventID: '1',
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${tables.session}/stream/x`,
    dynamodb: {
      SequenceNumber: '100',
      StreamViewType: 'NEW_AND_OLD_IMAGES',
      Keys: marshall({ user_id: 'u1', session_id: id }),
      NewImage: marshall(item),
    },
  } as unknown as DynamoDBRecord;
  const res = await processStreamBatch({ Records: [record] } as DynamoDBStreamEvent, {
    deps: { ...engineDeps(clients, { tables, searchIndex: 'unused' }), search: undefined },
    deadLetters: new DeadLetters(
      clients.sqs,
      queues.dlq,
      keepImages === undefined ? {} : { keepImages },
    ),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test' }),
    source: 'stream-consumer',
  });
  expect(res.batchItemFailures).toEqual([]);
}

describe('issue 15 item 5: what a parked message carries', () => {
  it('issue 15 item 5: by default the key, table and reason only — no item image; redrive re-reads the item', async () => {
    delete process.env.STREAMFILL_DLQ_KEEP_IMAGES;
    await parkOne('s-default', undefined);
    const [body, ...more] = await takeAllMessages(clients.sqs, queues.dlq);
    expect(more).toEqual([]);
    expect(body).not.toContain(SECRET);
    expect(body).not.toContain('NewImage');
    const parked = JSON.parse(body!);
    expect(parked).toMatchObject({
      table: tables.session,
      key: { user_id: 'u1', session_id: 's-default' },
      imageOmitted: true,
    });
    expect(parked.reason).toContain('chat_app_id');
    expect(parked.record).toBeUndefined();

    // Fixed by the operator, then redriven: the item is read back by its key.
    await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.dlq,
        MessageBody: body!,
      }),
    );
    await clients.doc.send(
      new PutCommand({
        TableName: tables.session,
        Item: {
          user_id: 'u1',
          session_id: 's-default',
          chat_app_id: 'app1',
          last_update: '2025-03-01T10:00:00.000Z',
          title: SECRET,
        },
      }),
    );
    const r = await redrive(
      { ...clients, planner: PIKA, tables, workQueueUrl: queues.work, dlqUrl: queues.dlq },
      { includeMalformed: true },
    );
    expect(r.byKind.parked).toEqual({ found: 1, moved: 1, kept: 0 });
    const work = (await takeAllMessages(clients.sqs, queues.work)).map(decodeWorkMessage);
    expect(work).toMatchObject([
      { kind: 'items', items: [{ key: { user_id: 'u1', session_id: 's-default' } }] },
    ]);
  });

  it('issue 15 item 5: STREAMFILL_DLQ_KEEP_IMAGES=true keeps the image, within the SQS limit', async () => {
    process.env.STREAMFILL_DLQ_KEEP_IMAGES = 'true';
    try {
      await parkOne('s-kept', undefined);
    } finally {
      delete process.env.STREAMFILL_DLQ_KEEP_IMAGES;
    }
    const [body] = await takeAllMessages(clients.sqs, queues.dlq);
    expect(body).toContain(SECRET);
    expect(Buffer.byteLength(body!)).toBeLessThanOrEqual(262_144);
    expect(JSON.parse(body!).record.dynamodb.Keys).toBeDefined();
  });
});
