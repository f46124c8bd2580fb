// Never aim at the wrong target, on the real binary: test-data commands stay local, a local
// default name never reaches AWS, every AWS command says where it goes, and a refused connection
// names the service and the fix.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { tableExists } from '../../lib/adapters/tables.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cli-target');

let clients: Clients;
const ORDERS_CONFIG = fileURLToPath(
  new URL('../fixtures/configs/orders.config.ts', import.meta.url),
);
const p = uniqueName('tgt');
const tables = ['--session-table', `${p}-s`, '--user-table', `${p}-u`, '--tag-table', `${p}-t`];
const seedArgs = ['seed', '--sessions', '2', '--users', '1', ...tables];

/** The operator's shell on a machine with AWS credentials and no local endpoints. */
function awsEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_REGION: 'eu-west-1',
    AWS_ACCOUNT_ID: '123456789012',
  };
  for (const k of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_DYNAMODB_STREAMS']) delete env[k];
  delete env.AWS_ENDPOINT_URL_SQS;
  delete env.SEARCH_ENDPOINT;
  return env;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

describe('test-data commands stay on the local services', () => {
  it('seed refuses --stack and STREAMFILL_STACK before writing anything', async () => {
    const flag = await runCli([...seedArgs, '--stack', 'streamfill-chat-session-prod']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toContain('seed writes test data and only to the local services');
    expect(flag.stderr).toContain('drop --stack');
    const env = await runCli(seedArgs, { ...process.env, STREAMFILL_STACK: 'streamfill-prod' });
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('unset STREAMFILL_STACK');
    expect(await tableExists(clients.dynamodb, `${p}-s`)).toBe(false);
  });

  it('seed, demo and bench refuse an endpoint that is not this machine; seed refuses none', async () => {
    const remote = {
      ...process.env,
      AWS_ENDPOINT_URL_DYNAMODB: 'https://dynamodb.eu-west-1.amazonaws.com',
    };
    for (const args of [seedArgs, ['demo'], ['bench', 'live', '--duration', '1']]) {
      const r = await runCli(args, remote);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr).toContain(
        'AWS_ENDPOINT_URL_DYNAMODB=https://dynamodb.eu-west-1.amazonaws.com is not this machine',
      );
    }
    const search = await runCli([...seedArgs, '--search-endpoint', 'https://search.example.com']);
    expect(search.code).toBe(1);
    expect(search.stderr).toContain(
      '--search-endpoint / SEARCH_ENDPOINT=https://search.example.com',
    );
    const none = await runCli(seedArgs, awsEnv());
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(
      'AWS_ENDPOINT_URL_DYNAMODB is not set: it would write to real AWS',
    );
  });
});

describe('against real AWS', () => {
  it('refuses the local default names, naming the flag to pass instead', async () => {
    const r = await runCli(['status'], awsEnv());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'chat-session-local: pass --session-table NAME (or STREAMFILL_SESSION_TABLE)',
    );
    expect(r.stderr).toContain(
      'streamfill-state-local: pass --state-table NAME (or STREAMFILL_STATE_TABLE)',
    );
    expect(r.stderr).toContain('or give --stack NAME');
    const verify = await runCli(['verify', '--session-table', 'chat-session-prod'], awsEnv());
    expect(verify.stderr).toContain('pika-tag-def-local: pass --tag-table NAME');
    // verify reads the tables its lookups read: the chat-user table too.
    expect(verify.stderr).toContain('chat-user-local: pass --user-table NAME');
    expect(verify.stderr).not.toContain('chat-session-local');
    // A table of a user's config without an alias is named by --table-name.
    const orders = await runCli(['status', '--config', ORDERS_CONFIG], awsEnv());
    expect(orders.stderr).toContain('orders: pass --table-name orders=NAME (or STREAMFILL_TABLES)');
  });

  it('says the account, region and tables first; refuses plain http to a remote search endpoint', async () => {
    const r = await runCli(
      [
        'verify',
        '--session-table',
        'chat-session-prod',
        '--user-table',
        'chat-user-prod',
        '--tag-table',
        'tag-prod',
        '--search-endpoint',
        'http://search.example.com:9200',
      ],
      awsEnv(),
    );
    expect(r.code).toBe(1);
    const [target, error] = r.stderr.trim().split('\n');
    expect(target).toBe(
      'streamfill: target AWS account 123456789012, region eu-west-1; ' +
        'tables: session chat-session-prod, tag tag-prod, user chat-user-prod; ' +
        'queues: streamfill-work, streamfill-dlq; search http://search.example.com:9200',
    );
    expect(error).toContain(
      '--search-endpoint / SEARCH_ENDPOINT "http://search.example.com:9200" is plain http to search.example.com',
    );
    expect(error).toContain('use https://search.example.com:9200');
  });
});

describe('on the local services', () => {
  it('every AWS command says its endpoints and tables on stderr first', async () => {
    const r = await runCli(['verify', '--json', ...tables]);
    expect(r.stderr.split('\n')[0]).toBe(
      `streamfill: target DynamoDB ${process.env.AWS_ENDPOINT_URL_DYNAMODB}, SQS ${process.env.AWS_ENDPOINT_URL_SQS}; ` +
        `tables: session ${p}-s, tag ${p}-t, user ${p}-u; queues: streamfill-work, streamfill-dlq; search ${process.env.SEARCH_ENDPOINT}`,
    );
  });

  it('a refused connection names the service and the fix', async () => {
    const port = await closedPort();
    const ddb = `http://127.0.0.1:${port}`;
    const r = await runCli(['verify', ...tables], {
      ...process.env,
      AWS_ENDPOINT_URL_DYNAMODB: ddb,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `streamfill: DynamoDB at ${ddb} refused the connection — is \`streamfill services up\` running?`,
    );
    expect(r.stderr).not.toMatch(/^streamfill: connect ECONNREFUSED/m);
  });

  it('a refused OpenSearch connection is named as OpenSearch', async () => {
    const seeded = await runCli(seedArgs);
    expect(seeded.code, seeded.stderr).toBe(0);
    const search = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['verify', ...tables, '--search-endpoint', search]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`streamfill: OpenSearch at ${search} refused the connection`);
  });
});
