// The local services answer like the real ones: DynamoDB with Streams, SQS, OpenSearch; and test
// files are isolated from each other by their DynamoDB Local access key.

import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalServices } from '../../local/services/index.ts';
import { accessKeyFor, uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('services');

const ddb = new DynamoDBClient({});
const table = 'services-check';

afterAll(() => {
  ddb.destroy();
});

describe('local services', () => {
  it('endpoints are loopback URLs', () => {
    for (const key of [
      'AWS_ENDPOINT_URL_DYNAMODB',
      'AWS_ENDPOINT_URL_DYNAMODB_STREAMS',
      'AWS_ENDPOINT_URL_SQS',
      'SEARCH_ENDPOINT',
    ]) {
      expect(process.env[key], key).toMatch(/^http:\/\/(127\.0\.0\.1|localhost):\d+$/);
    }
  });

  it('DynamoDB streams the changes of a stream-enabled table', async () => {
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    await ddb.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, v: { N: '1' } } }),
    );

    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: table }));
    const streamArn = Table?.LatestStreamArn;
    expect(streamArn).toBeTruthy();

    const streams = new DynamoDBStreamsClient({});
    try {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn }),
      );
      const shardId = StreamDescription?.Shards?.[0]?.ShardId;
      expect(shardId).toBeTruthy();
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator }));
      expect(
        Records?.map((r) => [r.eventName, r.dynamodb?.Keys?.pk?.S, r.dynamodb?.NewImage?.v?.N]),
      ).toEqual([['INSERT', 'a', '1']]);
    } finally {
      streams.destroy();
    }
  });

  it('another access key sees another DynamoDB database', async () => {
    const other = new DynamoDBClient({
      credentials: { accessKeyId: accessKeyFor('other'), secretAccessKey: 'local' },
    });
    try {
      await expect(ddb.send(new ListTablesCommand({}))).resolves.toMatchObject({
        TableNames: expect.arrayContaining([table]),
      });
      const { TableNames } = await other.send(new ListTablesCommand({}));
      expect(TableNames).not.toContain(table);
    } finally {
      other.destroy();
    }
  });

  it('SQS sends and receives', async () => {
    const sqs = new SQSClient({});
    const QueueName = uniqueName('services-check');
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName }));
      // Queue URLs are what the SDK calls: they must point at the endpoint we were given.
      expect(QueueUrl?.startsWith(process.env.AWS_ENDPOINT_URL_SQS ?? '?')).toBe(true);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 1 }),
      );
      expect(Messages?.map((m) => m.Body)).toEqual(['hello']);
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    } finally {
      sqs.destroy();
    }
  });

  it('OpenSearch indexes and searches', async () => {
    const base = process.env.SEARCH_ENDPOINT;
    const index = uniqueName('services-check');
    const json = { 'content-type': 'application/json' };
    const created = await fetch(`${base}/${index}`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ settings: { number_of_shards: 1, number_of_replicas: 0 } }),
    });
    expect(created.status).toBe(200);
    const put = await fetch(`${base}/${index}/_doc/1?refresh=true`, {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ title: 'streamfill local search' }),
    });
    expect(put.status).toBe(201);
    const res = await fetch(`${base}/${index}/_search`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ query: { match: { title: 'local' } } }),
    });
    const body = (await res.json()) as { hits: { hits: { _id: string }[] } };
    expect(body.hits.hits.map((h) => h._id)).toEqual(['1']);
    expect((await fetch(`${base}/${index}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('startLocalServices() reuses endpoints already in the environment', async () => {
    const t0 = Date.now();
    const services = await startLocalServices();
    expect(services.provider).toBe('env');
    expect(services.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(process.env.AWS_ENDPOINT_URL_DYNAMODB);
    expect(services.env.AWS_ENDPOINT_URL_SQS).toBe(process.env.AWS_ENDPOINT_URL_SQS);
    expect(services.env.SEARCH_ENDPOINT).toBe(process.env.SEARCH_ENDPOINT);
    await services.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
