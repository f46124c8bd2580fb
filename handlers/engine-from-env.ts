// Builds the pipeline's adapters from a Lambda function's environment (the same variables
// the CLI reads), once per container.
import { makeClients } from '../lib/adapters/clients.ts';
import { engineDeps } from '../lib/engine/deps.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { EngineDeps } from '../lib/engine/migrate-items.ts';

export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): {
  deps: EngineDeps;
  sqs: SQSClient;
} {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`environment variable ${name} is required`);
    return v;
  };
  const clients = makeClients({ searchEndpoint: env.SEARCH_ENDPOINT });
  const deps = engineDeps(clients, {
    tables: {
      session: need('STREAMFILL_SESSION_TABLE'),
      user: need('STREAMFILL_USER_TABLE'),
      tag: env.STREAMFILL_TAG_TABLE ?? '',
    },
    searchIndex: env.STREAMFILL_SEARCH_INDEX ?? 'session',
    writeConcurrency: Number(env.STREAMFILL_WRITE_CONCURRENCY ?? 16),
  });
  return { deps, sqs: clients.sqs };
}
