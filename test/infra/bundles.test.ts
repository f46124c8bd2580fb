// Each deployed bundle (stream consumer, backfill worker), built as `cdk synth` builds it, is run
// on the Lambda runtime's Node major (LAMBDA_NODE_MAJOR): imported, its handler invoked with a tiny
// event, its size printed. The test installs that Node into the cache directory itself when it is
// missing (from the npm registry, once), so `npm ci && npm test` on a fresh clone needs no other
// step.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_NODE_MAJOR } from '../../lib/config/defaults.ts';
import { buildApp } from '../../lib/infra/app.ts';
import { ensureLambdaNode } from '../../local/lambda-node.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const DEMO = cdkJson.context.demoDefaults as Record<string, string>;

let outdir: string;
let lambdaNode: string;
const bundles: Record<'consumer' | 'worker', string> = { consumer: '', worker: '' };

// Downloading the Node binary on a fresh clone takes longer than a synth.
beforeAll(async () => {
  lambdaNode = await ensureLambdaNode();
}, 300_000);

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'streamfill-bundles-'));
  const app = new App({ outdir, context: cdkJson.context });
  const stack = buildApp(app);
  const assembly = app.synth();
  const template = Template.fromStack(stack);
  for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const key = (fn as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key;
    const dir = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
    bundles[id.includes('Worker') ? 'worker' : 'consumer'] = join(dir, 'index.mjs');
  }
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Imports the bundle on the Lambda Node and invokes its handler; returns stdout. */
function invoke(bundle: string, event: unknown, env: Record<string, string>): string {
  const script = `
    if (!process.version.startsWith('v${LAMBDA_NODE_MAJOR}.')) throw new Error('running on ' + process.version);
    const { handler } = await import(${JSON.stringify(bundle)});
    const context = { functionName: 'f', awsRequestId: 'r', getRemainingTimeInMillis: () => 1e4 };
    console.log('RESULT ' + JSON.stringify(await handler(${JSON.stringify(event)}, context)));`;
  return execFileSync(lambdaNode, ['--no-warnings', '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}
const resultOf = (out: string): unknown =>
  JSON.parse(
    out
      .split('\n')
      .find((l) => l.startsWith('RESULT '))
      ?.slice(7) ?? 'null',
  );

const TABLES = {
  STREAMFILL_SESSION_TABLE: DEMO.sessionTable as string,
  STREAMFILL_USER_TABLE: DEMO.userTable as string,
};

describe(`the bundles on Node ${LAMBDA_NODE_MAJOR}`, { timeout: 120_000 }, () => {
  it('are built, and their sizes reported', () => {
    for (const [name, bundle] of Object.entries(bundles)) {
      expect(existsSync(bundle), name).toBe(true);
      const kib = (f: string) => (statSync(f).size / 1024).toFixed(1);
      console.log(
        `bundle ${name}: ${kib(bundle)} KiB (source map ${kib(`${bundle}.map`)} KiB) — ${bundle}`,
      );
      expect(statSync(bundle).size).toBeLessThan(5 * 1024 * 1024);
    }
  });

  it('the stream consumer answers a REMOVE record with an empty partial batch response', () => {
    // A REMOVE record needs no AWS call.
    const event = {
      Records: [
        {
          eventID: '1',
          eventName: 'REMOVE',
          eventSource: 'aws:dynamodb',
          eventSourceARN: DEMO.sessionStreamArn,
          dynamodb: {
            Keys: { user_id: { S: 'u1' }, session_id: { S: 's1' } },
            SequenceNumber: '100',
            ApproximateCreationDateTime: 1_700_000_000,
          },
        },
      ],
    };
    const out = invoke(bundles.consumer, event, TABLES);
    expect(resultOf(out), out).toEqual({ batchItemFailures: [] });
  });

  it('the backfill worker answers an empty SQS batch with an empty partial batch response', () => {
    const out = invoke(
      bundles.worker,
      { Records: [] },
      {
        ...TABLES,
        STREAMFILL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/work',
        STREAMFILL_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq',
        STREAMFILL_STATE_TABLE: 'state',
      },
    );
    expect(resultOf(out), out).toEqual({ batchItemFailures: [] });
  });
});
