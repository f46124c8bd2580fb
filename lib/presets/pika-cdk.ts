// The Pika preset in a CDK app (`streamfill/presets/pika/cdk`): the chat-session, chat-user and
// tag-definition tables as ContinuousBackfill's `config` + `tables`, and the table outputs a CLI
// from before the `Tables` output reads. A separate entry from `streamfill/presets/pika`, which
// a config or a Lambda bundle imports without aws-cdk-lib. Written on the public API only.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfnOutput } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  ContinuousBackfillPropsError,
  type ContinuousBackfill,
  type ContinuousBackfillProps,
  type ImportedTable,
} from '../cdk.ts';

/** The preset's file (.ts in a checkout, .js in dist/), as ContinuousBackfill's `config`. */
export const PIKA_CONFIG = fileURLToPath(
  new URL(`./pika${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

/** The Pika tables: each one of this app, or imported by name (and stream ARN). */
export interface PikaTables {
  /**
   * The chat-session table, with a `NEW_AND_OLD_IMAGES` stream. Give this or
   * `sessionTableName` + `sessionTableStreamArn`.
   */
  readonly sessionTable?: ITable;
  /** An existing chat-session table, imported by name (with `sessionTableStreamArn`). */
  readonly sessionTableName?: string;
  /**
   * The imported session table's stream ARN (`aws dynamodb describe-table --query
   * Table.LatestStreamArn`): it carries a creation label and cannot be derived from the name.
   */
  readonly sessionTableStreamArn?: string;
  /** The chat-user table (looked up for `user_type`). Give this or `userTableName`. */
  readonly userTable?: ITable;
  readonly userTableName?: string;
  /**
   * The tag-definition table. With a stream (its own, or `tagTableStreamArn`) it gets a live
   * path; without one its migration is one-shot (`backfill --one-shot`) and synth warns.
   * @default - no tag table: the tag migration is not deployed
   */
  readonly tagTable?: ITable;
  readonly tagTableName?: string;
  /** The imported tag table's stream ARN. @default - `tagTable.tableStreamArn` */
  readonly tagTableStreamArn?: string;
}

/** The Pika tables and every ContinuousBackfill prop but those the preset sets. */
export type PikaBackfillProps = PikaTables &
  Omit<ContinuousBackfillProps, 'config' | 'tables' | 'oneShot'>;

/**
 * ContinuousBackfill's props for the Pika preset: `config` is the preset, `tables` its tables by
 * declared name (session, user, tag), a tag table without a stream one-shot.
 *
 * @throws ContinuousBackfillPropsError listing every problem with the table props
 * @example
 * new ContinuousBackfill(this, 'Backfill', pikaBackfillProps({
 *   sessionTableName: 'chat-session-prod',
 *   sessionTableStreamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-session-prod/stream/2026-…',
 *   userTableName: 'chat-user-prod',
 * }));
 */
export function pikaBackfillProps(props: PikaBackfillProps): ContinuousBackfillProps {
  const {
    sessionTable,
    sessionTableName,
    sessionTableStreamArn,
    userTable,
    userTableName,
    tagTable,
    tagTableName,
    tagTableStreamArn,
    ...rest
  } = props;
  const problems: string[] = [];
  const session = table(problems, 'session', sessionTable, sessionTableName, sessionTableStreamArn);
  const user = table(problems, 'user', userTable, userTableName, undefined);
  const tag = table(problems, 'tag', tagTable, tagTableName, tagTableStreamArn);
  if (!session)
    problems.push(
      'no session table: give sessionTable, or sessionTableName and sessionTableStreamArn',
    );
  else if (sessionTable !== undefined && sessionTable.tableStreamArn === undefined)
    problems.push(
      `sessionTable ${sessionTable.node.path} has no stream: add stream: StreamViewType.NEW_AND_OLD_IMAGES`,
    );
  else if (sessionTable === undefined && sessionTableStreamArn === undefined)
    problems.push(
      `sessionTableName ${JSON.stringify(sessionTableName)} needs sessionTableStreamArn ` +
        `(aws dynamodb describe-table --table-name ${sessionTableName} --query Table.LatestStreamArn)`,
    );
  if (!user) problems.push('no user table: give userTable or userTableName (the chat-user table)');
  if (problems.length)
    throw new ContinuousBackfillPropsError(`pikaBackfillProps:\n  - ${problems.join('\n  - ')}`);
  return {
    ...rest,
    config: PIKA_CONFIG,
    tables: { session: session!, user: user!, ...(tag && { tag }) },
    ...(tag && tag.tableStreamArn === undefined && { oneShot: ['tag'] }),
  };
}

/** One table from its props: the table itself, or its name (and stream ARN). */
function table(
  problems: string[],
  role: string,
  given: ITable | undefined,
  name: string | undefined,
  streamArn: string | undefined,
): ITable | ImportedTable | undefined {
  if (given && (name !== undefined || streamArn !== undefined)) {
    problems.push(
      `${role}Table and ${role}TableName${streamArn !== undefined ? `/${role}TableStreamArn` : ''} are both set: give the table, or import one by name`,
    );
    return undefined;
  }
  if (given) return given;
  if (name === undefined) {
    if (streamArn !== undefined)
      problems.push(`${role}TableStreamArn is set without ${role}TableName`);
    return undefined;
  }
  return { tableName: name, ...(streamArn !== undefined && { tableStreamArn: streamArn }) };
}

/**
 * Adds the SessionTableName, UserTableName and TagTableName outputs (under their fixed keys) a
 * CLI from before the `Tables` output reads, for a ContinuousBackfill of the Pika preset.
 */
export function addPikaTableOutputs(backfill: ContinuousBackfill): void {
  const outputs = [
    ['session', 'SessionTableName', 'The migrated table (STREAMFILL_SESSION_TABLE)'],
    ['user', 'UserTableName', 'The chat-user table (STREAMFILL_USER_TABLE)'],
    ['tag', 'TagTableName', 'The tag-definition table (STREAMFILL_TAG_TABLE)'],
  ] as const;
  for (const [declared, key, description] of outputs) {
    const t = backfill.tables.get(declared);
    if (!t) continue;
    // Fixed keys: the CLI finds them by name in DescribeStacks.
    new CfnOutput(backfill, key, { value: t.tableName, description }).overrideLogicalId(key);
  }
}
