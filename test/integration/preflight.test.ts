// Preflight against the real local services: facts from DynamoDB Local (stream settings,
// capacity, PITR) and OpenSearch (keyword mapping), the Lambda readers count failing into a
// warning (DynamoDB Local has no Lambda API), and `streamfill preflight` as an operator runs it.
import { PIKA_SEARCH_SPEC } from '../support/pika.ts';
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { runPreflight } from '../../lib/engine/preflight.ts';
import { sessionTableDef } from '../support/session-stack.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('preflight');

const streamfill = (...args: string[]) => runCli(args);

let clients: Clients;
let search: OpenSearchClient;
const p = uniqueName('pf');
const T = {
  streamed: `${p}-streamed`,
  none: `${p}-nostream`,
  keys: `${p}-keysonly`,
  prov: `${p}-prov`,
};
const IDX = { ok: `${p}-session-ok`, conflict: `${p}-session-text` };

const tableDef = sessionTableDef;

beforeAll(async () => {
  clients = makeClients();
  search = new OpenSearchClient({ node: process.env.SEARCH_ENDPOINT as string });
  const defs = [
    tableDef(T.streamed, {
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
    tableDef(T.none, {}),
    tableDef(T.keys, { StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } }),
    tableDef(T.prov, {
      BillingMode: 'PROVISIONED',
      ProvisionedThroughput: { ReadCapacityUnits: 20, WriteCapacityUnits: 10 },
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  ];
  for (const d of defs) await clients.dynamodb.send(new CreateTableCommand(d));
  for (const d of defs)
    await waitUntilTableExists(
      { client: clients.dynamodb, maxWaitTime: 60 },
      { TableName: d.TableName },
    );
  await search.indices.create({
    index: IDX.ok,
    body: {
      mappings: {
        properties: { invocation_mode: { type: 'text' }, user_type_keyword: { type: 'keyword' } },
      },
    },
  });
  await search.indices.create({
    index: IDX.conflict,
    body: {
      mappings: { properties: { source: { type: 'text' }, source_keyword: { type: 'text' } } },
    },
  });
});

afterAll(async () => {
  await search.indices.delete({ index: Object.values(IDX) }).catch(() => undefined);
  await search.close();
  destroyClients(clients);
});

describe('runPreflight (facts from the real services)', () => {
  it('reads stream, capacity and PITR facts of a streamed on-demand table', async () => {
    const r = await runPreflight({ table: T.streamed, dynamodb: clients.dynamodb, rate: 50 });
    expect(r.facts).toMatchObject({
      table: T.streamed,
      stream: { enabled: true, viewType: 'NEW_AND_OLD_IMAGES' },
      capacity: { mode: 'PAY_PER_REQUEST', indexes: [] },
      replicas: [],
      streamReaders: { error: 'no Lambda client' },
    });
    expect(r.facts.stream.arn).toMatch(/^arn:aws:dynamodb:.*\/stream\//);
    expect(r.failed).toBe(false);
    expect(r.findings.find((f) => f.check === 'stream')?.level).toBe('ok');
  });

  it('turns a Lambda API that is not there into a warning, not a crash', async () => {
    // DynamoDB Local answers, but has no ListEventSourceMappings: a real failed call.
    const lambda = new LambdaClient({
      region: 'us-east-1',
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB as string,
      maxAttempts: 1,
    });
    try {
      const r = await runPreflight({ table: T.streamed, dynamodb: clients.dynamodb, lambda });
      expect(r.facts.streamReaders).toHaveProperty('error');
      const readers = r.findings.find((f) => f.check === 'stream-readers');
      expect(readers?.level).toBe('warn');
      expect(readers?.message).toMatch(/^could not count stream readers: .+/);
    } finally {
      lambda.destroy();
    }
  });

  it('fails a table without a stream and one with KEYS_ONLY', async () => {
    const none = await runPreflight({ table: T.none, dynamodb: clients.dynamodb });
    expect(none.facts.stream).toEqual({ enabled: false });
    expect(none.failed).toBe(true);
    expect(none.findings.find((f) => f.check === 'stream')?.action).toContain(
      'StreamViewType=NEW_AND_OLD_IMAGES',
    );
    const keys = await runPreflight({ table: T.keys, dynamodb: clients.dynamodb });
    expect(keys.facts.stream).toMatchObject({ enabled: true, viewType: 'KEYS_ONLY' });
    expect(keys.failed).toBe(true);
  });

  it('reads provisioned capacity and judges the headroom of --rate', async () => {
    const r = await runPreflight({ table: T.prov, dynamodb: clients.dynamodb, rate: 4 });
    expect(r.facts.capacity).toEqual({
      mode: 'PROVISIONED',
      readCapacityUnits: 20,
      writeCapacityUnits: 10,
      indexes: [],
    });
    expect(r.findings.find((f) => f.check === 'capacity')?.message).toContain(
      `--rate 4 writes/s against 10 provisioned WCU (table ${T.prov}) leaves 6 WCU (60 %)`,
    );
  });

  it('reads the keyword mapping state from OpenSearch', async () => {
    const ok = await runPreflight({
      table: T.streamed,
      dynamodb: clients.dynamodb,
      search: { client: search, index: IDX.ok, fields: Object.keys(PIKA_SEARCH_SPEC.sources) },
    });
    expect(ok.facts.search).toEqual({
      index: IDX.ok,
      exists: true,
      fieldTypes: {
        invocation_mode_keyword: undefined,
        user_type_keyword: 'keyword',
        source_keyword: undefined,
      },
    });
    const bad = await runPreflight({
      table: T.streamed,
      dynamodb: clients.dynamodb,
      search: {
        client: search,
        index: IDX.conflict,
        fields: Object.keys(PIKA_SEARCH_SPEC.sources),
      },
    });
    expect(bad.failed).toBe(true);
    expect(bad.findings.find((f) => f.check === 'search-mapping')?.message).toContain(
      'source_keyword is text, expected keyword',
    );
    const missing = await runPreflight({
      table: T.streamed,
      dynamodb: clients.dynamodb,
      search: { client: search, index: `${p}-nope`, fields: Object.keys(PIKA_SEARCH_SPEC.sources) },
    });
    expect(missing.facts.search).toEqual({ index: `${p}-nope`, exists: false });
  });
});

describe('streamfill preflight', () => {
  it('passes a streamed table with warnings for the readers count and PITR', async () => {
    const r = await streamfill(
      'preflight',
      '--table',
      T.streamed,
      '--rate',
      '100',
      '--search-index',
      IDX.ok,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok   stream: stream on with NEW_AND_OLD_IMAGES');
    expect(r.stdout).toContain(
      'WARN stream-readers: could not count stream readers: DynamoDB is local (AWS_ENDPOINT_URL_DYNAMODB) and no Lambda endpoint is set (AWS_ENDPOINT_URL_LAMBDA)',
    );
    // DynamoDB Local has no DescribeContinuousBackups: a warning, not a crash.
    expect(r.stdout).toContain('WARN pitr: could not read point-in-time recovery status:');
    expect(r.stdout).toContain('ok   search-mapping:');
    expect(r.stdout).toMatch(/preflight: passed with \d warnings/);
  });

  it('FAILS a table without a stream, saying to enable NEW_AND_OLD_IMAGES', async () => {
    const r = await streamfill('preflight', '--table', T.none, '--search-index', IDX.ok);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `FAIL stream: table ${T.none} has no stream: live changes cannot be migrated`,
    );
    expect(r.stdout).toContain(
      `→ enable its stream with view type NEW_AND_OLD_IMAGES: \`aws dynamodb update-table --table-name ${T.none} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES\``,
    );
    expect(r.stdout).toContain('preflight: FAILED');
  });

  it('FAILS a KEYS_ONLY stream, and a rate that leaves no headroom (JSON)', async () => {
    const keys = await streamfill('preflight', '--table', T.keys, '--search-index', IDX.ok);
    expect(keys.code).toBe(1);
    expect(keys.stdout).toContain('has view type KEYS_ONLY; the consumer needs NEW_AND_OLD_IMAGES');
    const prov = await streamfill(
      'preflight',
      '--table',
      T.prov,
      '--rate',
      '10',
      '--search-index',
      IDX.ok,
      '--json',
    );
    expect(prov.code).toBe(1);
    const report = JSON.parse(prov.stdout);
    expect(report.passed).toBe(false);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ level: 'fail', check: 'capacity' }),
    );
  });

  it('FAILS a conflicting keyword mapping; rejects bad input', async () => {
    const r = await streamfill('preflight', '--table', T.streamed, '--search-index', IDX.conflict);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL search-mapping');
    const bad = await streamfill('preflight', '--rate', '0');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--rate must be an integer >= 1, got "0"');
    const missing = await streamfill('preflight', '--table', `${p}-missing`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`table "${p}-missing" does not exist (set --table)`);
  });
});
