// A standalone LiveMigration's `declared` for Pika-shaped tables, as ContinuousBackfill derives
// it from the preset: the session table streamed and written, the user table looked up.
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  STREAM_CONSUMER_ENTRY,
  type DeclaredTables,
  type ImportedTable,
} from '../../lib/infra/constructs/live-migration.ts';

export function pikaDeclared(
  session: ITable | ImportedTable,
  user: ITable | ImportedTable,
): DeclaredTables {
  return {
    tables: new Map([
      ['session', session],
      ['user', user],
    ]),
    streamed: ['session'],
    written: ['session'],
    lookedUp: ['user'],
    // The handler itself: it runs the bundled preset.
    entry: STREAM_CONSUMER_ENTRY,
    environment: {
      STREAMFILL_TABLES: JSON.stringify({ session: session.tableName, user: user.tableName }),
    },
  };
}
