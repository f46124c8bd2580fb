// The CDK side's configuration reader: CDK context (`-c key=value`, or cdk.json's `context`),
// validated with zod before anything is synthesized; every error names the key and the value.
import type { Node } from 'constructs';
import { z } from 'zod';

export interface StreamfillConfig {
  sessionTable: string;
  sessionStreamArn: string;
  userTable: string;
  tagTable?: string;
  searchEndpoint?: string;
  searchIndex?: string;
  searchDomainArn?: string;
  alarmTopicArn?: string;
  queueName?: string;
  dlqName?: string;
  dashboardName?: string;
  batchSize?: number;
  maxBatchingWindowSeconds?: number;
  retryAttempts?: number;
  maxRecordAgeHours?: number;
  parallelizationFactor?: number;
  reservedConcurrency?: number;
  iteratorAgeThresholdSeconds?: number;
  writeConcurrency?: number;
  tracing?: boolean;
  logLevel?: string;
  stackName?: string;
  /** ContinuousBackfill: a sandbox stack with its own Pika-shaped tables instead of attaching. */
  sandbox?: boolean;
  searchCollectionArn?: string;
  /** Comma-separated migration names of the Pika preset (ContinuousBackfill validates them). */
  migrations?: string;
  stateTableName?: string;
  workerBatchSize?: number;
  workerMaxConcurrency?: number;
  workerReservedConcurrency?: number;
  oldestWorkMessageAgeMinutes?: number;
  /** Memory (MB) and timeout (s) of both functions; the work queue's visibility is 6 × the timeout. */
  memorySize?: number;
  timeoutSeconds?: number;
  /** false: the stream consumer's mapping (or the worker's) does not read — a pause by deployment. */
  consumerEnabled?: boolean;
  workerEnabled?: boolean;
  /** A customer managed KMS key for the work queue and the DLQ. */
  queueKmsKeyArn?: string;
  /** Sandbox only: the IndexMigration phase of the session GSI (and the one deployed before). */
  indexPhase?: string;
  previousIndexPhase?: string;
}

/** A configuration problem: the app prints its message alone, without a stack trace. */
export class StreamfillConfigError extends Error {
  override name = 'StreamfillConfigError';
}

// Values given on the command line are strings; an empty string counts as unset.
const unset = (v: unknown): boolean => v === undefined || v === null || v === '';

const text = z.preprocess(
  (v) => (unset(v) ? undefined : v),
  z
    .string({ error: 'must be a string' })
    .optional()
    .transform((v) => v?.trim() || undefined),
);
const number = z.preprocess(
  (v) => (unset(v) ? undefined : typeof v === 'string' ? Number(v.trim()) : v),
  z
    .number({ error: 'must be a non-negative number' })
    .min(0, { error: 'must be a non-negative number' })
    .optional(),
);
const boolean = z.preprocess(
  (v) => (unset(v) ? undefined : v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: 'must be true or false' }).optional(),
);

const REQUIRED = ['sessionTable', 'sessionStreamArn', 'userTable'] as const;

/** Every optional key and its schema. */
const OPTIONAL = z.object({
  tagTable: text,
  searchEndpoint: text,
  searchIndex: text,
  searchDomainArn: text,
  alarmTopicArn: text,
  queueName: text,
  dlqName: text,
  dashboardName: text,
  logLevel: text,
  stackName: text,
  batchSize: number,
  maxBatchingWindowSeconds: number,
  retryAttempts: number,
  maxRecordAgeHours: number,
  parallelizationFactor: number,
  reservedConcurrency: number,
  iteratorAgeThresholdSeconds: number,
  writeConcurrency: number,
  tracing: boolean,
  sandbox: boolean,
  searchCollectionArn: text,
  migrations: text,
  stateTableName: text,
  workerBatchSize: number,
  workerMaxConcurrency: number,
  workerReservedConcurrency: number,
  oldestWorkMessageAgeMinutes: number,
  indexPhase: text,
  previousIndexPhase: text,
  memorySize: number,
  timeoutSeconds: number,
  consumerEnabled: boolean,
  workerEnabled: boolean,
  queueKmsKeyArn: text,
});

/** Every context key the app reads (the runbook lists them all). */
export const CONTEXT_KEYS: readonly string[] = [...REQUIRED, ...Object.keys(OPTIONAL.shape)];
const KNOWN = CONTEXT_KEYS;

/** cdk.json's demo tables: used only when none of the three required values is given. */
export const DEMO_DEFAULTS_KEY = 'demoDefaults';

