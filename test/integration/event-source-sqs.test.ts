// The local SQS event source mapping against ElasticMQ.
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqsMapping, type SqsMappingOptions } from '../../local/event-source/sqs-mapping.ts';
import { useLocalServices } from '../support/env.ts';

useLocalServices('event-source-sqs');

const region = 'us-east-1';
let sqs: SQSClient;

beforeAll(() => {
  sqs = new SQSClient({
    region,
    endpoint: process.env.AWS_ENDPOINT_URL_SQS,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    },
  });
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});
afterAll(() => sqs?.destroy());

const unique = (prefix: string) =>
  `esm-${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
const quiet = {
  info: () => undefined,
  warn: () => undefined,
  error: (msg: string, d?: unknown) => console.error(msg, d),
};

async function createQueue(
  prefix: string,
  attributes: Record<string, string> = {},
): Promise<{ url: string; arn: string }> {
  const res = await sqs.send(
    new CreateQueueCommand({ QueueName: unique(prefix), Attributes: attributes }),
  );
  const url = res.QueueUrl!;
  cleanups.push(() => sqs.send(new DeleteQueueCommand({ QueueUrl: url })));
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: attrs.Attributes!.QueueArn! };
}

async function send(queueUrl: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })),
      }),
    );
  }
}

function mapping(options: Omit<SqsMappingOptions, 'sqs'>): SqsMapping {
  // ElasticMQ's default visibility timeout is 30 s: a function timeout above it is refused.
  const m = new SqsMapping({ sqs, logger: quiet, functionTimeoutMs: 20_000, ...options });
  cleanups.push(() => m.stop());
  return m;
}

const depth = async (queueUrl: string) => {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(res.Attributes?.ApproximateNumberOfMessages) +
    Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
};

describe('SqsMapping', () => {
  it('delivers batches of at most batchSize in the Lambda record shape and deletes them', async () => {
    const { url } = await createQueue('batches');
    const seen: SQSRecord[] = [];
    const sizes: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const m = mapping({
      queueUrl: url,
      batchSize: 10,
      maxConcurrency: 2,
      functionName: 'worker-test',
      handler: async (event, context) => {
        expect(context.functionName).toBe('worker-test');
        running++;
        maxRunning = Math.max(maxRunning, running);
        sizes.push(event.Records.length);
        seen.push(...event.Records);
        await new Promise((r) => setTimeout(r, 30));
        running--;
      },
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'greeting' },
          blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
          n: { DataType: 'Number', StringValue: '42' },
        },
      }),
    );
    await send(
      url,
      Array.from({ length: 34 }, (_, i) => `m${i}`),
    );
    await m.start();
    await m.waitForIdle(20_000);

    expect(seen).toHaveLength(35);
    expect(new Set(seen.map((r) => r.body)).size).toBe(35);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(await depth(url)).toBe(0);

    const first = seen.find((r) => r.body === '{"hello":"world"}')!;
    const name = new URL(url).pathname.split('/').pop();
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${region}:000000000000:${name}`,
      awsRegion: region,
      md5OfBody: 'fbc24bcc7a1794758fc1327fcfebdaf6',
      messageAttributes: {
        kind: {
          stringValue: 'greeting',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
        blob: {
          binaryValue: 'AQID',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'Binary',
        },
        n: { stringValue: '42', stringListValues: [], binaryListValues: [], dataType: 'Number' },
      },
    });
    expect(first.messageId).toMatch(/\S/);
    expect(first.receiptHandle).toMatch(/\S/);
    expect(first.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(first.attributes.ApproximateReceiveCount).toBe('1');
    expect(Number(first.attributes.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(first.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(
      Number(first.attributes.SentTimestamp),
    );
    expect(first.attributes.SenderId).toBeTypeOf('string');
    expect(m.stats()).toMatchObject({
      received: 35,
      recordsProcessed: 35,
      recordsFailed: 0,
      inFlight: 0,
    });
  });

  it('partial batch response: only the reported messages come back', async () => {
    const { url } = await createQueue('partial');
    const deliveries = new Map<string, string[]>();
    const m = mapping({
      queueUrl: url,
      retryDelaySeconds: 0,
      handler: async (event): Promise<SQSBatchResponse> => {
        const failures: { itemIdentifier: string }[] = [];
        for (const r of event.Records) {
          deliveries.set(r.body, [
            ...(deliveries.get(r.body) ?? []),
            r.attributes.ApproximateReceiveCount,
          ]);
          if (r.body.startsWith('flaky') && r.attributes.ApproximateReceiveCount === '1')
            failures.push({ itemIdentifier: r.messageId });
        }
        return { batchItemFailures: failures };
      },
    });
    const bodies = Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? `flaky${i}` : `ok${i}`));
    await send(url, bodies);
    await m.start();
    await m.waitForIdle(20_000);

    for (const body of bodies) {
      expect(deliveries.get(body), body).toEqual(body.startsWith('flaky') ? ['1', '2'] : ['1']);
    }
    expect(m.stats()).toMatchObject({ recordsProcessed: 20, recordsFailed: 4, redeliveries: 4 });
  });

  it('a thrown error leaves the whole batch for a retry', async () => {
    const { url } = await createQueue('throws');
    let calls = 0;
    const done: string[] = [];
    const m = mapping({
      queueUrl: url,
      retryDelaySeconds: 0,
      maxConcurrency: 1,
      handler: async (event) => {
        if (++calls === 1) throw new Error('first call fails');
        done.push(...event.Records.map((r) => r.body));
      },
    });
    await send(url, ['a', 'b', 'c']);
    await m.start();
    await m.waitForIdle(20_000);
    expect(done.sort()).toEqual(['a', 'b', 'c']);
    expect(m.stats().handlerErrors).toBe(1);
  });

  it('RedrivePolicy moves a message that keeps failing to the DLQ after maxReceiveCount', async () => {
    const dlq = await createQueue('redrive-dlq');
    const { url, arn } = await createQueue('redrive', {
      VisibilityTimeout: '30',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 3 }),
    });
    let poisonDeliveries = 0;
    const ok: string[] = [];
    const m = mapping({
      queueUrl: url,
      retryDelaySeconds: 0,
      handler: async (event): Promise<SQSBatchResponse> => {
        const failures = [];
        for (const r of event.Records) {
          if (r.body === 'poison') {
            poisonDeliveries++;
            failures.push({ itemIdentifier: r.messageId });
          } else ok.push(r.body);
        }
        return { batchItemFailures: failures };
      },
    });
    await send(url, ['x1', 'poison', 'x2', 'x3']);
    await m.start();
    await m.waitForIdle(20_000);

    expect(poisonDeliveries).toBe(3);
    expect(ok.sort()).toEqual(['x1', 'x2', 'x3']);
    const parked = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(parked.Messages?.map((msg) => msg.Body)).toEqual(['poison']);
    expect(parked.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn).toBe(arn);
  });

  it('waitForIdle counts in-flight and retrying messages; times out while a message is parked invisible', async () => {
    const { url } = await createQueue('idle', { VisibilityTimeout: '30' });
    let handled = 0;
    const m = mapping({
      queueUrl: url,
      handler: async (event): Promise<SQSBatchResponse> => {
        await new Promise((r) => setTimeout(r, 300));
        handled += event.Records.length;
        // 'stuck' fails and, without retryDelaySeconds, stays invisible for its 30 s timeout.
        return {
          batchItemFailures: event.Records.filter((r) => r.body === 'stuck').map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    });
    await m.start();
    await send(url, ['a', 'b']);
    await m.waitForIdle(10_000);
    expect(handled).toBe(2);

    await send(url, ['stuck']);
    await expect(m.waitForIdle(1_500)).rejects.toThrow(/not idle/);
    expect(m.stats().recordsFailed).toBe(1);
  });

  it('stop() returns quickly and a stopped mapping receives nothing more', async () => {
    const { url } = await createQueue('stop');
    let handled = 0;
    const m = mapping({
      queueUrl: url,
      waitTimeSeconds: 1,
      handler: async (e) => void (handled += e.Records.length),
    });
    await m.start();
    await send(url, ['one']);
    await m.waitForIdle(10_000);
    const t0 = performance.now();
    await m.stop();
    expect(performance.now() - t0).toBeLessThan(2_500);
    await send(url, ['two']);
    await new Promise((r) => setTimeout(r, 300));
    expect(handled).toBe(1);
    expect(await depth(url)).toBe(1);
    await expect(m.waitForIdle(100)).rejects.toThrow(/stopped/);
  });

  it('FIFO: after a failure in a message group, the later messages of that group are retried too, in order', async () => {
    const base = unique('fifo');
    const res = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${base}.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    );
    const url = res.QueueUrl!;
    cleanups.push(() => sqs.send(new DeleteQueueCommand({ QueueUrl: url })));
    const order: string[] = [];
    let failedOnce = false;
    const m = mapping({
      queueUrl: url,
      retryDelaySeconds: 0,
      maxConcurrency: 1,
      handler: async (event): Promise<SQSBatchResponse> => {
        const failures = [];
        for (const r of event.Records) {
          expect(r.attributes.MessageGroupId).toBe('g1');
          if (r.body === 'm2' && !failedOnce) {
            failedOnce = true;
            failures.push({ itemIdentifier: r.messageId });
            continue;
          }
          order.push(r.body);
        }
        // Only m2 is reported: the mapping must keep m3..m5 too, or the group's order breaks.
        return { batchItemFailures: failures };
      },
    });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: ['m1', 'm2', 'm3', 'm4', 'm5'].map((body, i) => ({
          Id: String(i),
          MessageBody: body,
          MessageGroupId: 'g1',
        })),
      }),
    );
    await m.start();
    await m.waitForIdle(20_000);
    // m3..m5 were handled in the failed attempt too (handlers must be idempotent, as on AWS),
    // but they were not deleted: the group is re-delivered from m2 on.
    expect(order.slice(-4)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(m.stats()).toMatchObject({ recordsFailed: 4, recordsProcessed: 5 });
  });

  it('gathers up to batchSize across receives within the batching window', async () => {
    const { url } = await createQueue('window');
    const sizes: number[] = [];
    const m = mapping({
      queueUrl: url,
      batchSize: 25,
      maximumBatchingWindowMs: 800,
      maxConcurrency: 1,
      handler: async (e) => void sizes.push(e.Records.length),
    });
    await send(
      url,
      Array.from({ length: 25 }, (_, i) => `w${i}`),
    );
    await m.start();
    await m.waitForIdle(10_000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(25);
    expect(Math.max(...sizes)).toBeGreaterThan(10);
    expect(
      () => new SqsMapping({ sqs, queueUrl: url, batchSize: 11, handler: async () => undefined }),
    ).toThrow(/BatchingWindow/);
  });
  it('item 8 rejects a visibility timeout shorter than the function timeout, naming both (as AWS does)', async () => {
    const { url } = await createQueue('short-visibility', { VisibilityTimeout: '30' });
    const m = mapping({ queueUrl: url, functionTimeoutMs: 60_000, handler: async () => undefined });
    await expect(m.start()).rejects.toThrow(
      /visibility timeout: 30 seconds.*function timeout: 60 seconds/i,
    );
    const ok = mapping({
      queueUrl: url,
      functionTimeoutMs: 30_000,
      handler: async () => undefined,
    });
    await ok.start();
    await ok.stop();
    const overridden = mapping({
      queueUrl: url,
      functionTimeoutMs: 60_000,
      visibilityTimeoutSeconds: 45,
      handler: async () => undefined,
    });
    await expect(overridden.start()).rejects.toThrow(/45 seconds.*60 seconds/);
  });
});

