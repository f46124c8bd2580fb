// `streamfill seed`: Pika-shaped tables and index, filled with legacy data to migrate.
import type { Command } from 'commander';
import { makeClients, destroyClients } from '../../lib/adapters/clients.ts';
import { seed } from '../../local/seed.ts';
import { commandConfig, nonNegativeInt, withSharedOptions } from '../config.ts';
import { pikaTableNames } from '../../local/pika-tables.ts';
import { sessionSearchKeywords } from '../../lib/presets/pika.ts';
import { jsonOutput, jsonTarget } from '../output.ts';

export function registerSeedCommand(program: Command): void {
  withSharedOptions(
    program
      .command('seed')
      .description(
        'Create Pika-shaped tables and the session index if missing, then write legacy items.',
      )
      .requiredOption(
        '--sessions <n>',
        'legacy chat sessions to write',
        nonNegativeInt('--sessions'),
      )
      .requiredOption('--users <n>', 'chat users to write', nonNegativeInt('--users'))
      .option('--tags', 'also write legacy tag definitions', false)
      .option(
        '--migrated <fraction>',
        'share of sessions already migrated (0..1)',
        parseFraction,
        0.2,
      )
      .option(
        '--malformed <n>',
        'sessions with missing/mistyped inputs',
        nonNegativeInt('--malformed'),
        0,
      )
      .option('--seed <n>', 'random seed for the data set', nonNegativeInt('--seed'), 1)
      .option('--json', 'print what was written as JSON on stdout', false),
  ).action(async (opts) => {
    const { config } = await commandConfig(opts);
    // The Pika preset's demo data: a config without its tables is refused, naming the missing one.
    const tables = pikaTableNames(config.tables);
    const clients = makeClients({ searchEndpoint: config.searchEndpoint });
    const json = jsonOutput(jsonTarget(opts.json));
    try {
      const started = Date.now();
      const res = await seed(
        {
          dynamodb: clients.dynamodb,
          doc: clients.doc,
          tables,
          ...(clients.search && {
            search: {
              client: clients.search,
              index: config.searchIndex ?? sessionSearchKeywords.index,
            },
          }),
        },
        {
          sessions: opts.sessions,
          users: opts.users,
          tags: opts.tags,
          migratedFraction: opts.migrated,
          malformed: opts.malformed,
          seed: opts.seed,
        },
      );
      console.log(
        `seeded ${res.sessions.length} sessions, ${res.users.length} users, ${res.tags.length} tags` +
          ` in ${Date.now() - started} ms` +
          (res.createdTables.length ? ` (created ${res.createdTables.join(', ')})` : ''),
      );
      await json.emit({
        sessions: res.sessions.length,
        users: res.users.length,
        tags: res.tags.length,
        createdTables: res.createdTables,
        tables: config.tables,
        ms: Date.now() - started,
      });
    } finally {
      json.restore();
      destroyClients(clients);
    }
  });
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new Error(`--migrated must be between 0 and 1, got "${value}"`);
  return n;
}
