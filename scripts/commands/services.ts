// `streamfill services up|down|env|install`: local DynamoDB (+ Streams), SQS (ElasticMQ) and OpenSearch
// that outlive the command, for the local runner, the demo and manual poking.

import type { Command } from 'commander';
import { ensureLambdaNode } from '../../local/lambda-node.ts';
import { resolveServiceJars } from '../../local/services/maven-jars.ts';
import {
  readServicesState,
  servicesDown,
  servicesEnvLines,
  servicesUp,
  renderEnvLines,
  type ProviderChoice,
} from '../../local/services/index.ts';

const err = (line: string) => process.stderr.write(`${line}\n`);
const JSON_HELP = 'print the result as JSON on stdout (instead of export lines)';
const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

function parseProvider(value: string): ProviderChoice {
  if (value === 'auto' || value === 'java' || value === 'docker') return value;
  throw new Error(`--provider must be auto, java or docker (got "${value}")`);
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--timeout must be a positive number of seconds (got "${value}")`);
  return n;
}

export function registerServicesCommand(program: Command): void {
  const services = program
    .command('services')
    .description(
      'local DynamoDB (+ Streams), SQS (ElasticMQ) and OpenSearch; `env` prints export lines',
    )
    .addHelpText(
      'after',
      `
Without Docker the services run as Java processes (Java 17+; the jars are fetched once from
Maven Central with Maven into the user's cache directory: $STREAMFILL_CACHE_DIR, else
$XDG_CACHE_HOME/streamfill, else ~/.cache/streamfill). With a reachable Docker engine, \`up\` uses
streamfill's docker-compose.yml instead. Each working directory has its own detached services. Set STREAMFILL_SERVICES_PROVIDER=java|docker to force one.

Typical use:
  eval "$(streamfill services up)"     start (or find running) services, export their endpoints
  eval "$(streamfill services env)"    in another shell
  streamfill services down`,
    );

  services
    .command('up')
    .description(
      'start the services in the background (no-op when they are already running); prints export lines',
    )
    .option('--provider <provider>', 'auto | java | docker', parseProvider, 'auto')
    .option('--timeout <seconds>', 'readiness deadline per service', parseSeconds)
    .option('--json', JSON_HELP, false)
    .action(async (opts: { provider: ProviderChoice; timeout?: number; json: boolean }) => {
      const started = Date.now();
      const r = await servicesUp({
        provider: opts.provider,
        ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout * 1000 } : {}),
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (r.alreadyRunning) {
        err(`services already running (${r.provider}); nothing started`);
      } else {
        err(
          `services started (${r.provider}) in ${seconds} s; stop them with \`streamfill services down\``,
        );
      }
      if (r.state.provider === 'java') {
        for (const [name, s] of Object.entries(r.state.services))
          err(`  ${name.padEnd(10)} pid ${s.pid}  ${s.logFile}`);
      }
      if (opts.json)
        printJson({ provider: r.provider, alreadyRunning: r.alreadyRunning, env: r.env });
      else process.stdout.write(`${renderEnvLines(r.env).join('\n')}\n`);
    });

  services
    .command('install')
    .description(
      "fetch the Java services' jars from Maven Central, and the Lambda runtime's Node (npm " +
        'package `node`) for the bundle tests, into the cache directory (once per machine)',
    )
    .option('--json', 'print where everything landed as JSON on stdout', false)
    .action(async (opts: { json: boolean }) => {
      const dirs = await resolveServiceJars();
      for (const [name, dir] of Object.entries(dirs)) err(`  ${name.padEnd(10)} ${dir}`);
      const node = await ensureLambdaNode();
      err(`  ${'node'.padEnd(10)} ${node}`);
      if (opts.json) printJson({ jars: dirs, lambdaNode: node });
    });

  services
    .command('down')
    .description('stop the services started by `services up`')
    .option('--json', 'print what was stopped as JSON on stdout', false)
    .action(async (opts: { json: boolean }) => {
      const r = await servicesDown();
      if (r.skipped.length > 0) {
        err(`left alone: pid ${r.skipped.join(', ')} (no longer a streamfill service process)`);
      }
      err(r.stopped ? `services stopped (${r.provider ?? 'java'})` : 'services were not running');
      if (opts.json) printJson(r);
    });

  services
    .command('env')
    .description('print `export NAME=value` lines for the running services (for eval)')
    .option('--json', 'print the endpoints as a JSON object', false)
    .action((opts: { json: boolean }) => {
      const lines = servicesEnvLines(); // refuses when the services are not running
      if (opts.json) printJson(readServicesState()?.env);
      else process.stdout.write(`${lines.join('\n')}\n`);
    });
}
