import { describe, expect, it } from 'vitest';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import {
  buildStreamOnFailureMessage,
  toEpochSeconds,
  toLambdaAttributeValue,
  toLambdaRecord,
} from '../../../local/event-source/stream-event.ts';

const ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-01-01T00:00:00.000';

describe('toLambdaAttributeValue', () => {
  it('keeps scalars as AttributeValue JSON (numbers stay strings)', () => {
    expect(toLambdaAttributeValue({ S: 'x' })).toEqual({ S: 'x' });
    expect(toLambdaAttributeValue({ N: '12.50' })).toEqual({ N: '12.50' });
    expect(toLambdaAttributeValue({ BOOL: false })).toEqual({ BOOL: false });
    expect(toLambdaAttributeValue({ NULL: true })).toEqual({ NULL: true });
  });

  it('encodes binary as base64, binary sets as arrays of base64', () => {
    expect(toLambdaAttributeValue({ B: new Uint8Array([1, 2, 255]) })).toEqual({ B: 'AQL/' });
    // A view into a bigger buffer: only its own bytes.
    const big = new Uint8Array([9, 9, 104, 105, 9]);
    expect(toLambdaAttributeValue({ B: big.subarray(2, 4) })).toEqual({ B: 'aGk=' });
    expect(
      toLambdaAttributeValue({ BS: [new Uint8Array([0]), new Uint8Array([104, 105])] }),
    ).toEqual({ BS: ['AA==', 'aGk='] });
  });

  it('keeps string and number sets as arrays', () => {
    expect(toLambdaAttributeValue({ SS: ['a', 'b'] })).toEqual({ SS: ['a', 'b'] });
    expect(toLambdaAttributeValue({ NS: ['1', '2.5'] })).toEqual({ NS: ['1', '2.5'] });
  });

  it('recurses into nested maps and lists', () => {
    expect(
      toLambdaAttributeValue({
        M: {
          l: { L: [{ NULL: true }, { B: new Uint8Array([1]) }, { M: { deep: { SS: ['z'] } } }] },
          n: { N: '1' },
        },
      }),
    ).toEqual({
      M: {
        l: { L: [{ NULL: true }, { B: 'AQ==' }, { M: { deep: { SS: ['z'] } } }] },
        n: { N: '1' },
      },
    });
  });

  it('rejects an unknown member', () => {
    expect(() => toLambdaAttributeValue({ $unknown: ['X', 1] } as never)).toThrow(/unsupported/);
  });
});

describe('toEpochSeconds', () => {
  it('turns Dates into epoch seconds and leaves numbers alone', () => {
    expect(toEpochSeconds(new Date('2026-11-21T23:32:00.000Z'))).toBe(1795303920);
    expect(toEpochSeconds(new Date('2026-11-21T23:32:00.250Z'))).toBe(1795303920.25);
    expect(toEpochSeconds(1479499740)).toBe(1479499740);
    expect(toEpochSeconds(undefined)).toBeUndefined();
  });
});

describe('toLambdaRecord', () => {
  const modify: _Record = {
    eventID: 'e1',
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'ddblocal',
    dynamodb: {
      ApproximateCreationDateTime: new Date('2026-11-21T23:32:00.000Z'),
      Keys: { pk: { S: 'a' } },
      NewImage: { pk: { S: 'a' }, v: { N: '2' }, b: { B: new Uint8Array([1]) } },
      OldImage: { pk: { S: 'a' }, v: { N: '1' } },
      SequenceNumber: '000000000000000000002',
      SizeBytes: 40,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };

  it('produces the Lambda record shape', () => {
    expect(toLambdaRecord(modify, { eventSourceARN: ARN, awsRegion: 'us-east-1' })).toStrictEqual({
      eventID: 'e1',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: 1795303920,
        Keys: { pk: { S: 'a' } },
        NewImage: { pk: { S: 'a' }, v: { N: '2' }, b: { B: 'AQ==' } },
        OldImage: { pk: { S: 'a' }, v: { N: '1' } },
        SequenceNumber: '000000000000000000002',
        SizeBytes: 40,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: ARN,
    });
  });

  it('is plain JSON (survives a JSON round trip unchanged)', () => {
    const r = toLambdaRecord(modify, { eventSourceARN: ARN });
    expect(JSON.parse(JSON.stringify(r))).toStrictEqual(r);
    expect(r.awsRegion).toBe('ddblocal');
  });

  it('omits absent images and lower-cases the TTL identity', () => {
    const ttl: _Record = {
      ...modify,
      eventName: 'REMOVE',
      dynamodb: { ...modify.dynamodb, NewImage: undefined },
      userIdentity: { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' },
    };
    const r = toLambdaRecord(ttl, { eventSourceARN: ARN });
    expect(r.dynamodb).not.toHaveProperty('NewImage');
    expect(r.dynamodb?.OldImage).toEqual({ pk: { S: 'a' }, v: { N: '1' } });
    expect(r.userIdentity).toStrictEqual({
      type: 'Service',
      principalId: 'dynamodb.amazonaws.com',
    });
    expect(toLambdaRecord(modify, { eventSourceARN: ARN })).not.toHaveProperty('userIdentity');
  });
});

describe('on-failure message', () => {
  const rec = (seq: string, at: number, pad = '') =>
    toLambdaRecord(
      {
        eventID: seq,
        eventName: 'INSERT',
        dynamodb: {
          ApproximateCreationDateTime: new Date(at * 1000),
          Keys: { pk: { S: seq } },
          NewImage: { pk: { S: seq }, pad: { S: pad } },
          SequenceNumber: seq,
          SizeBytes: 10,
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      },
      { eventSourceARN: ARN, awsRegion: 'us-east-1' },
    );
  const base = {
    condition: 'RetryAttemptsExhausted' as const,
    requestId: 'req-1',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
    approximateInvokeCount: 4,
    functionError: 'Unhandled',
    shardId: 'shardId-1',
    streamArn: ARN,
    now: new Date('2026-11-21T23:40:00.123Z'),
  };

  it("is AWS's metadata only: the range, never the records", () => {
    const records = [rec('100', 1795303920), rec('105', 1795303981)];
    expect(buildStreamOnFailureMessage({ ...base, records })).toStrictEqual({
      requestContext: {
        requestId: 'req-1',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-11-21T23:40:00.123Z',
      DDBStreamBatchInfo: {
        shardId: 'shardId-1',
        startSequenceNumber: '100',
        endSequenceNumber: '105',
        approximateArrivalOfFirstRecord: '2026-11-21T23:32:00Z',
        approximateArrivalOfLastRecord: '2026-11-21T23:33:01Z',
        batchSize: 2,
        streamArn: ARN,
      },
    });
  });

  it('leaves functionError out when no invocation errored (record age)', () => {
    const msg = buildStreamOnFailureMessage({
      ...base,
      condition: 'RecordAgeExceeded',
      functionError: undefined,
      records: [rec('1', 0)],
    });
    expect(msg.responseContext).toStrictEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(msg.requestContext.condition).toBe('RecordAgeExceeded');
  });

  it('refuses an empty batch', () => {
    expect(() => buildStreamOnFailureMessage({ ...base, records: [] })).toThrow();
  });

  it('stays small whatever the records weigh (no images, no keys)', () => {
    const big = ['1', '2', '3', '4', '5'].map((x) => rec(x, 0, 'x'.repeat(100_000)));
    const body = JSON.stringify(buildStreamOnFailureMessage({ ...base, records: big }));
    expect(body.length).toBeLessThan(1_000);
    expect(body).not.toContain('xxxx');
  });
});
