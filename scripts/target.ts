// Never aim at the wrong target. Before a command's action: test-data commands refuse anything
// but the local services; a local default table name is refused against real AWS, with the flag
// to pass instead; and every command that touches AWS says on stderr where it is about to go.
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { Command } from 'commander';
import { ENV, LOCAL_STATE_TABLE } from '../lib/config/defaults.ts';
import type { Planner } from '../lib/core/config/planner.ts';
import { isLoopbackUrl } from '../lib/core/endpoints.ts';
import { tableNameSetting, tableNameSources, tableNamesOf } from './config.ts';
import { loadPlanner, type PresetName } from './config-loader.ts';

/** Commands that write fake data or load: local services only, never a stack. */
const TEST_DATA_COMMANDS = new Set(['seed', 'demo', 'bench live', 'bench backfill']);

/** `backfill pause`, `index status`, `seed`: the command's words below the program. */
export function commandPath(action: Command): string {
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The command holding the shared options: the action, or its parent (`backfill pause`). */
function settingsCommand(action: Command): Command | undefined {
  const has = (c: Command | null) => c?.options.some((o) => o.attributeName() === 'sessionTable');
  if (has(action)) return action;
  return has(action.parent) ? (action.parent as Command) : undefined;
}

/** The SDK's endpoint variables: set means the local services (or another emulation). */
export function localEndpoints(env: NodeJS.ProcessEnv = process.env) {
  return {
    dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB,
    sqs: env.AWS_ENDPOINT_URL_SQS,
  };
}

const START_SERVICES = 'start them with `eval "$(npx streamfill services up)"`';

/** Test-data commands: refuses --stack and every endpoint that is not this machine. */
export function refuseNonLocalTestData(
  action: Command,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const path = commandPath(action);
  if (!TEST_DATA_COMMANDS.has(path)) return;
  const what = `${path} writes test data and only to the local services`;
  const opts = settingsCommand(action)?.opts() ?? {};
  if (opts.stack) {
    const fromEnv = settingsCommand(action)?.getOptionValueSource('stack') === 'env';
    throw new Error(
      `${what}: it refuses a stack (${JSON.stringify(opts.stack)}); ` +
        (fromEnv ? `unset ${ENV.stack} in this shell (\`unset ${ENV.stack}\`)` : 'drop --stack'),
    );
  }
  const { dynamodb, sqs } = localEndpoints(env);
  const search = (opts.searchEndpoint as string | undefined) ?? env[ENV.searchEndpoint];
  const remote = [
    ['AWS_ENDPOINT_URL_DYNAMODB', dynamodb],
    ['AWS_ENDPOINT_URL_SQS', sqs],
    [`--search-endpoint / ${ENV.searchEndpoint}`, search],
  ].filter(([, url]) => url !== undefined && url !== '' && !isLoopbackUrl(url));
  if (remote.length) {
    throw new Error(
      `${what}: ${remote.map(([k, v]) => `${k}=${v}`).join(', ')} is not this machine (localhost/127.0.0.1)`,
    );
  }
  // seed uses whatever endpoints are set; demo and bench start their own services when none are.
  if (path === 'seed' && !dynamodb) {
    throw new Error(
      `${what}, and AWS_ENDPOINT_URL_DYNAMODB is not set: it would write to real AWS; ${START_SERVICES}`,
    );
  }
}

/**
 * The declared tables a command reads or writes (the others' names do not matter to it): the
 * table `--table` selects (`all`: every migrated one), else every migrated table, with the
 * tables their lookups read where the command plans items.
 */
export function tablesTouched(action: Command, planner: Planner): string[] {
  const opts = settingsCommand(action)?.opts() ?? {};
  const path = commandPath(action);
  const selected = opts.table as string | undefined;
  const migrated = planner.migratedTables;
  const tables =
    selected === 'all' || selected === undefined
      ? path === 'preflight' || path === 'status' || path.startsWith('backfill')
        ? migrated.slice(0, selected === 'all' ? undefined : 1)
        : [...migrated]
      : migrated.includes(selected)
        ? [selected]
        : [];
  const plans = path === 'run' || path === 'verify' || path === 'redrive' || opts.dryRun;
  const lookups = plans
    ? tables.flatMap((t) => planner.lookupsFor(t).map((l) => l.table.name))
    : [];
  return [...new Set([...tables, ...lookups])];
}

/** Commands that read the state table only for a config's copies (their ledger). */
const COPY_STATE_COMMANDS = new Set(['verify']);

/** Whether the command keeps its state in the DynamoDB state table (not a checkpoint file). */
function usesStateTable(action: Command, planner: Planner): boolean {
  if (
    COPY_STATE_COMMANDS.has(commandPath(action)) &&
    !planner.migratedTables.some((t) => planner.copiesFor(t).length > 0)
  )
    return false;
  const c = settingsCommand(action);
  const has = (cmd: Command | undefined) =>
    cmd?.options.some((o) => o.attributeName() === 'stateTable');
  const owner = has(action) ? action : has(c) ? c : undefined;
  return owner !== undefined && !owner.opts().checkpointFile;
}

/**
 * Against real AWS (no AWS_ENDPOINT_URL_DYNAMODB), a table name nobody gave — the local
 * default `chat-session-local` and its kind — is refused, naming the flag to pass instead.
 */
export function refuseLocalDefaultsOnAws(
  action: Command,
  planner: Planner,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (localEndpoints(env).dynamodb) return;
  const c = settingsCommand(action);
  if (!c || TEST_DATA_COMMANDS.has(commandPath(action))) return;
  const problems: string[] = [];
  const names = tableNameSources(c.opts(), planner, env);
  for (const table of tablesTouched(action, planner)) {
    const p = names.get(table);
    if (p && (p.from === 'localName' || p.from === 'declared'))
      problems.push(`${p.name}: pass ${tableNameSetting(table)}`);
  }
  if (usesStateTable(action, planner)) {
    const owner = action.options.some((o) => o.attributeName() === 'stateTable') ? action : c;
    const value = owner.getOptionValue('stateTable') as string | undefined;
    if (owner.getOptionValueSource('stateTable') === 'default' && value?.endsWith('-local'))
      problems.push(`${value}: pass --state-table NAME (or ${ENV.stateTable})`);
  }
  if (problems.length) {
    throw new Error(
      'no AWS_ENDPOINT_URL_DYNAMODB is set, so this goes to real AWS, where a table name nobody gave is refused — ' +
        `${problems.join('; ')}; or give --stack NAME (${ENV.stack}), the deployed streamfill stack. ` +
        `For the local services instead: ${START_SERVICES}`,
    );
  }
}

/** The account of the credentials (when they say), else of the session table's ARN. */
async function awsAccount(region: string, sessionTable: string | undefined): Promise<string> {
  try {
    const creds = await defaultProvider()();
    if (creds.accountId) return creds.accountId;
    if (!sessionTable) return 'unknown';
    const ddb = new DynamoDBClient({ region, maxAttempts: 1 });
    try {
      const t = await ddb.send(new DescribeTableCommand({ TableName: sessionTable }));
      return t.Table?.TableArn?.split(':')[4] ?? 'unknown';
    } finally {
      ddb.destroy();
    }
  } catch (e) {
    return `unknown (${(e as Error).message.split('\n')[0]})`;
  }
}

/** One line: where the command goes (endpoints, or account and region) and which names it uses. */
export async function describeTarget(
  action: Command,
  planner: Planner,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const c = settingsCommand(action);
  if (!c || commandPath(action) === 'demo' || commandPath(action).startsWith('bench')) return;
  const opts = c.opts();
  const names = tableNamesOf(opts, planner, env);
  const touched = tablesTouched(action, planner);
  const { dynamodb, sqs } = localEndpoints(env);
  const search = (opts.searchEndpoint as string | undefined) ?? env[ENV.searchEndpoint];
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const where = dynamodb
    ? `DynamoDB ${dynamodb}, SQS ${sqs ?? `AWS ${region}`}`
    : `AWS account ${await awsAccount(region, touched[0] && names[touched[0]])}, region ${region}`;
  const tables = (
    touched.length ? touched.map((t) => `${t} ${names[t]}`) : [`table ${opts.table}`]
  ).concat(
    usesStateTable(action, planner)
      ? [`state ${action.opts().stateTable ?? opts.stateTable ?? LOCAL_STATE_TABLE}`]
      : [],
  );
  return (
    `streamfill: target ${where}${opts.stack ? ` (stack ${opts.stack})` : ''}; ` +
    `tables: ${tables.join(', ')}; queues: ${opts.queueName}, ${opts.dlqName}` +
    (search ? `; search ${search}` : '')
  );
}

/** The root program's preAction checks, in order, before any action touches anything. */
export async function guardTarget(
  action: Command,
  readStack: (root: Command, action: Command) => Promise<void>,
  root: Command,
): Promise<void> {
  refuseNonLocalTestData(action);
  await readStack(root, action);
  if (!settingsCommand(action)) return;
  // The command loads it again for its work; both reads give the same config.
  const opts = settingsCommand(action)?.opts() ?? {};
  const planner = await loadPlanner({
    config: opts.config as string | undefined,
    preset: opts.preset as PresetName | undefined,
  });
  refuseLocalDefaultsOnAws(action, planner);
  const line = await describeTarget(action, planner);
  if (line) console.error(line);
}