const USAGE =
  'npx cdk deploy -c sessionTable=chat-session-prod ' +
  '-c sessionStreamArn=arn:aws:dynamodb:<region>:<account>:table/chat-session-prod/stream/<label> ' +
  '-c userTable=chat-user-prod ' +
  "(the stream ARN: aws dynamodb describe-table --table-name <table> --query 'Table.LatestStreamArn')";

/** `context <key> <what>, got <value>` for each issue. */
function describe(error: z.ZodError, input: Record<string, unknown>): string[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0]);
    return `context ${key} ${issue.message}, got ${JSON.stringify(input[key])}`;
  });
}

/**
 * Reads the configuration from CDK context. The three tables come together: either all of
 * sessionTable, sessionStreamArn and userTable are given, or none is and cdk.json's demo
 * defaults apply (a half-given set would silently mix a real table with a demo one). Every
 * problem is reported at once, before anything is synthesized.
 *
 * @throws StreamfillConfigError listing every problem
 * @example
 * const config = configFromContext(app.node); // after `cdk synth -c sessionTable=… …`
 */
export function configFromContext(node: Node): StreamfillConfig {
  const problems: string[] = [];
  const read = (from: (key: string) => unknown): Record<string, string | undefined> => {
    const input = Object.fromEntries(REQUIRED.map((k) => [k, from(k)]));
    const parsed = z.object(Object.fromEntries(REQUIRED.map((k) => [k, text]))).safeParse(input);
    if (parsed.success) return parsed.data as Record<string, string | undefined>;
    problems.push(...describe(parsed.error, input));
    return {};
  };
  let tables = read((k) => node.tryGetContext(k));
  const given = REQUIRED.filter((key) => tables[key] !== undefined);
  if (given.length === 0) {
    const demo: unknown = node.tryGetContext(DEMO_DEFAULTS_KEY);
    tables = read((k) =>
      demo && typeof demo === 'object' ? (demo as Record<string, unknown>)[k] : undefined,
    );
  }
  const missing = REQUIRED.filter((key) => tables[key] === undefined);
  if (missing.length) {
    problems.push(
      (given.length
        ? `sessionTable, sessionStreamArn and userTable go together (the demo defaults in ` +
          `cdk.json apply only when none is given); missing: ${missing.join(', ')}. `
        : `missing required context: ${missing.join(', ')}. `) + `Pass each with -c, e.g. ${USAGE}`,
    );
  }
  const input = Object.fromEntries(
    Object.keys(OPTIONAL.shape).map((k) => [k, node.tryGetContext(k) as unknown]),
  );
  const parsed = OPTIONAL.safeParse(input);
  if (!parsed.success) problems.push(...describe(parsed.error, input));
  const optional = parsed.success ? parsed.data : {};
  // A misspelt key would silently fall back to a default: catch the likely case slips.
  for (const key of Object.keys(node.getAllContext() as Record<string, unknown>)) {
    const meant = KNOWN.find((k) => k !== key && k.toLowerCase() === key.toLowerCase());
    if (meant) problems.push(`unknown context ${key}: did you mean ${meant}?`);
  }
  if (input.searchCollectionArn && !input.searchEndpoint) {
    problems.push(
      'searchCollectionArn is set but searchEndpoint is not: nothing would use the grant',
    );
  }
  if (input.searchDomainArn && !input.searchEndpoint) {
    problems.push('searchDomainArn is set but searchEndpoint is not: nothing would use the grant');
  }
  if (problems.length) {
    throw new StreamfillConfigError(`streamfill configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return Object.fromEntries(
    Object.entries({ ...tables, ...optional }).filter(([, v]) => v !== undefined),
  ) as unknown as StreamfillConfig;
}

/** The account and region the stack must live in: those of the table's stream. */
export function envFromStreamArn(arn: string): { account: string; region: string } {
  const [, , service, region, account] = arn.split(':');
  if (service !== 'dynamodb' || !region || !account || !/^\d{12}$/.test(account)) {
    throw new StreamfillConfigError(
      `streamfill configuration: sessionStreamArn ${JSON.stringify(arn)} is not a DynamoDB ` +
        'stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)',
    );
  }
  return { account, region };
}

/** `streamfill-<session table>`, reduced to what CloudFormation accepts in a stack name. */
export function defaultStackName(sessionTable: string): string {
  return `streamfill-${sessionTable}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 128);
}
