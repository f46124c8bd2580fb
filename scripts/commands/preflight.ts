// `streamfill preflight`: what to fix before a migration starts (stream, readers, global
// table, PITR, write headroom, keyword mapping). Exits 1 when any finding is `fail`.
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import type { Finding } from '../../lib/core/preflight.ts';
import { runPreflight, type RunPreflightInput } from '../../lib/engine/preflight.ts';
import { commandConfig, positiveInt, requireNamedTable, withSharedOptions } from '../config.ts';
import { configSearchSpec } from '../../lib/engine/deps.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';

/**
 * A Lambda client for counting stream readers, or why there is none: against DynamoDB Local
 * (AWS_ENDPOINT_URL_DYNAMODB set) real Lambda would be asked about a local stream, so without
 * AWS_ENDPOINT_URL_LAMBDA there is nothing to ask. Short timeouts: preflight never hangs on it.
 */
export function preflightLambda(
  env: NodeJS.ProcessEnv = process.env,
): Pick<RunPreflightInput, 'lambda' | 'lambdaUnavailable'> {
  if (env.AWS_ENDPOINT_URL_DYNAMODB && !env.AWS_ENDPOINT_URL_LAMBDA) {
    return {
      lambdaUnavailable:
        'DynamoDB is local (AWS_ENDPOINT_URL_DYNAMODB) and no Lambda endpoint is set (AWS_ENDPOINT_URL_LAMBDA)',
    };
  }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    lambda: new LambdaClient({
      region,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
    }),
  };
}

const MARK: Record<Finding['level'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function renderFindings(findings: readonly Finding[]): string {
  const lines = findings.flatMap((f) => [
    `${MARK[f.level]} ${f.check}: ${f.message}`,
    `     → ${f.action}`,
  ]);
  const fails = findings.filter((f) => f.level === 'fail').length;
  const warns = findings.filter((f) => f.level === 'warn').length;
  lines.push(
    fails
      ? `preflight: FAILED (${fails} to fix${warns ? `, ${warns} warnings` : ''})`
      : `preflight: passed${warns ? ` with ${warns} warnings` : ''}`,
  );
  return lines.join('\n');
}

export function registerPreflightCommand(program: Command): void {
  withSharedOptions(
    program
      .command('preflight')
      .description(
        'Check the source table, its stream and the search index before a migration; exit 1 on any failure.',
      )
      .option('--table <name>', 'source table (default: --session-table)')
      .option(
        '--rate <n>',
        "the backfill's writes per second, to check the write headroom",
        positiveInt('--rate'),
      )
      .option(
        '--consumer-function <name>',
        'the deployed streamfill consumer (name or ARN): its stream mapping is not counted as another reader',
      )
      .option('--json', 'print facts and findings as JSON', false),
  ).action(async (opts) => {
    const { planner, config } = await commandConfig(opts);
    const first = planner.migratedTables[0] as string;
    const table: string = opts.table ?? physicalTable(config.tables, first);
    const clients = makeClients({ searchEndpoint: config.searchEndpoint });
    const lambda = preflightLambda();
    try {
      await requireNamedTable(
        clients.dynamodb,
        table,
        opts.table ? '--table' : `--table, or --table-name ${first}=<name>`,
      );
      const spec = configSearchSpec(planner);
      const result = await runPreflight({
        table,
        dynamodb: clients.dynamodb,
        ...lambda,
        ...(clients.search &&
          spec && {
            search: {
              client: clients.search,
              index: config.searchIndex ?? spec.index,
              fields: Object.keys(spec.sources),
            },
          }),
        ...(opts.rate !== undefined && { rate: opts.rate }),
        ...(opts.consumerFunction && { consumerFunction: opts.consumerFunction }),
      });
      console.log(
        opts.json
          ? JSON.stringify({ ...result, passed: !result.failed }, null, 2)
          : renderFindings(result.findings),
      );
      process.exitCode = result.failed ? 1 : 0;
    } finally {
      lambda.lambda?.destroy();
      destroyClients(clients);
    }
  });
}
