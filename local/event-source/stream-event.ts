// DynamoDB Streams API records (as the AWS SDK v3 parses them) -> the exact JSON that Lambda
// delivers to a stream-triggered function, plus the on-failure destination message Lambda
// sends for a stream batch it gave up on (metadata only, as on AWS). Pure: no network, no clock unless passed in.

import type {
  _Record as SdkStreamRecord,
  AttributeValue as SdkAttributeValue,
} from '@aws-sdk/client-dynamodb-streams';
import type {
  AttributeValue as LambdaAttributeValue,
  DynamoDBRecord,
  StreamRecord,
} from 'aws-lambda';

export type LambdaImage = Record<string, LambdaAttributeValue>;

/** Why Lambda gave up on a stream batch (the `condition` of the on-failure record). */
export type StreamFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/**
 * One SDK AttributeValue -> Lambda's JSON form: binary as base64 strings, sets as arrays,
 * numbers as strings, maps and lists recursively. Never unmarshalled.
 */
export function toLambdaAttributeValue(value: SdkAttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.B !== undefined) return { B: toBase64(value.B) };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttributeValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  throw new Error(`unsupported AttributeValue: ${JSON.stringify(Object.keys(value))}`);
}

export function toLambdaImage(image: Record<string, SdkAttributeValue>): LambdaImage {
  const out: LambdaImage = {};
  for (const [name, value] of Object.entries(image)) out[name] = toLambdaAttributeValue(value);
  return out;
}

/** Date (SDK) or epoch seconds -> epoch seconds as Lambda delivers `ApproximateCreationDateTime`. */
export function toEpochSeconds(value: Date | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  return value.getTime() / 1000;
}

export interface ToLambdaRecordOptions {
  /** The stream ARN; becomes `eventSourceARN`. */
  eventSourceARN: string;
  /**
   * Region reported in `awsRegion`. DynamoDB Local reports `ddblocal`; the mapping passes the
   * client's region so handlers see what Lambda would give them. Default: the record's own.
   */
  awsRegion?: string;
}

/** An SDK stream record -> the Lambda `DynamoDBRecord` (the element of `event.Records`). */
export function toLambdaRecord(
  record: SdkStreamRecord,
  options: ToLambdaRecordOptions,
): DynamoDBRecord {
  const src = record.dynamodb ?? {};
  const dynamodb: StreamRecord = {};
  const created = toEpochSeconds(src.ApproximateCreationDateTime);
  if (created !== undefined) dynamodb.ApproximateCreationDateTime = created;
  if (src.Keys) dynamodb.Keys = toLambdaImage(src.Keys);
  if (src.NewImage) dynamodb.NewImage = toLambdaImage(src.NewImage);
  if (src.OldImage) dynamodb.OldImage = toLambdaImage(src.OldImage);
  if (src.SequenceNumber !== undefined) dynamodb.SequenceNumber = src.SequenceNumber;
  if (src.SizeBytes !== undefined) dynamodb.SizeBytes = src.SizeBytes;
  if (src.StreamViewType !== undefined) dynamodb.StreamViewType = src.StreamViewType;

  const out: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: record.eventSource ?? 'aws:dynamodb',
    awsRegion: options.awsRegion ?? record.awsRegion,
    dynamodb,
    eventSourceARN: options.eventSourceARN,
  };
  // The Streams API names the identity fields PrincipalId/Type; Lambda delivers them lower-camel.
  if (
    record.userIdentity &&
    (record.userIdentity.Type !== undefined || record.userIdentity.PrincipalId !== undefined)
  ) {
    out.userIdentity = {
      type: record.userIdentity.Type,
      principalId: record.userIdentity.PrincipalId,
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// On-failure destination message

/** ISO-8601 without milliseconds, as Lambda writes `approximateArrivalOf*Record` (`timestamp` keeps them). */
const isoSeconds = (epochSeconds: number | undefined): string | undefined =>
  epochSeconds === undefined
    ? undefined
    : new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface StreamOnFailureInput {
  condition: StreamFailureCondition;
  requestId: string;
  functionArn: string;
  /** How many invocations included these records (0 when they were discarded unseen). */
  approximateInvokeCount: number;
  /** Handler error (`'Unhandled'`), or undefined when no invocation failed with an error. */
  functionError?: string;
  statusCode?: number;
  shardId: string;
  streamArn: string;
  /** The failed records, in stream order (non-empty): only their range goes into the message. */
  records: readonly DynamoDBRecord[];
  now?: Date;
}

/**
 * The body Lambda sends to a stream mapping's on-failure destination (SQS/SNS) for a batch it
 * gave up on: metadata only — shard, sequence range, batch size, arrival times, request and
 * response context. AWS ("Retaining discarded records for a DynamoDB event source in Lambda"):
 * the record describes the failed invocation and the actual records aren't included; they must
 * be re-read from the stream while it retains them (24 h). Emitted exactly so: nothing a
 * consumer of this message could rely on locally is missing on AWS.
 */
export interface StreamOnFailureMessage {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: StreamFailureCondition;
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: string;
    functionError?: string;
  };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord?: string;
    approximateArrivalOfLastRecord?: string;
    batchSize: number;
    streamArn: string;
  };
}

export function buildStreamOnFailureMessage(input: StreamOnFailureInput): StreamOnFailureMessage {
  const first = input.records[0];
  const last = input.records[input.records.length - 1];
  if (!first || !last) throw new Error('on-failure message needs at least one record');
  const responseContext: StreamOnFailureMessage['responseContext'] = {
    statusCode: input.statusCode ?? 200,
    executedVersion: '$LATEST',
  };
  if (input.functionError !== undefined) responseContext.functionError = input.functionError;
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext,
    version: '1.0',
    timestamp: (input.now ?? new Date()).toISOString(),
    DDBStreamBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: first.dynamodb?.SequenceNumber ?? '',
      endSequenceNumber: last.dynamodb?.SequenceNumber ?? '',
      approximateArrivalOfFirstRecord: isoSeconds(first.dynamodb?.ApproximateCreationDateTime),
      approximateArrivalOfLastRecord: isoSeconds(last.dynamodb?.ApproximateCreationDateTime),
      batchSize: input.records.length,
      streamArn: input.streamArn,
    },
  };
}
