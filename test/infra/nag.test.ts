// cdk-nag's AwsSolutions pack over every shape the app deploys: zero unacknowledged findings.
// The accepted ones are acknowledged in lib/infra/nag.ts, each with its reason; the pack is
// shown to be running by a stack that must fail it.
import { readFileSync } from 'node:fs';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/infra/app.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/** Synthesizes with the pack as a validation plugin; returns its failure report, or ''. */
function nag(context: Record<string, unknown>, extra?: (app: App) => void): string {
  const app = new App({ context: { ...cdkJson.context, ...NO_BUNDLING, ...context } });
  if (extra) extra(app);
  else buildApp(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
    return '';
  } catch (e) {
    return String((e as Error).message) + readFileSync(reportPath(e), 'utf8');
  }
}
const reportPath = (e: unknown): string =>
  /found in: (\S+validation-report\.json)/.exec(String((e as Error).message))?.[1] ?? '/dev/null';

// Synthesis under load (2 shared cores) takes seconds, not the default 5.
describe('cdk-nag AwsSolutions', { timeout: 120_000 }, () => {
  it.each([
    ['attach mode, defaults (cdk.json demo tables)', {}],
    ['sandbox mode', { sandbox: 'true' }],
    [
      'attach mode, managed OpenSearch domain, tracing, alarm topic, tag table',
      {
        searchEndpoint: 'https://search-chat-abc.us-east-1.es.amazonaws.com',
        searchDomainArn: 'arn:aws:es:us-east-1:123456789012:domain/chat',
        tracing: 'true',
        alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:oncall',
        tagTable: 'pika-tag-def-local',
      },
    ],
    [
      'attach mode, OpenSearch Serverless collection',
      {
        searchEndpoint: 'https://abc123def.us-east-1.aoss.amazonaws.com',
        searchCollectionArn: 'arn:aws:aoss:us-east-1:123456789012:collection/abc123def',
      },
    ],
  ])('%s: no unacknowledged finding', (_name, context) => {
    expect(nag(context)).toBe('');
  });

  it('is really checking: an unencrypted queue without TLS fails it', () => {
    const report = nag({}, (app) => new Queue(new Stack(app, 'Bad'), 'Plain'));
    expect(report).toContain('AwsSolutions-SQS4');
  });
});
