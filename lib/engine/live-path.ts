// Every migrated table needs a live path: without a NEW_AND_OLD_IMAGES stream, what the app
// writes after its segment was scanned is never migrated, and a one-shot pass alone never
// converges while the app writes. `backfill` asks this before any side effect and refuses such a
// table unless the operator says `--one-shot` (then it warns, naming the table).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describeTableStream } from '../adapters/tables.ts';
import { streamFinding } from '../core/preflight.ts';

export interface LivePath {
  /** The declared table. */
  table: string;
  tableName: string;
  /** The table's stream carries new and old images: the consumer migrates later writes. */
  ok: boolean;
  /** Why not, and the exact command that gives it one (when not ok). */
  problem?: string;
}

/** Each table's live path, read from DescribeTable (reads only). */
export async function checkLivePaths(
  dynamodb: DynamoDBClient,
  tables: readonly { table: string; tableName: string; newImageEnough?: boolean }[],
): Promise<LivePath[]> {
  const out: LivePath[] = [];
  for (const { table, tableName, newImageEnough } of tables) {
    const stream = (await describeTableStream(dynamodb, tableName)) ?? { enabled: false };
    const finding = streamFinding({ table: tableName, stream, newImageEnough });
    out.push(
      finding.level === 'ok'
        ? { table, tableName, ok: true }
        : { table, tableName, ok: false, problem: `${finding.message}. To fix: ${finding.action}` },
    );
  }
  return out;
}

/** What `--one-shot` says about a table without a live path (stderr and `--json`). */
export function oneShotWarning(p: LivePath): string {
  return (
    `--one-shot: table ${p.tableName} (${p.table}) has no live path: later application writes to ` +
    'it are not migrated (this pass migrates what it scans, once)'
  );
}
