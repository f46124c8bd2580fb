// The backfill's pre-start checks, in one place: everything refused before anything is created
// or sent. First without touching a service (flags, their combinations, the --keys file, where
// --json goes), then reads only (the tables exist, the run state allows the pass).
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Clients } from '../../../lib/adapters/clients.ts';
import { ENV } from '../../../lib/config/defaults.ts';
import type { Planner } from '../../../lib/core/config/planner.ts';
import { physicalTable } from '../../../lib/core/config/table-names.ts';
import type { Key } from '../../../lib/core/types.ts';
import { BackfillOptionError } from '../../../lib/engine/backfill.ts';
import { keepsRun, validateBackfillOptions } from '../../../lib/engine/backfill-options.ts';
import { planRun } from '../../../lib/engine/backfill-run-record.ts';
import { checkLivePaths, type LivePath } from '../../../lib/engine/live-path.ts';
import { requireTable, type Config } from '../../config.ts';
import { jsonTarget } from '../../output.ts';
import { engineOptions, type BackfillCliOptions } from './flags.ts';
import { readKeysFile } from './keys-file.ts';
import { existingStateStore } from './stores.ts';

/**
 * Everything that can be refused without touching a service: flag values and combinations, the
 * --keys file, where --json goes. Returns the keys read.
 */
export async function checkFlags(
  opts: BackfillCliOptions,
  planner: Planner,
  tables: string[],
): Promise<Key[] | undefined> {
  if (tables.length > 1 && (opts.user || opts.keys)) {
    throw new BackfillOptionError(
      `--user and --keys name items of one table: pass --table ${tables.join(' or --table ')}`,
    );
  }
  if (opts.distributed && opts.checkpointFile) {
    throw new BackfillOptionError(
      '--distributed cannot keep its run in --checkpoint-file: the workers read and write the run through the state table (--state-table)',
    );
  }
  const canaryEnv = process.env[ENV.canary];
  if (canaryEnv !== undefined && canaryEnv !== 'on' && canaryEnv !== 'off') {
    throw new BackfillOptionError(`${ENV.canary} must be on or off, got "${canaryEnv}"`);
  }
  if (opts.detach && !opts.distributed) {
    throw new BackfillOptionError('--detach applies to --distributed only');
  }
  const probe = engineOptions(opts, planner, tables[0] as string, '', undefined, false);
  // Mode checks see --keys as given; the file itself is read (and checked) just after.
  validateBackfillOptions(
    { ...probe, ...(opts.keys && { keys: [{}] }) },
    opts.segments,
    opts.pageSize,
  );
  const jsonFile = jsonTarget(opts.json);
  if (jsonFile?.kind === 'file') {
    const dir = dirname(resolve(jsonFile.path));
    const isDir = await stat(dir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new BackfillOptionError(`--json ${jsonFile.path}: directory ${dir} does not exist`);
  }
  return opts.keys ? readKeysFile(opts.keys, planner.table(tables[0] as string)) : undefined;
}

/**
 * Reads only: the tables exist, each has its live path (or `--one-shot`) and the run state
 * allows the pass. Nothing is created, no preflight runs, for a command that is going to be
 * refused. Returns each table's live path.
 */
export async function checkServices(
  clients: Clients,
  config: Config,
  planner: Planner,
  opts: BackfillCliOptions,
  tables: string[],
  keys: Key[] | undefined,
  local: boolean,
): Promise<LivePath[]> {
  for (const table of tables) await requireTable(clients.dynamodb, config.tables, table);
  const livePaths = await checkLivePaths(
    clients.dynamodb,
    tables.map((table) => ({
      table,
      tableName: physicalTable(config.tables, table),
      newImageEnough: planner.copiesOnly(table),
    })),
  );
  requireLivePaths(livePaths, opts);
  const searchEnabled = Boolean(clients.search);
  if (keepsRun(engineOptions(opts, planner, tables[0] as string, '', keys, searchEnabled))) {
    const existing = await existingStateStore(clients, opts, local);
    for (const table of tables) {
      await planRun(existing, physicalTable(config.tables, table), opts, Date.now());
    }
  }
  return livePaths;
}

/**
 * Every migrated table needs its live path (a stream the consumer reads): a table without one
 * never converges while the app writes. `--one-shot` accepts that; a dry run only says so.
 */
function requireLivePaths(livePaths: readonly LivePath[], opts: BackfillCliOptions): void {
  const without = livePaths.filter((l) => !l.ok);
  if (!without.length || opts.oneShot) return;
  for (const l of without) console.error(`backfill: ${l.problem}`);
  if (opts.dryRun) {
    console.error('backfill: a real run would stop here (dry run continues)');
    return;
  }
  throw new BackfillOptionError(
    'refused: a table without a live path never converges while the app writes; ' +
      'enable its stream, or pass --one-shot to migrate it once',
  );
}
