// The local DynamoDB Streams event source mapping against DynamoDB Local and ElasticMQ.
import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
} from 'aws-lambda';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FileCheckpointStore,
  MemoryCheckpointStore,
  SHARD_END,
} from '../../local/event-source/checkpoint.ts';
import { laneOf } from '../../local/event-source/lanes.ts';
import {
  DynamoDBStreamMapping,
  type DynamoDBStreamMappingOptions,
} from '../../local/event-source/dynamodb-stream-mapping.ts';
import type { StreamOnFailureMessage } from '../../local/event-source/stream-event.ts';
import { useLocalServices } from '../support/env.ts';

useLocalServices('event-source-stream');

const region = 'us-east-1';
let ddb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;

beforeAll(() => {
  const credentials = {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
  };
  const ddbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  ddb = new DynamoDBClient({ region, credentials, endpoint: ddbEndpoint });
  streams = new DynamoDBStreamsClient({
    region,
    credentials,
    endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ?? ddbEndpoint,
  });
  sqs = new SQSClient({ region, credentials, endpoint: process.env.AWS_ENDPOINT_URL_SQS });
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});
afterAll(() => {
  ddb?.destroy();
  streams?.destroy();
  sqs?.destroy();
});

const unique = (prefix: string) =>
  `esm-${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

/** A fresh stream-enabled table per test (DynamoDB Local streams slow down as records pile up). */
async function createTable(prefix: string): Promise<{ tableName: string; streamArn: string }> {
  const tableName = unique(prefix);
  await ddb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  cleanups.push(() => ddb.send(new DeleteTableCommand({ TableName: tableName })));
  const table = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
  return { tableName, streamArn: table.Table!.LatestStreamArn! };
}

async function createQueue(prefix: string): Promise<string> {
  const res = await sqs.send(new CreateQueueCommand({ QueueName: unique(prefix) }));
  cleanups.push(() => sqs.send(new DeleteQueueCommand({ QueueUrl: res.QueueUrl })));
  return res.QueueUrl!;
}

async function drainQueue(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (!res.Messages?.length) return bodies;
    bodies.push(...res.Messages.map((m) => m.Body ?? ''));
  }
}

function mapping(
  options: Omit<DynamoDBStreamMappingOptions, 'streams' | 'dynamodb'>,
): DynamoDBStreamMapping {
  const m = new DynamoDBStreamMapping({
    streams,
    dynamodb: ddb,
    retryBackoffMs: 20,
    logger: quiet,
    ...options,
  });
  cleanups.push(() => m.stop());
  return m;
}

const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: (msg: string, d?: unknown) => console.error(msg, d),
};

async function put(
  tableName: string,
  pk: string,
  v: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await ddb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: { pk: { S: pk }, v: { N: String(v) }, ...(extra as object) },
    }),
  );
}

const keyOf = (r: DynamoDBRecord) => r.dynamodb?.Keys?.pk?.S ?? '';
const versionOf = (r: DynamoDBRecord) => Number(r.dynamodb?.NewImage?.v?.N ?? -1);
const seqOf = (r: DynamoDBRecord) => r.dynamodb?.SequenceNumber ?? '';

/** Sequence number -> key of every record a handler of this file saw (to read on-failure ranges). */
const keyBySeq = new Map<string, string>();
const remember = (records: DynamoDBRecord[]) => {
  for (const r of records) keyBySeq.set(seqOf(r), keyOf(r));
};
/** The keys at the two ends of an on-failure range (AWS's record names the range, not the records). */
const rangeKeys = (m: StreamOnFailureMessage) => [
  keyBySeq.get(m.DDBStreamBatchInfo.startSequenceNumber),
  keyBySeq.get(m.DDBStreamBatchInfo.endSequenceNumber),
];

/** A streams client on the same endpoint whose requests a test can intercept (fault injection). */
async function interceptedStreams(
  intercept: (command: string, input: Record<string, unknown>) => Promise<void> | void,
): Promise<DynamoDBStreamsClient> {
  const client = new DynamoDBStreamsClient({
    region,
    credentials: await streams.config.credentials(),
    endpoint:
      process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ?? process.env.AWS_ENDPOINT_URL_DYNAMODB,
  });
  cleanups.push(async () => client.destroy());
  client.middlewareStack.add(
    (next, context) => async (args) => {
      await intercept(context.commandName ?? '', args.input as Record<string, unknown>);
      return next(args);
    },
    { step: 'initialize', name: 'intercept' },
  );
  return client;
}

/** Rewrites a DynamoDB Local iterator so that the server answers ExpiredIteratorException. */
function ageIterator(input: Record<string, unknown>): void {
  const [arn, version, encoded] = String(input.ShardIterator).split('|');
  const [shard, seq] = Buffer.from(encoded!, 'base64').toString('utf8').split('|');
  const old = String(Date.now() - 20 * 60_000).padStart(30, '0');
  input.ShardIterator = [
    arn,
    version,
    Buffer.from(`${shard}|${seq}|${old}`).toString('base64'),
  ].join('|');
}

describe('DynamoDBStreamMapping', () => {
  it('delivers every write once, in order per key, across batch boundaries', async () => {
    const { streamArn, tableName } = await createTable('order');
    const seen: DynamoDBRecord[] = [];
    const batchSizes: number[] = [];
    const m = mapping({
      streamArn,
      batchSize: 7,
      handler: async (event) => {
        batchSizes.push(event.Records.length);
        seen.push(...event.Records);
      },
    });
    const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
    // Half of the writes before the mapping starts (TRIM_HORIZON), half while it runs.
    for (let v = 0; v < 5; v++) for (const k of keys) await put(tableName, k, v);
    await m.start();
    for (let v = 5; v < 10; v++) await Promise.all(keys.map((k) => put(tableName, k, v)));
    await m.waitForIdle(20_000);

    expect(seen).toHaveLength(60);
    expect(new Set(seen.map(seqOf)).size).toBe(60);
    for (const k of keys) {
      expect(seen.filter((r) => keyOf(r) === k).map(versionOf)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
    // Strictly increasing sequence numbers: one shard, in order.
    const seqs = seen.map((r) => BigInt(seqOf(r)));
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(7);
    expect(batchSizes.length).toBeGreaterThanOrEqual(9);
    const stats = m.stats();
    expect(stats.recordsProcessed).toBe(60);
    expect(stats.failures).toBe(0);
    expect(stats.shards.every((s) => s.caughtUp && s.pendingRecords === 0)).toBe(true);
  });

  it('gathers records across polls within the batching window', async () => {
    const { streamArn, tableName } = await createTable('window');
    const batchSizes: number[] = [];
    const m = mapping({
      streamArn,
      batchSize: 50,
      maximumBatchingWindowMs: 700,
      handler: async (e) => void batchSizes.push(e.Records.length),
    });
    await m.start();
    for (let i = 0; i < 10; i++) {
      await put(tableName, `w${i}`, 1);
      await new Promise((r) => setTimeout(r, 20));
    }
    await m.waitForIdle(10_000);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(batchSizes.length).toBeLessThanOrEqual(2);
  });

  it('partial batch response: checkpoints before the lowest failure and re-delivers from it', async () => {
    const { streamArn, tableName } = await createTable('partial');
    const succeeded = new Map<string, number>();
    const failedOnce = new Set<string>();
    const invocations: { seqs: string[]; lowestFailed?: string }[] = [];
    const m = mapping({
      streamArn,
      batchSize: 10,
      handler: async (event): Promise<DynamoDBBatchResponse> => {
        const failures: { itemIdentifier: string }[] = [];
        for (const r of event.Records) {
          const id = `${keyOf(r)}@${versionOf(r)}`;
          // Every 4th record fails on its first delivery.
          if (versionOf(r) % 4 === 3 && !failedOnce.has(id)) {
            failedOnce.add(id);
            failures.push({ itemIdentifier: seqOf(r) });
            continue;
          }
          // Records after a failure will be re-delivered: process them then, not now.
          if (failures.length === 0) succeeded.set(id, (succeeded.get(id) ?? 0) + 1);
        }
        invocations.push({
          seqs: event.Records.map(seqOf),
          lowestFailed: failures[0]?.itemIdentifier,
        });
        // Reported highest first: the mapping must still retry from the LOWEST.
        return { batchItemFailures: failures.reverse() };
      },
    });
    await m.start();
    for (let v = 0; v < 24; v++) await put(tableName, 'p', v);
    await m.waitForIdle(20_000);

    expect([...succeeded.keys()].sort()).toEqual(
      Array.from({ length: 24 }, (_, v) => `p@${v}`).sort(),
    );
    expect([...succeeded.values()].every((n) => n === 1)).toBe(true);
    const partials = invocations.filter((inv) => inv.lowestFailed);
    expect(partials.length).toBeGreaterThanOrEqual(1);
    const acknowledged = new Set<string>();
    invocations.forEach((inv, i) => {
      // Nothing acknowledged is ever delivered again...
      for (const seq of inv.seqs) expect(acknowledged.has(seq)).toBe(false);
      const cut = inv.lowestFailed ? inv.seqs.indexOf(inv.lowestFailed) : inv.seqs.length;
      inv.seqs.slice(0, cut).forEach((seq) => acknowledged.add(seq));
      // ...and the next invocation starts exactly at the lowest failed record (later ones re-delivered too).
      if (inv.lowestFailed) expect(invocations[i + 1]?.seqs[0]).toBe(inv.lowestFailed);
    });
    expect(new Set(invocations.flatMap((inv) => inv.seqs)).size).toBe(24);
    expect(m.stats()).toMatchObject({
      failures: partials.length,
      recordsProcessed: 24,
      recordsToOnFailure: 0,
    });
  });

  it('a poison record alone reaches the on-failure queue with AWS metadata; the rest is processed', async () => {
    const { streamArn, tableName } = await createTable('poison');
    const onFailureQueue = await createQueue('poison-dlq');
    const ok = new Set<string>();
    let poisonCalls = 0;
    const m = mapping({
      streamArn,
      batchSize: 16,
      maximumRetryAttempts: 2,
      onFailure: { queueUrl: onFailureQueue, sqs },
      functionName: 'stream-consumer-test',
      handler: async (event) => {
        remember(event.Records);
        if (event.Records.some((r) => keyOf(r) === 'poison')) {
          poisonCalls++;
          throw new Error('cannot migrate item poison');
        }
        for (const r of event.Records) ok.add(keyOf(r));
      },
    });
    for (let i = 0; i < 30; i++) await put(tableName, i === 13 ? 'poison' : `good${i}`, 1);
    await m.start();
    await m.waitForIdle(30_000);

    expect(ok.size).toBe(29);
    const bodies = await drainQueue(onFailureQueue);
    expect(bodies).toHaveLength(1);
    const msg = JSON.parse(bodies[0]!) as StreamOnFailureMessage;
    expect(msg.requestContext).toMatchObject({
      functionArn: `arn:aws:lambda:${region}:000000000000:function:stream-consumer-test`,
      condition: 'RetryAttemptsExhausted',
    });
    expect(msg.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(msg.requestContext.approximateInvokeCount).toBeGreaterThanOrEqual(3);
    expect(msg.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(msg.version).toBe('1.0');
    expect(new Date(msg.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const poisonSeq = [...keyBySeq].find(([, k]) => k === 'poison')?.[0];
    expect(poisonSeq).toBeDefined();
    expect(msg.DDBStreamBatchInfo).toMatchObject({
      batchSize: 1,
      startSequenceNumber: poisonSeq,
      endSequenceNumber: poisonSeq,
      streamArn,
    });
    expect(msg.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
    expect(msg.DDBStreamBatchInfo.approximateArrivalOfFirstRecord).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    // AWS's shape exactly: metadata only, "the actual records aren't included".
    expect(Object.keys(msg).sort()).toEqual([
      'DDBStreamBatchInfo',
      'requestContext',
      'responseContext',
      'timestamp',
      'version',
    ]);
    expect(bodies[0]).not.toContain('"Keys"');
    expect(poisonCalls).toBeGreaterThanOrEqual(3);
    expect(m.stats()).toMatchObject({
      recordsToOnFailure: 1,
      onFailureMessages: 1,
      recordsProcessed: 29,
    });
  });

  it('without bisect the whole failing batch is parked as ONE message and the shard moves on', async () => {
    const { streamArn, tableName } = await createTable('nobisect');
    const onFailureQueue = await createQueue('nobisect-dlq');
    const ok: string[] = [];
    for (let i = 0; i < 12; i++) await put(tableName, `n${String(i).padStart(2, '0')}`, 1);
    const m = mapping({
      streamArn,
      batchSize: 5,
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: 1,
      onFailure: { queueUrl: onFailureQueue, sqs },
      handler: async (event) => {
        remember(event.Records);
        if (event.Records.some((r) => keyOf(r) === 'n06')) throw new Error('boom');
        ok.push(...event.Records.map(keyOf));
      },
    });
    await m.start();
    await m.waitForIdle(20_000);
    const bodies = (await drainQueue(onFailureQueue)).map(
      (b) => JSON.parse(b) as StreamOnFailureMessage,
    );
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.DDBStreamBatchInfo.batchSize).toBe(5);
    expect(bodies[0]!.requestContext.approximateInvokeCount).toBe(2);
    expect(rangeKeys(bodies[0]!)).toEqual(['n05', 'n09']);
    expect(ok).toEqual(['n00', 'n01', 'n02', 'n03', 'n04', 'n10', 'n11']);
  });

  it('records older than maximumRecordAgeSeconds go to on-failure as RecordAgeExceeded', async () => {
    const { streamArn, tableName } = await createTable('age');
    const onFailureQueue = await createQueue('age-dlq');
    let delivered = 0;
    await put(tableName, 'old', 1);
    const m = mapping({
      streamArn,
      maximumRecordAgeSeconds: 0,
      onFailure: { queueUrl: onFailureQueue, sqs },
      handler: async (e) => void (delivered += e.Records.length),
    });
    // DynamoDB Local truncates ApproximateCreationDateTime to the minute: any record is > 0 s old
    // once its minute is over, and at most 60 s later. Wait until the write is at least 1 s old.
    await new Promise((r) => setTimeout(r, 1100));
    await m.start();
    await m.waitForIdle(10_000);
    const bodies = (await drainQueue(onFailureQueue)).map(
      (b) => JSON.parse(b) as StreamOnFailureMessage,
    );
    expect(delivered).toBe(0);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.requestContext).toMatchObject({
      condition: 'RecordAgeExceeded',
      approximateInvokeCount: 0,
    });
    expect(bodies[0]!.responseContext).not.toHaveProperty('functionError');
  });

  it('restart with a FileCheckpointStore resumes after the last acknowledged record', async () => {
    const { streamArn, tableName } = await createTable('restart');
    const dir = await mkdtemp(join(tmpdir(), 'esm-cp-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const first: string[] = [];
    const second: string[] = [];
    const slow = (sink: string[]) => async (event: DynamoDBStreamEvent) => {
      await new Promise((r) => setTimeout(r, 30));
      sink.push(...event.Records.map((r) => `${keyOf(r)}@${versionOf(r)}`));
    };

    const a = mapping({
      streamArn,
      batchSize: 3,
      checkpoint: new FileCheckpointStore(dir),
      handler: slow(first),
    });
    await a.start();
    for (let v = 0; v < 40; v++) await put(tableName, 'r', v);
    // Stop mid-stream: some acknowledged, some not yet read.
    while (first.length < 9) await new Promise((r) => setTimeout(r, 5));
    await a.stop();
    expect(first.length).toBeLessThan(40);
    for (let v = 40; v < 50; v++) await put(tableName, 'r', v);

    const b = mapping({
      streamArn,
      batchSize: 3,
      checkpoint: new FileCheckpointStore(dir),
      handler: slow(second),
    });
    await b.start();
    await b.waitForIdle(20_000);

    const all = [...first, ...second];
    expect(all).toEqual(Array.from({ length: 50 }, (_, v) => `r@${v}`));
    const saved = JSON.parse(
      await readFile(new FileCheckpointStore(dir).fileFor(streamArn), 'utf8'),
    ) as { shards: Record<string, string> };
    expect(Object.values(saved.shards)).toHaveLength(1);
    expect(Object.values(saved.shards)[0]).not.toBe(SHARD_END);
  });

  it('event shape: MODIFY carries both images, REMOVE only the old one, TTL deletes the service identity', async () => {
    const { streamArn, tableName } = await createTable('shape');
    await ddb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'exp', Enabled: true },
      }),
    );
    const records: DynamoDBRecord[] = [];
    const contexts: Context[] = [];
    const m = mapping({
      tableName,
      startingPosition: 'LATEST',
      handler: async (event, context) => {
        records.push(...event.Records);
        contexts.push(context);
      },
    });
    await put(tableName, 'before-start', 1); // LATEST: not delivered
    await m.start();
    expect(m.streamArn).toBe(streamArn);
    await m.waitForIdle(10_000);
    await put(tableName, 'a', 1, {
      b: { B: new Uint8Array([0, 1, 254, 255]) },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1', '2.5'] },
      bs: { BS: [new Uint8Array([7])] },
      m: { M: { inner: { L: [{ S: 's' }, { N: '3' }, { NULL: true }, { BOOL: true }] } } },
    });
    await ddb.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: { S: 'a' } },
        UpdateExpression: 'SET v = :v',
        ExpressionAttributeValues: { ':v': { N: '2' } },
      }),
    );
    await ddb.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: 'a' } } }));
    await put(tableName, 'ttl', 1, { exp: { N: String(Math.floor(Date.now() / 1000) - 60) } });
    const deadline = Date.now() + 20_000;
    while (
      !records.some((r) => r.eventName === 'REMOVE' && keyOf(r) === 'ttl') &&
      Date.now() < deadline
    )
      await m.waitForIdle(10_000);

    expect(records.map((r) => `${r.eventName}:${keyOf(r)}`)).toEqual([
      'INSERT:a',
      'MODIFY:a',
      'REMOVE:a',
      'INSERT:ttl',
      'REMOVE:ttl',
    ]);
    const [insert, modify, remove, , ttlRemove] = records;
    for (const r of records) {
      expect(r).toMatchObject({
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: region,
        eventSourceARN: streamArn,
      });
      expect(r.eventID).toMatch(/\S/);
      expect(typeof r.dynamodb?.ApproximateCreationDateTime).toBe('number');
      expect(Math.abs(r.dynamodb!.ApproximateCreationDateTime! - Date.now() / 1000)).toBeLessThan(
        180,
      );
      expect(r.dynamodb).toMatchObject({
        StreamViewType: 'NEW_AND_OLD_IMAGES',
        Keys: { pk: { S: keyOf(r) } },
      });
      expect(r.dynamodb?.SizeBytes).toBeGreaterThan(0);
      expect(r.dynamodb?.SequenceNumber).toMatch(/^\d+$/);
    }
    expect(insert!.dynamodb).not.toHaveProperty('OldImage');
    expect(insert!.dynamodb!.NewImage).toEqual({
      pk: { S: 'a' },
      v: { N: '1' },
      b: { B: 'AAH+/w==' },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1', '2.5'] },
      bs: { BS: ['Bw=='] },
      m: { M: { inner: { L: [{ S: 's' }, { N: '3' }, { NULL: true }, { BOOL: true }] } } },
    });
    expect(modify!.dynamodb!.OldImage).toEqual(insert!.dynamodb!.NewImage);
    expect(modify!.dynamodb!.NewImage).toEqual({ ...insert!.dynamodb!.NewImage, v: { N: '2' } });
    expect(remove!.dynamodb).not.toHaveProperty('NewImage');
    expect(remove!.dynamodb!.OldImage).toEqual(modify!.dynamodb!.NewImage);
    expect(remove).not.toHaveProperty('userIdentity');
    expect(ttlRemove!.userIdentity).toEqual({
      type: 'Service',
      principalId: 'dynamodb.amazonaws.com',
    });
    // Plain JSON, exactly what a deployed function would receive.
    expect(JSON.parse(JSON.stringify(records))).toStrictEqual(records);

    const ctx = contexts[0]!;
    expect(ctx.functionName).toBe('streamfill-stream-consumer');
    expect(ctx.invokedFunctionArn).toBe(
      `arn:aws:lambda:${region}:000000000000:function:streamfill-stream-consumer`,
    );
    expect(ctx.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(new Set(contexts.map((c) => c.awsRequestId)).size).toBe(contexts.length);
  });

  it('recovers from an expired shard iterator without skipping or repeating records', async () => {
    const { streamArn, tableName } = await createTable('expired');
    // A client whose GetRecords gets, once, an iterator dated 20 minutes ago: the real server
    // answers ExpiredIteratorException (DynamoDB Local iterators live 15 minutes).
    let calls = 0;
    let expiredSent = 0;
    const aged = await interceptedStreams((command, input) => {
      if (command === 'GetRecordsCommand' && input.ShardIterator && ++calls === 6) {
        ageIterator(input);
        expiredSent++;
      }
    });
    const seen: number[] = [];
    const warnings: string[] = [];
    const errors: string[] = [];
    const m = new DynamoDBStreamMapping({
      streamArn,
      streams: aged,
      batchSize: 4,
      logger: {
        info: () => undefined,
        warn: (msg) => void warnings.push(msg),
        error: (msg) => void errors.push(msg),
      },
      handler: async (e) => void seen.push(...e.Records.map(versionOf)),
    });
    cleanups.push(() => m.stop());
    for (let v = 0; v < 10; v++) await put(tableName, 'x', v);
    await m.start();
    await m.waitForIdle(10_000);
    for (let v = 10; v < 20; v++) await put(tableName, 'x', v);
    await m.waitForIdle(10_000);
    expect(expiredSent).toBe(1);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, v) => v));
    // Re-positioned at once as an expected condition, not retried as an error.
    expect(warnings.some((w) => w.includes('ExpiredIteratorException'))).toBe(true);
    expect(errors).toEqual([]);
  });

  it('a shard checkpointed as finished (SHARD_END) is not read again', async () => {
    const { streamArn, tableName } = await createTable('finished');
    const dir = await mkdtemp(join(tmpdir(), 'esm-cp-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await put(tableName, 'old', 1);
    const probe = mapping({ streamArn, handler: async () => undefined });
    await probe.start();
    const [shard] = probe.stats().shards;
    await probe.stop();
    await new FileCheckpointStore(dir).save(streamArn, shard!.shardId, SHARD_END);

    let delivered = 0;
    const m = mapping({
      streamArn,
      checkpoint: new FileCheckpointStore(dir),
      handler: async (e) => void (delivered += e.Records.length),
    });
    await m.start();
    await put(tableName, 'new', 1);
    await m.waitForIdle(5_000);
    expect(delivered).toBe(0);
    expect(m.stats().shards).toEqual([
      expect.objectContaining({ status: 'finished', caughtUp: true }),
    ]);
  });

  it('reaches the handler quickly after a write (latency p50/p99)', async () => {
    const { streamArn, tableName } = await createTable('latency');
    const arrived = new Map<string, number>();
    const m = mapping({
      streamArn,
      handler: async (e) => e.Records.forEach((r) => arrived.set(keyOf(r), performance.now())),
    });
    await m.start();
    await m.waitForIdle(10_000);
    const written = new Map<string, number>();
    const n = 300;
    for (let i = 0; i < n; i++) {
      const key = `l${i}`;
      await put(tableName, key, i);
      written.set(key, performance.now());
      await new Promise((r) => setTimeout(r, i % 3 === 0 ? 15 : 1));
    }
    await m.waitForIdle(20_000);
    const latencies = [...written].map(([k, t]) => arrived.get(k)! - t).sort((a, b) => a - b);
    expect(latencies).toHaveLength(n);
    const p = (q: number) => latencies[Math.min(n - 1, Math.floor(q * n))]!;
    console.info(
      `stream write -> handler latency over ${n} writes: p50 ${p(0.5).toFixed(0)} ms, p99 ${p(0.99).toFixed(0)} ms, max ${p(1).toFixed(0)} ms`,
    );
    expect(p(0.5)).toBeLessThan(300);
    expect(p(0.99)).toBeLessThan(1_500);
  });

  it('waitForIdle waits for records written just before it is called, and stop() is graceful', async () => {
    const { streamArn, tableName } = await createTable('idle');
    let handled = 0;
    let running = 0;
    let maxRunning = 0;
    const m = mapping({
      streamArn,
      batchSize: 2,
      handler: async (e) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 50));
        handled += e.Records.length;
        running--;
      },
    });
    await m.start();
    await m.waitForIdle(5_000);
    for (let i = 0; i < 6; i++) await put(tableName, `i${i}`, i);
    await m.waitForIdle(10_000);
    expect(handled).toBe(6);
    expect(maxRunning).toBe(1);

    for (let i = 6; i < 12; i++) await put(tableName, `i${i}`, i);
    while (handled === 6) await new Promise((r) => setTimeout(r, 5));
    const before = performance.now();
    await m.stop();
    expect(running).toBe(0); // the in-flight batch finished
    expect(performance.now() - before).toBeLessThan(1_000);
    await expect(m.waitForIdle(100)).rejects.toThrow(/stopped/);
  });
});

/** A LATEST mapping on `client` that records the keys it is handed into `sink`. */
function latestMapping(
  client: DynamoDBStreamsClient,
  streamArn: string,
  sink: string[],
  extra: Partial<DynamoDBStreamMappingOptions> = {},
): DynamoDBStreamMapping {
  const m = new DynamoDBStreamMapping({
    streamArn,
    streams: client,
    startingPosition: 'LATEST',
    logger: quiet,
    handler: async (e) => void sink.push(...e.Records.map(keyOf)),
    ...extra,
  });
  cleanups.push(() => m.stop());
  return m;
}

describe('DynamoDBStreamMapping fidelity (issue 7 item 8: never kinder than AWS)', () => {
  for (const fault of ['fails', 'expires'] as const) {
    it(`item 8 LATEST pin: a first GetRecords that ${fault} re-opens at the pinned position, not at LATEST`, async () => {
      const { streamArn, tableName } = await createTable(`pin-${fault}`);
      let armed = false;
      let faults = 0;
      const client = await interceptedStreams(async (command, input) => {
        if (!armed || command !== 'GetRecordsCommand' || faults > 0) return;
        faults++;
        // The write lands while this first read is under way, then the read goes wrong.
        await put(tableName, 'during-fault', 1);
        if (fault === 'expires') ageIterator(input);
        else
          throw Object.assign(new Error('injected GetRecords failure'), {
            name: 'InternalServerError',
          });
      });
      const seen: string[] = [];
      const m = latestMapping(client, streamArn, seen);
      await put(tableName, 'before-start', 1);
      await m.start();
      armed = true;
      await put(tableName, 'after-start', 1);
      while (faults === 0) await new Promise((r) => setTimeout(r, 10));
      await m.waitForIdle(10_000);
      // Both writes came after start() returned (in either order): neither may be skipped.
      expect(seen.sort()).toEqual(['after-start', 'during-fault']);
    });
  }

  it('item 8 start() awaits the initial LATEST iterators: a write right after start() is delivered', async () => {
    const { streamArn, tableName } = await createTable('await-start');
    // A slow GetShardIterator widens the window in which start() used to return too early.
    const client = await interceptedStreams(async (command) => {
      if (command === 'GetShardIteratorCommand') await new Promise((r) => setTimeout(r, 400));
    });
    const seen: string[] = [];
    const m = latestMapping(client, streamArn, seen);
    await put(tableName, 'before-start', 1);
    await m.start();
    await put(tableName, 'right-after-start', 1);
    await m.waitForIdle(10_000);
    expect(seen).toEqual(['right-after-start']);
  });

  it('item 8 closed shards skipped under LATEST are checkpointed as finished, and not replayed after a restart', async () => {
    const { streamArn, tableName } = await createTable('closed-latest');
    const dir = await mkdtemp(join(tmpdir(), 'esm-cp-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // DynamoDB Local never closes a shard: DescribeStream is made to list, beside the real open
    // shard, a closed one holding history from before the consumer existed.
    const closedShard = 'shardId-00000000000000000000-closedhistory';
    const iteratorsAsked: string[] = [];
    const client = await interceptedStreams((command, input) => {
      if (command === 'GetShardIteratorCommand') iteratorsAsked.push(String(input.ShardId));
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'DescribeStreamCommand') {
          const desc = (out.output as { StreamDescription?: { Shards?: unknown[] } })
            .StreamDescription;
          desc?.Shards?.unshift({
            ShardId: closedShard,
            SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '2' },
          });
        }
        return out;
      },
      { step: 'initialize', name: 'closedShard' },
    );
    const run = (sink: string[]) =>
      latestMapping(client, streamArn, sink, { checkpoint: new FileCheckpointStore(dir) });
    const first: string[] = [];
    const a = run(first);
    await a.start();
    await put(tableName, 'one', 1);
    await a.waitForIdle(10_000);
    await a.stop();
    const saved = await new FileCheckpointStore(dir).load(streamArn);
    expect(saved[closedShard]).toBe(SHARD_END);

    const b = run([]);
    await b.start();
    await b.waitForIdle(10_000);
    expect(iteratorsAsked.filter((id) => id === closedShard)).toEqual([]);
    expect(first).toEqual(['one']);
  });

  it('item 10 LATEST stopped before its first record: the restart reads the writes made meanwhile', async () => {
    const { streamArn, tableName } = await createTable('latest-restart');
    const dir = await mkdtemp(join(tmpdir(), 'esm-cp-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const seen: string[] = [];
    const run = () =>
      mapping({
        streamArn,
        startingPosition: 'LATEST',
        checkpoint: new FileCheckpointStore(dir),
        handler: async (e) => void seen.push(...e.Records.map(keyOf)),
      });
    await put(tableName, 'before-first-start', 1);
    const a = run();
    await a.start();
    await a.waitForIdle(10_000);
    await a.stop();
    for (let i = 0; i < 5; i++) await put(tableName, `meanwhile${i}`, 1);
    const b = run();
    await b.start();
    await b.waitForIdle(10_000);
    expect(seen).toEqual(['meanwhile0', 'meanwhile1', 'meanwhile2', 'meanwhile3', 'meanwhile4']);
  });

  /** `n` records in one batch, each invocation reporting the record `pick` chooses as failed. */
  async function reportingFailures(
    prefix: string,
    n: number,
    pick: (records: DynamoDBRecord[]) => DynamoDBRecord,
  ) {
    const { streamArn, tableName } = await createTable(prefix);
    const onFailureQueue = await createQueue(`${prefix}-dlq`);
    for (let i = 0; i < n; i++) await put(tableName, `${prefix[0]}${i}`, 1);
    const invocations: string[][] = [];
    const m = mapping({
      streamArn,
      batchSize: n,
      maximumRetryAttempts: 2,
      onFailure: { queueUrl: onFailureQueue, sqs },
      handler: async (e): Promise<DynamoDBBatchResponse> => {
        invocations.push(e.Records.map(keyOf));
        remember(e.Records);
        return { batchItemFailures: [{ itemIdentifier: seqOf(pick(e.Records)) }] };
      },
    });
    await m.start();
    await m.waitForIdle(20_000);
    const bodies = (await drainQueue(onFailureQueue)).map(
      (b) => JSON.parse(b) as StreamOnFailureMessage,
    );
    return { invocations, bodies, stats: m.stats() };
  }

  it('item 8 ReportBatchItemFailures at the FIRST record is a partial failure: retried whole, counted, then parked whole (no bisection)', async () => {
    const { invocations, bodies, stats } = await reportingFailures('first', 4, (r) => r[0]!);
    const all = ['f0', 'f1', 'f2', 'f3'];
    expect(invocations).toEqual([all, all, all]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.requestContext).toMatchObject({
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    });
    expect(bodies[0]!.DDBStreamBatchInfo.batchSize).toBe(4);
    expect(rangeKeys(bodies[0]!)).toEqual(['f0', 'f3']);
    expect(stats).toMatchObject({ bisections: 0, retries: 2, recordsToOnFailure: 4 });
  });

  it('item 8 partial progress does not reset the retry count; the remainder (successes included) goes to on-failure', async () => {
    // Each attempt gets one record further: the second record of the batch fails.
    const { invocations, bodies, stats } = await reportingFailures(
      'quota',
      6,
      (r) => r[Math.min(1, r.length - 1)]!,
    );
    expect(invocations).toEqual([
      ['q0', 'q1', 'q2', 'q3', 'q4', 'q5'],
      ['q1', 'q2', 'q3', 'q4', 'q5'],
      ['q2', 'q3', 'q4', 'q5'],
    ]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.DDBStreamBatchInfo.batchSize).toBe(3);
    expect(rangeKeys(bodies[0]!)).toEqual(['q3', 'q5']);
    expect(stats).toMatchObject({ recordsProcessed: 3, recordsToOnFailure: 3 });
  });
});

describe('ParallelizationFactor (issue 16 item 5)', () => {
  /** Resolves once `cond()` holds; rejects with `what` after 20 s. */
  async function until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('lanes by item key: a stuck item holds only its lane, order is kept per item, the checkpoint stays below it', async () => {
    const { streamArn, tableName } = await createTable('lanes');
    const store = new MemoryCheckpointStore();
    const others = Array.from({ length: 24 }, (_, i) => `a${String(i).padStart(2, '0')}`);
    await put(tableName, 'x', 1);
    for (const k of others) await put(tableName, k, 1);
    await put(tableName, 'x', 2);
    const factor = 4;
    const xLane = laneOf({ dynamodb: { Keys: { pk: { S: 'x' } } } }, factor);
    const freeLanes = others.filter(
      (k) => laneOf({ dynamodb: { Keys: { pk: { S: k } } } }, factor) !== xLane,
    );
    expect(freeLanes.length).toBeGreaterThan(0);

    let release!: () => void;
    const latch = new Promise<void>((r) => (release = r));
    const processed: string[] = [];
    const m = mapping({
      streamArn,
      batchSize: 5,
      parallelizationFactor: factor,
      checkpoint: store,
      handler: async (e) => {
        if (e.Records.some((r) => keyOf(r) === 'x')) await latch;
        processed.push(...e.Records.map((r) => `${keyOf(r)}@${r.dynamodb?.NewImage?.v?.N}`));
      },
    });
    await m.start();
    // Written after x@1, processed while x@1's lane is stuck: the lanes overtake each other.
    await until(
      () => freeLanes.every((k) => processed.includes(`${k}@1`)),
      'the items of the other lanes processed',
    );
    expect(processed.some((p) => p.startsWith('x@'))).toBe(false);
    // Nothing below x@1 is done, so no checkpoint may pass it.
    const shardId = m.stats().shards[0]!.shardId;
    expect((await store.load(streamArn))[shardId]).toBeUndefined();

    release();
    await m.waitForIdle(20_000);
    expect(processed.filter((p) => p.startsWith('x@'))).toEqual(['x@1', 'x@2']);
    expect(new Set(processed).size).toBe(others.length + 2);
    // All done: the checkpoint is the last record.
    expect((await store.load(streamArn))[shardId]).toBe(m.stats().shards[0]!.checkpoint);
    expect(m.stats().recordsProcessed).toBe(others.length + 2);
  });
});
