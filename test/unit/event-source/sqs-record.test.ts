import { describe, expect, it } from 'vitest';
import type { SQSRecord } from 'aws-lambda';
import {
  extendFifoFailures,
  interpretSqsBatchResponse,
  queueArnFromUrl,
  toLambdaSqsRecord,
} from '../../../local/event-source/sqs-mapping.ts';

describe('queueArnFromUrl', () => {
  it('builds the ARN from the account and name in the URL', () => {
    expect(queueArnFromUrl('http://localhost:9324/000000000000/work', 'us-east-1')).toBe(
      'arn:aws:sqs:us-east-1:000000000000:work',
    );
    expect(
      queueArnFromUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo', 'eu-west-1'),
    ).toBe('arn:aws:sqs:eu-west-1:123456789012:q.fifo');
    expect(queueArnFromUrl('http://localhost:9324/queue/work', 'us-east-1')).toBe(
      'arn:aws:sqs:us-east-1:000000000000:work',
    );
  });
});

describe('toLambdaSqsRecord', () => {
  it('produces the Lambda record shape with lower-camel message attributes', () => {
    const record = toLambdaSqsRecord(
      {
        MessageId: 'm1',
        ReceiptHandle: 'rh',
        MD5OfBody: '5d41402abc4b2a76b9719d911017c592',
        Body: 'hello',
        Attributes: {
          SentTimestamp: '1',
          ApproximateReceiveCount: '2',
          ApproximateFirstReceiveTimestamp: '3',
          SenderId: '127.0.0.1',
        },
        MD5OfMessageAttributes: 'abc',
        MessageAttributes: {
          a: { DataType: 'String', StringValue: 'v' },
          b: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) },
        },
      },
      { eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q', awsRegion: 'us-east-1' },
    );
    expect(record).toStrictEqual({
      messageId: 'm1',
      receiptHandle: 'rh',
      body: 'hello',
      attributes: {
        ApproximateReceiveCount: '2',
        SentTimestamp: '1',
        SenderId: '127.0.0.1',
        ApproximateFirstReceiveTimestamp: '3',
      },
      messageAttributes: {
        a: { stringValue: 'v', stringListValues: [], binaryListValues: [], dataType: 'String' },
        b: { binaryValue: 'AQI=', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
      },
      md5OfMessageAttributes: 'abc',
      md5OfBody: '5d41402abc4b2a76b9719d911017c592',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
    });
    expect(Object.keys(record)).toEqual([
      'messageId',
      'receiptHandle',
      'body',
      'attributes',
      'messageAttributes',
      'md5OfMessageAttributes',
      'md5OfBody',
      'eventSource',
      'eventSourceARN',
      'awsRegion',
    ]);
  });

  it('passes extra system attributes through and has no md5OfMessageAttributes without attributes', () => {
    const record = toLambdaSqsRecord(
      {
        MessageId: 'm',
        Body: '',
        Attributes: {
          ApproximateReceiveCount: '4',
          DeadLetterQueueSourceArn: 'arn:src',
          MessageGroupId: 'g',
        },
      },
      { eventSourceARN: 'arn', awsRegion: 'r' },
    );
    expect(record.attributes.DeadLetterQueueSourceArn).toBe('arn:src');
    expect(record.attributes.MessageGroupId).toBe('g');
    expect(record.messageAttributes).toEqual({});
    expect(record).not.toHaveProperty('md5OfMessageAttributes');
  });
});

const recs = (ids: string[], groups?: string[]): SQSRecord[] =>
  ids.map(
    (messageId, i) =>
      ({ messageId, attributes: { MessageGroupId: groups?.[i] } }) as unknown as SQSRecord,
  );

describe('interpretSqsBatchResponse', () => {
  const batch = recs(['a', 'b', 'c']);
  it('success without failures', () => {
    expect(interpretSqsBatchResponse(batch, undefined, true).kind).toBe('success');
    expect(interpretSqsBatchResponse(batch, { batchItemFailures: [] }, true).kind).toBe('success');
  });
  it('exactly the listed messages fail', () => {
    const out = interpretSqsBatchResponse(
      batch,
      { batchItemFailures: [{ itemIdentifier: 'b' }] },
      true,
    );
    expect(out.kind).toBe('partial');
    expect(out.kind === 'partial' && [...out.failedMessageIds]).toEqual(['b']);
  });
  it('invalid identifiers fail the whole batch', () => {
    for (const bad of [
      { itemIdentifier: '' },
      { itemIdentifier: null },
      { itemIdentifier: 'zzz' },
      {},
    ]) {
      expect(interpretSqsBatchResponse(batch, { batchItemFailures: [bad] }, true).kind).toBe(
        'failure',
      );
    }
  });
  it('ignores the response when ReportBatchItemFailures is off', () => {
    expect(
      interpretSqsBatchResponse(batch, { batchItemFailures: [{ itemIdentifier: 'b' }] }, false)
        .kind,
    ).toBe('success');
  });
});

describe('extendFifoFailures', () => {
  it('fails the later messages of a failed message group, not other groups', () => {
    const batch = recs(['1', '2', '3', '4', '5'], ['g1', 'g2', 'g1', 'g2', 'g1']);
    expect([...extendFifoFailures(batch, new Set(['3']))].sort()).toEqual(['3', '5']);
    expect([...extendFifoFailures(batch, new Set(['2']))].sort()).toEqual(['2', '4']);
  });
});
