// Never aim at the wrong target. Before a command's action: test-data commands refuse anything
// but the local services; a local default table name is refused against real AWS, with the flag
// to pass instead; and every command that touches AWS says on stderr where it is about to go.
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { Command } from 'commander';
import { ENV, LOCAL_STATE_TABLE, LOCAL_TABLE_NAMES } from '../lib/config/defaults.ts';
import { isLoopbackUrl } from '../lib/core/endpoints.ts';
import type { TableRole } from '../lib/core/types.ts';
import { settingName } from './config.ts';

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

/** The tables a command reads or writes (the others' names do not matter to it). */
export function tablesTouched(action: Command): TableRole[] {
  const opts = settingsCommand(action)?.opts() ?? {};
  const path = commandPath(action);
  if (path === 'preflight' || path === 'index status' || path === 'status') {
    return opts.table ? [] : ['session'];
  }
  if (path === 'verify') return opts.tags ? ['session', 'tag'] : ['session'];
  if (path.startsWith('backfill')) {
    const t = (opts.table as string | undefined) ?? 'session';
    const roles: TableRole[] = t === 'all' ? ['session', 'tag'] : [t as TableRole];
    return opts.dryRun && roles.includes('session') ? [...roles, 'user'] : roles;
  }
  if (path === 'run') return ['session', 'user', 'tag'];
  return ['session'];
}

/** Whether the command keeps its state in the DynamoDB state table (not a checkpoint file). */
function usesStateTable(action: Command): boolean {
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
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (localEndpoints(env).dynamodb) return;
  const c = settingsCommand(action);
  if (!c || TEST_DATA_COMMANDS.has(commandPath(action))) return;
  const problems: string[] = [];
  const refuse = (owner: Command, attr: string, setting: string) => {
    const value = owner.getOptionValue(attr) as string | undefined;
    if (owner.getOptionValueSource(attr) === 'default' && value?.endsWith('-local')) {
      const [flag, variable] = setting.split(' / ');
      problems.push(`${value}: pass ${flag} NAME (or ${variable})`);
    }
  };
  for (const role of tablesTouched(action)) refuse(c, `${role}Table`, settingName(`${role}Table`));
  if (usesStateTable(action)) {
    const owner = action.options.some((o) => o.attributeName() === 'stateTable') ? action : c;
    refuse(owner, 'stateTable', `--state-table / ${ENV.stateTable}`);
  }
  if (problems.length) {
    throw new Error(
      'no AWS_ENDPOINT_URL_DYNAMODB is set, so this goes to real AWS, where a local default name is refused — ' +
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
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const c = settingsCommand(action);
  if (!c || commandPath(action) === 'demo' || commandPath(action).startsWith('bench')) return;
  const opts = c.opts();
  const { dynamodb, sqs } = localEndpoints(env);
  const search = (opts.searchEndpoint as string | undefined) ?? env[ENV.searchEndpoint];
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const where = dynamodb
    ? `DynamoDB ${dynamodb}, SQS ${sqs ?? `AWS ${region}`}`
    : `AWS account ${await awsAccount(region, opts.sessionTable as string | undefined)}, region ${region}`;
  const roles = tablesTouched(action);
  const tables = (roles.length ? roles : (['session'] as TableRole[]))
    .map((r) => `${r} ${opts[`${r}Table`] ?? LOCAL_TABLE_NAMES[r]}`)
    .concat(
      usesStateTable(action)
        ? [`state ${action.opts().stateTable ?? opts.stateTable ?? LOCAL_STATE_TABLE}`]
        : [],
    );
  if (opts.table && roles.length === 0) tables.splice(0, tables.length, `table ${opts.table}`);
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
  refuseLocalDefaultsOnAws(action);
  const line = await describeTarget(action);
  if (line) console.error(line);
}
