// `streamfill seed`: Pika-shaped tables and index, filled with legacy data to migrate; with
// `--preset bedrock-chat-v3`, Bedrock Chat's V2 table (V2 data) and its two empty V3 tables.
import { Option, type Command } from 'commander';
import { makeClients, destroyClients } from '../../lib/adapters/clients.ts';
import { seed } from '../../local/seed.ts';
import { seedBedrock } from '../../local/bedrock-seed.ts';
import { bedrockTableNames } from '../../local/bedrock-tables.ts';
import { commandConfig, nonNegativeInt, withSharedOptions, type Config } from '../config.ts';
import { PRESETS } from '../config-loader.ts';
import { pikaTableNames } from '../../local/pika-tables.ts';
import { sessionSearchKeywords } from '../../lib/presets/pika.ts';
import { jsonOutput, jsonTarget } from '../output.ts';

/** The flags only the Pika data set reads. */
const PIKA_ONLY = ['sessions', 'tags', 'migrated', 'malformed'] as const;

export function registerSeedCommand(program: Command): void {
  withSharedOptions(
    program
      .command('seed')
      .description(
        'Create Pika-shaped tables and the session index if missing, then write legacy items ' +
          '(--preset bedrock-chat-v3: the Bedrock Chat V2 and V3 tables, and V2 items).',
      )
      .addOption(
        new Option(
          '--preset <name>',
          'the built-in preset whose tables and data to seed (it is the config: no --config)',
        ).choices(PRESETS),
      )
      .option(
        '--sessions <n>',
        'legacy chat sessions to write (Pika; required without --preset bedrock-chat-v3)',
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
  ).action(async (opts, cmd: Command) => {
    if (opts.preset === 'bedrock-chat-v3') {
      const given = PIKA_ONLY.filter((o) => cmd.getOptionValueSource(o) === 'cli');
      if (given.length)
        throw new Error(
          `--preset bedrock-chat-v3 seeds Bedrock Chat data: ${given.map((o) => `--${o}`).join(', ')} ` +
            'only apply to the Pika data set (pass --users and --seed)',
        );
      const { config } = await commandConfig(opts);
      return seedBedrockCommand(config, opts);
    }
    if (opts.sessions === undefined)
      throw new Error(
        "required option '--sessions <n>' not specified (the Pika data set; --preset bedrock-chat-v3 needs only --users)",
      );
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

/** `seed --preset bedrock-chat-v3`: the three tables, and V2 items for `--users` users. */
async function seedBedrockCommand(
  config: Config,
  opts: { users: number; seed: number; json: boolean },
): Promise<void> {
  // A config without the preset's tables cannot be: --preset is the config. Names still map.
  const tables = bedrockTableNames(config.tables);
  const clients = makeClients({});
  const json = jsonOutput(jsonTarget(opts.json));
  try {
    const started = Date.now();
    const res = await seedBedrock(
      { dynamodb: clients.dynamodb, doc: clients.doc, tables },
      { users: opts.users, seed: opts.seed },
    );
    console.log(
      `seeded ${opts.users} users into ${tables.v2Conversation}: ${res.bots.length} bots, ` +
        `${res.aliases.length} aliases (${res.aliasesWithoutOwner} of an unpublished or deleted bot), ` +
        `${res.conversations.length} conversations, ${res.relatedDocuments.length} related documents` +
        ` in ${Date.now() - started} ms` +
        (res.createdTables.length ? ` (created ${res.createdTables.join(', ')})` : ''),
    );
    await json.emit({
      preset: 'bedrock-chat-v3',
      users: opts.users,
      bots: res.bots.length,
      aliases: res.aliases.length,
      aliasesWithoutOwner: res.aliasesWithoutOwner,
      conversations: res.conversations.length,
      relatedDocuments: res.relatedDocuments.length,
      createdTables: res.createdTables,
      tables: config.tables,
      ms: Date.now() - started,
    });
  } finally {
    json.restore();
    destroyClients(clients);
  }
}
