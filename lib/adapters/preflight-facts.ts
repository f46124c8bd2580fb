// Gathers the facts preflight judges: DescribeTable (stream, capacity, replicas),
// DescribeContinuousBackups (PITR), Lambda event source mappings on the stream (readers) and,
// optionally, the OpenSearch mapping of the given fields. Anything but the table itself may be
// unavailable: it becomes an `error` fact, never a crash.
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { ListEventSourceMappingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import type { EventSourceMappingFact, PreflightFacts } from '../core/preflight.ts';

export interface PreflightSources {
  dynamodb: DynamoDBClient;
  /** Absent: the readers count becomes an error fact with `lambdaUnavailable` as its reason. */
  lambda?: LambdaClient;
  lambdaUnavailable?: string;
  /** Absent: the search mapping is not checked (the search migration is off). */
  search?: { client: OpenSearchClient; index: string; fields: readonly string[] };
}

const messageOf = (e: unknown): string =>
  e instanceof Error ? `${e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(e);

export async function gatherPreflightFacts(
  sources: PreflightSources,
  table: string,
): Promise<PreflightFacts> {
  const { Table: t = {} } = await sources.dynamodb.send(
    new DescribeTableCommand({ TableName: table }),
  );
  const streamArn = t.LatestStreamArn;
  const enabled = t.StreamSpecification?.StreamEnabled === true;
  const provisioned =
    t.BillingModeSummary?.BillingMode === 'PROVISIONED' ||
    (!t.BillingModeSummary && (t.ProvisionedThroughput?.WriteCapacityUnits ?? 0) > 0);
  const [pitr, streamReaders, search] = await Promise.all([
    pitrFact(sources.dynamodb, table),
    enabled && streamArn ? readersFact(sources, streamArn) : Promise.resolve(undefined),
    sources.search ? searchFact(sources.search) : Promise.resolve(undefined),
  ]);
  const region = await sources.dynamodb.config.region().catch(() => undefined);
  return {
    table,
    ...(region && { region }),
    stream: {
      enabled,
      ...(t.StreamSpecification?.StreamViewType && {
        viewType: t.StreamSpecification.StreamViewType,
      }),
      ...(enabled && streamArn && { arn: streamArn }),
    },
    capacity: {
      mode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
      ...(provisioned && {
        readCapacityUnits: t.ProvisionedThroughput?.ReadCapacityUnits,
        writeCapacityUnits: t.ProvisionedThroughput?.WriteCapacityUnits,
      }),
      ...(t.OnDemandThroughput?.MaxWriteRequestUnits !== undefined &&
        t.OnDemandThroughput.MaxWriteRequestUnits > 0 && {
          maxWriteRequestUnits: t.OnDemandThroughput.MaxWriteRequestUnits,
        }),
      indexes: provisioned
        ? (t.GlobalSecondaryIndexes ?? []).map((g) => ({
            name: g.IndexName ?? '?',
            ...(g.ProvisionedThroughput?.WriteCapacityUnits !== undefined && {
              writeCapacityUnits: g.ProvisionedThroughput.WriteCapacityUnits,
            }),
          }))
        : [],
    },
    replicas: (t.Replicas ?? [])
      .filter((r) => r.RegionName && r.RegionName !== region)
      .map((r) => ({
        region: r.RegionName as string,
        ...(r.ReplicaStatus && { status: r.ReplicaStatus }),
      })),
    pitr,
    ...(streamReaders && { streamReaders }),
    ...(search && { search }),
  };
}

async function pitrFact(dynamodb: DynamoDBClient, table: string): Promise<PreflightFacts['pitr']> {
  try {
    const r = await dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: table }));
    const status =
      r.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus;
    return { enabled: status === 'ENABLED' };
  } catch (e) {
    return { error: messageOf(e) };
  }
}

async function readersFact(
  sources: PreflightSources,
  streamArn: string,
): Promise<NonNullable<PreflightFacts['streamReaders']>> {
  if (!sources.lambda) return { error: sources.lambdaUnavailable ?? 'no Lambda client' };
  try {
    const mappings: EventSourceMappingFact[] = [];
    let Marker: string | undefined;
    do {
      const page = await sources.lambda.send(
        new ListEventSourceMappingsCommand({ EventSourceArn: streamArn, Marker }),
      );
      for (const m of page.EventSourceMappings ?? []) {
        mappings.push({ functionArn: m.FunctionArn ?? '?', state: m.State ?? 'Unknown' });
      }
      Marker = page.NextMarker;
    } while (Marker);
    return { mappings };
  } catch (e) {
    return { error: messageOf(e) };
  }
}

async function searchFact(
  search: NonNullable<PreflightSources['search']>,
): Promise<NonNullable<PreflightFacts['search']>> {
  const { client, index, fields } = search;
  try {
    const exists = await client.indices.exists({ index });
    if (!exists.body) return { index, exists: false };
    const res = await client.indices.getMapping({ index });
    const body = res.body as Record<
      string,
      { mappings?: { properties?: Record<string, { type?: string }> } }
    >;
    const properties = Object.values(body)[0]?.mappings?.properties ?? {};
    // An object field has no `type` but `properties`: report it as "object".
    const fieldTypes = Object.fromEntries(
      fields.map((f) => [f, properties[f] ? (properties[f].type ?? 'object') : undefined]),
    );
    return { index, exists: true, fieldTypes };
  } catch (e) {
    return { index, error: messageOf(e) };
  }
}
