// The fault-injecting proxy against DynamoDB Local: the AWS SDK must surface the injected
// ThrottlingReasons (after its own retries), so the throttler can act on them; and the delay
// proxy adds latency per request.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  DynamoThrottledError,
  scanSegmentPage,
  throttlingReasonsOf,
} from '../../lib/adapters/segment-scanner.ts';
import { ThrottleBackoff } from '../../lib/core/throttle.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { DelayProxy } from '../../local/net/delay-proxy.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { ThrottlingProxy } from '../support/throttling-proxy.ts';

useLocalServices('throttleproxy');

let clients: Clients;
let proxy: ThrottlingProxy;
let table: string;
const docVia = (endpoint: string, maxAttempts: number): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: process.env.AWS_REGION, maxAttempts }),
  );
const ARN = (t: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${t}`;

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('thr');
  table = `${p}-session`;
  await ensurePikaTables(clients.dynamodb, { session: table, user: `${p}-u`, tag: `${p}-t` });
  await putItems(
    clients.doc,
    table,
    Array.from({ length: 40 }, (_, i) => ({ user_id: `u${i}`, session_id: 's' })),
  );
  proxy = new ThrottlingProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB!);
  await proxy.start();
});

afterAll(async () => {
  await proxy.stop();
  destroyClients(clients);
});

const req = () => ({
  tableName: table,
  segment: 0,
  totalSegments: 1,
  projection: ['user_id', 'session_id'],
});

describe('throttling proxy', () => {
  it('forwards untouched requests', async () => {
    const doc = docVia(proxy.url, 1);
    const page = await scanSegmentPage(doc, req());
    expect(page.items).toHaveLength(40);
    expect(proxy.counts.forwarded).toBeGreaterThan(0);
    expect(proxy.counts.throttled).toBe(0);
  });

  it('surfaces ThrottlingException reasons when the SDK does not retry (maxAttempts 1)', async () => {
    proxy.clear();
    proxy.throttle({
      operation: 'Scan',
      count: 1,
      reasons: [{ reason: 'TableReadKeyRangeThroughputExceeded', resource: ARN(table) }],
    });
    const err = await scanSegmentPage(docVia(proxy.url, 1), req()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoThrottledError);
    const t = err as DynamoThrottledError;
    expect(t.errorName).toBe('ThrottlingException');
    expect(t.reasons).toEqual([
      { reason: 'TableReadKeyRangeThroughputExceeded', resource: ARN(table) },
    ]);
    expect(t.message).toMatch(
      new RegExp(
        `^Scan of ${table} segment 0/1 throttled: ThrottlingException: TableReadKeyRangeThroughputExceeded`,
      ),
    );
    expect(proxy.counts.byOperation.Scan).toBe(1);
    // the throttler turns them into a per-segment wait with the reason shown
    const wait = new ThrottleBackoff({ random: () => 1 }).onThrottle(0, t.reasons);
    expect(wait.reason).toBe(
      `segment 0 backing off 100 ms: TableReadKeyRangeThroughputExceeded on ${table}`,
    );
  });

  it('surfaces ProvisionedThroughputExceededException reasons too, for any operation', async () => {
    proxy.clear();
    proxy.throttle({
      operation: 'GetItem',
      count: 1,
      error: 'ProvisionedThroughputExceededException',
      reasons: [{ reason: 'TableReadProvisionedThroughputExceeded', resource: ARN(table) }],
    });
    const err = await docVia(proxy.url, 1)
      .send(new GetCommand({ TableName: table, Key: { user_id: 'u1', session_id: 's' } }))
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('ProvisionedThroughputExceededException');
    expect(throttlingReasonsOf(err)).toEqual([
      { reason: 'TableReadProvisionedThroughputExceeded', resource: ARN(table) },
    ]);
    expect(throttlingReasonsOf(new Error('x'))).toBeUndefined();
  });

  it('the SDK retries throttling itself: N throttles within maxAttempts are invisible to the caller', async () => {
    proxy.clear();
    const before = proxy.counts.throttled;
    proxy.throttle({
      operation: 'Scan',
      count: 2,
      reasons: [{ reason: 'TableReadAccountLimitExceeded', resource: ARN(table) }],
    });
    const page = await scanSegmentPage(docVia(proxy.url, 3), req());
    expect(page.items).toHaveLength(40);
    expect(proxy.counts.throttled - before).toBe(2);
    // …and past maxAttempts the last error surfaces with its reasons
    proxy.throttle({
      operation: 'Scan',
      count: 3,
      reasons: [{ reason: 'TableReadAccountLimitExceeded', resource: ARN(table) }],
    });
    const err = await scanSegmentPage(docVia(proxy.url, 3), req()).catch((e: unknown) => e);
    expect((err as DynamoThrottledError).reasons[0]?.reason).toBe('TableReadAccountLimitExceeded');
  });

  it('throttles a fraction of requests, only for the named table', async () => {
    proxy.clear();
    const before = proxy.counts.throttled;
    let n = 0;
    proxy.throttle({
      operation: '*',
      tableName: table,
      fraction: 0.5,
      random: () => (n++ % 2 ? 0.9 : 0.1), // every other request
      reasons: [{ reason: 'TableReadMaxOnDemandThroughputExceeded', resource: ARN(table) }],
    });
    const doc = docVia(proxy.url, 1);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => scanSegmentPage(doc, req())),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(5);
    expect(proxy.counts.throttled - before).toBe(5);
    // another table is never throttled by that rule
    await expect(
      scanSegmentPage(doc, {
        ...req(),
        tableName: `${table.replace(/-session$/, '-u')}`,
        projection: ['user_id'],
      }),
    ).resolves.toBeDefined();
    proxy.clear();
  });
});

describe('delay proxy', () => {
  it('adds latency per request (a printed measurement, not a timed assertion)', async () => {
    const delay = DelayProxy.forUrl(process.env.AWS_ENDPOINT_URL_DYNAMODB!, { requestDelayMs: 5 });
    await delay.start();
    try {
      const direct = docVia(process.env.AWS_ENDPOINT_URL_DYNAMODB!, 1);
      const slow = docVia(delay.url, 1);
      const time = async (doc: DynamoDBDocumentClient): Promise<number> => {
        const t0 = performance.now();
        for (let i = 0; i < 20; i++) {
          await doc.send(
            new GetCommand({ TableName: table, Key: { user_id: `u${i}`, session_id: 's' } }),
          );
        }
        return (performance.now() - t0) / 20;
      };
      await time(slow); // warm connections
      const [d, s] = [await time(direct), await time(slow)];
      process.stderr.write(
        `[delay-proxy] per request: direct ${d.toFixed(1)} ms, +5 ms proxy ${s.toFixed(1)} ms\n`,
      );
      // Functional check only: the data comes through intact.
      const r = await slow.send(
        new GetCommand({ TableName: table, Key: { user_id: 'u7', session_id: 's' } }),
      );
      expect(r.Item).toEqual({ user_id: 'u7', session_id: 's' });
    } finally {
      await delay.stop();
    }
  });
});
