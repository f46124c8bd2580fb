// What a deployed streamfill stack tells the CLI (`--stack NAME`): its CloudFormation outputs
// (DescribeStacks) under the fixed keys of STACK_OUTPUTS, so an operator passes one stack name
// instead of queue URLs, the DLQ, the state table and the tables one by one.
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type Output,
} from '@aws-sdk/client-cloudformation';
import { STACK_OUTPUTS, type StackOutputKey } from '../config/defaults.ts';

export type StackOutputs = Partial<Record<StackOutputKey, string>>;

/** The outputs every ContinuousBackfill stack exports (the others depend on its props). */
export const REQUIRED_STACK_OUTPUTS: readonly StackOutputKey[] = [
  'workQueueUrl',
  'dlqUrl',
  'stateTable',
  'dashboard',
  'consumerFunction',
];

/**
 * The tables: `Tables` (JSON, declared → physical), or for a Pika stack deployed before it,
 * the SessionTableName/UserTableName outputs.
 */
const TABLE_OUTPUTS: readonly (readonly StackOutputKey[])[] = [
  ['tables'],
  ['sessionTable', 'userTable'],
];

/** A stack that is missing, or is not a streamfill stack: the message says which and why. */
export class StackOutputsError extends Error {
  override name = 'StackOutputsError';
}

/**
 * Maps DescribeStacks outputs to streamfill's names; unknown keys are ignored.
 *
 * @throws StackOutputsError naming the stack and every missing required output
 */
export function stackOutputsFrom(stackName: string, outputs: readonly Output[]): StackOutputs {
  const byKey = new Map(outputs.map((o) => [o.OutputKey, o.OutputValue]));
  const result: StackOutputs = {};
  for (const [name, key] of Object.entries(STACK_OUTPUTS) as [StackOutputKey, string][]) {
    const value = byKey.get(key);
    if (value) result[name] = value;
  }
  const missing = REQUIRED_STACK_OUTPUTS.filter((k) => result[k] === undefined);
  if (!TABLE_OUTPUTS.some((keys) => keys.every((k) => result[k] !== undefined)))
    missing.push(TABLE_OUTPUTS[0]![0]!);
  if (result.tables !== undefined) stackTableNames(stackName, result);
  if (missing.length) {
    throw new StackOutputsError(
      `stack ${stackName} has no output ${missing.map((k) => STACK_OUTPUTS[k]).join(', ')}: ` +
        'is it a streamfill stack (ContinuousBackfill with exportOutputs), deployed with this version?',
    );
  }
  return result;
}

/**
 * Declared table name → physical name, from the stack's `Tables` output, else (a Pika stack
 * deployed before it) from its session/user/tag outputs: the `stack` input of resolveTableNames.
 *
 * @throws StackOutputsError when `Tables` is not a JSON object of strings
 */
export function stackTableNames(
  stackName: string,
  outputs: StackOutputs,
): Readonly<Record<string, string>> {
  if (outputs.tables === undefined) {
    const { sessionTable: session, userTable: user, tagTable: tag } = outputs;
    return {
      ...(session && { session }),
      ...(user && { user }),
      ...(tag && { tag }),
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(outputs.tables);
  } catch {
    parsed = undefined;
  }
  const isNames =
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.values(parsed as object).every((v) => typeof v === 'string');
  if (!isNames)
    throw new StackOutputsError(
      `stack ${stackName}: output ${STACK_OUTPUTS.tables} is not a JSON object of table names, got ${JSON.stringify(outputs.tables)}`,
    );
  return parsed as Record<string, string>;
}

/**
 * Reads a deployed streamfill stack's outputs.
 *
 * @throws StackOutputsError when the stack does not exist or lacks streamfill's outputs
 * @example
 * const out = await readStackOutputs(new CloudFormationClient({}), 'streamfill-chat-session-prod');
 * out.workQueueUrl; // https://sqs.…/streamfill-…WorkQueue…
 */
export async function readStackOutputs(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<StackOutputs> {
  let outputs: Output[] | undefined;
  try {
    const r = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = r.Stacks?.[0]?.Outputs;
  } catch (e) {
    // CloudFormation answers a missing stack with a ValidationError "… does not exist".
    if ((e as Error).name === 'ValidationError' && /does not exist/.test((e as Error).message)) {
      throw new StackOutputsError(
        `stack ${stackName} does not exist in ${await cfn.config.region()}: check --stack and the region (AWS_REGION)`,
      );
    }
    throw e;
  }
  return stackOutputsFrom(stackName, outputs ?? []);
}
