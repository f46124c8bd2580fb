// runPreflight: gathers the facts and judges them. `streamfill preflight` prints the result;
// `backfill` runs it first and stops on a failure.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { gatherPreflightFacts } from '../adapters/preflight-facts.ts';
import {
  hasFailure,
  preflightFindings,
  type Finding,
  type PreflightFacts,
  type PreflightOptions,
} from '../core/preflight.ts';

export interface RunPreflightInput extends PreflightOptions {
  /** The source table (the session table). */
  table: string;
  dynamodb: DynamoDBClient;
  /** Counts the stream's Lambda readers; absent → a `warn` finding saying why (`lambdaUnavailable`). */
  lambda?: LambdaClient;
  lambdaUnavailable?: string;
  /** Checks the keyword mapping when given (a search migration is on): its index and fields. */
  search?: { client: OpenSearchClient; index: string; fields: readonly string[] };
}

export interface PreflightResult {
  facts: PreflightFacts;
  findings: Finding[];
  /** True when any finding is `fail`: do not start the migration. */
  failed: boolean;
}

export async function runPreflight(input: RunPreflightInput): Promise<PreflightResult> {
  const keywordFields = input.keywordFields ?? input.search?.fields ?? [];
  const facts = await gatherPreflightFacts(
    {
      dynamodb: input.dynamodb,
      ...(input.lambda && { lambda: input.lambda }),
      ...(input.lambdaUnavailable && { lambdaUnavailable: input.lambdaUnavailable }),
      ...(input.search && { search: { ...input.search, fields: keywordFields } }),
    },
    input.table,
  );
  const findings = preflightFindings(facts, {
    keywordFields,
    ...(input.rate !== undefined && { rate: input.rate }),
    ...(input.consumerFunction && { consumerFunction: input.consumerFunction }),
  });
  return { facts, findings, failed: hasFailure(findings) };
}
