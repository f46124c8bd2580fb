// The synth-time checks LiveMigration and ContinuousBackfill share: the stream mapping and
// function settings both take, and stream ARNs. One message per setting, naming the value; each
// construct prefixes them with its own name and path.
import { Stack, Token, type Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** The settings of the stream consumer (its function and its mappings) both constructs take. */
export interface ConsumerSettings {
  readonly batchSize?: number;
  readonly retryAttempts?: number;
  readonly parallelizationFactor?: number;
  readonly writeConcurrency?: number;
  readonly reservedConcurrentExecutions?: number;
  readonly memorySize?: number;
  readonly timeout?: Duration;
  readonly maxRecordAge?: Duration;
  readonly maxBatchingWindow?: Duration;
}

/** Every problem with the consumer settings (empty when they can all be deployed). */
export function consumerSettingsProblems(props: ConsumerSettings): string[] {
  const problems: string[] = [];
  const int = (setting: string, value: number | undefined, min: number, max: number, why = '') => {
    if (value === undefined || Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${setting} must be an integer from ${min} to ${max}${why}, got ${value}`);
    }
  };
  int('batchSize', props.batchSize, 1, 10_000);
  int('retryAttempts', props.retryAttempts, 0, 10_000);
  int('parallelizationFactor', props.parallelizationFactor, 1, 10);
  int('writeConcurrency', props.writeConcurrency, 1, 1_000);
  int(
    'reservedConcurrentExecutions',
    props.reservedConcurrentExecutions,
    1,
    Number.MAX_SAFE_INTEGER,
    ' (0 would stop the consumer; leave it unset for unreserved)',
  );
  int('memorySize', props.memorySize, 128, 10_240, ' (MB)');
  problems.push(...timeoutProblems('timeout', props.timeout));
  const age = props.maxRecordAge?.toSeconds();
  if (age !== undefined && (age < 60 || age > 7 * 24 * 3600)) {
    problems.push(`maxRecordAge must be between 60 seconds and 7 days, got ${age} s`);
  }
  const window = props.maxBatchingWindow?.toSeconds();
  if (window !== undefined && window > 300) {
    problems.push(`maxBatchingWindow must be at most 300 seconds, got ${window} s`);
  }
  return problems;
}

/** A Lambda function timeout outside 1 s – 15 min. */
export function timeoutProblems(setting: string, timeout: Duration | undefined): string[] {
  const t = timeout?.toSeconds();
  return t !== undefined && (t < 1 || t > 900)
    ? [`${setting} must be between 1 second and 15 minutes, got ${t} s`]
    : [];
}

const STREAM_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/([^/]+)\/stream\/.+$/;

/**
 * A stream ARN (`setting`) that is not one, belongs to another table than `tableName`, or lies
 * in another region than the stack (a mapping cannot read across regions).
 */
export function streamArnProblems(
  scope: Construct,
  setting: string,
  arn: string,
  tableName: string,
): string[] {
  if (Token.isUnresolved(arn)) return [];
  const table = STREAM_ARN.exec(arn)?.[1];
  if (!table) {
    return [
      `${setting} ${JSON.stringify(arn)} is not a DynamoDB stream ARN ` +
        '(arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)',
    ];
  }
  if (!Token.isUnresolved(tableName) && table !== tableName) {
    return [`${setting} belongs to table ${table}, not ${tableName}`];
  }
  const region = arn.split(':')[3];
  const stackRegion = Stack.of(scope).region;
  return !Token.isUnresolved(stackRegion) && stackRegion !== region
    ? [`${setting}: the stream is in ${region}, the stack in ${stackRegion}`]
    : [];
}

/** Throws `make(message)` listing every problem, prefixed by `label` and the construct path. */
export function failOnProblems(
  scope: Construct,
  label: string,
  problems: readonly string[],
  make: (message: string) => Error,
): void {
  if (problems.length === 0) return;
  const prefix = `${label} ${scope.node.path}:`;
  throw make(
    problems.length === 1
      ? `${prefix} ${problems[0]}`
      : `${prefix}\n  - ${problems.join('\n  - ')}`,
  );
}
