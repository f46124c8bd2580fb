// What the stream consumer checks before its first batch of a table (Lambda cold start,
// `streamfill run`): the table's stream carries new images, and, for a table with search
// migrations, the search index exists with its keyword mapping (extended additively). Refusing loudly here beats acknowledging records that do nothing
// or letting OpenSearch auto-create a typo'd index.
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SearchIndex } from '../adapters/search-index.ts';
import { streamFinding } from '../core/preflight.ts';

/** The consumer cannot start: the message says what is wrong and what to do. */
export class ConsumerStartError extends Error {
  override name = 'ConsumerStartError';
}

export interface ConsumerStartInput {
  dynamodb: DynamoDBClient;
  /** The real name of the table whose stream is consumed. */
  tableName: string;
  /** Only copies read this table: a NEW_IMAGE stream is enough. @default false */
  newImageEnough?: boolean;
  /** The search index the table's keyword updates go to (absent: none, or search migration off). */
  search?: SearchIndex;
}

/**
 * Throws ConsumerStartError when the table's stream is off or not NEW_AND_OLD_IMAGES, and
 * SearchNotReadyError when the index does not exist or a keyword field has another type.
 *
 * @example
 * await checkConsumerStart({ dynamodb: clients.dynamodb, tableName: tables.session, search: deps.search });
 */
export async function checkConsumerStart(input: ConsumerStartInput): Promise<void> {
  const { Table: t = {} } = await input.dynamodb.send(
    new DescribeTableCommand({ TableName: input.tableName }),
  );
  const enabled = t.StreamSpecification?.StreamEnabled === true;
  const finding = streamFinding({
    table: input.tableName,
    newImageEnough: input.newImageEnough === true,
    stream: {
      enabled,
      ...(t.StreamSpecification?.StreamViewType && {
        viewType: t.StreamSpecification.StreamViewType,
      }),
      ...(t.LatestStreamArn && { arn: t.LatestStreamArn }),
    },
  });
  if (finding.level === 'fail')
    throw new ConsumerStartError(`${finding.message}. To fix: ${finding.action}`);
  await input.search?.ensureReady();
}