describe('SqsMapping throttling and scaling (issue 16 item 5)', () => {
  /** Resolves once `cond()` holds; rejects with `what` after 20 s. */
  async function until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a batch received while the function is at its concurrency limit is not invoked: it comes back after its visibility timeout, and the receive counts toward maxReceiveCount', async () => {
    const dlq = await createQueue('throttle-dlq');
    // maxReceiveCount 1: one receive without an invocation is enough to reach the DLQ.
    const { url } = await createQueue('throttle', {
      VisibilityTimeout: '5',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
    });
    let release!: () => void;
    const latch = new Promise<void>((r) => (release = r));
    const invoked: string[] = [];
    const m = mapping({
      queueUrl: url,
      batchSize: 1,
      maxConcurrency: 2,
      functionConcurrency: 1,
      functionTimeoutMs: 5_000,
      handler: async (event) => {
        invoked.push(...event.Records.map((r) => r.body));
        if (event.Records.some((r) => r.body === 'slow')) await latch;
      },
    });
    await send(url, ['slow']);
    await m.start();
    await until(() => invoked.includes('slow'), 'the slow message invoked');
    await send(url, ['throttled']);
    await until(() => m.stats().throttled === 1, 'the second message throttled');
    release();
    await m.waitForIdle(20_000);

    expect(invoked).toEqual(['slow']);
    const parked = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(parked.Messages?.map((msg) => msg.Body)).toEqual(['throttled']);
  });

  it('starts at five batches in flight and scales up to its maximum concurrency, never beyond', async () => {
    const { url } = await createQueue('scale', { VisibilityTimeout: '30' });
    let release!: () => void;
    const latch = new Promise<void>((r) => (release = r));
    let running = 0;
    let peak = 0;
    const overAllowed: number[] = [];
    const m = mapping({
      queueUrl: url,
      batchSize: 1,
      maxConcurrency: 8,
      scaleUpIntervalMs: 50,
      handler: async () => {
        running++;
        peak = Math.max(peak, running);
        if (running > m.stats().concurrency) overAllowed.push(running);
        await latch;
        running--;
      },
    });
    await send(
      url,
      Array.from({ length: 30 }, (_, i) => `m${i}`),
    );
    await m.start();
    expect(m.stats().concurrency).toBe(5);
    await until(() => running === 8, 'eight batches in flight');
    release();
    await m.waitForIdle(20_000);
    expect(peak).toBe(8);
    expect(overAllowed).toEqual([]);
  });
});
