// The runbook names what the CDK app really reads and deploys: every context key, and every
// alarm with what it means, so neither can drift from the code again.
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { ContinuousBackfill } from '../../lib/infra/constructs/continuous-backfill.ts';
import { CONTEXT_KEYS } from '../../lib/infra/context-config.ts';
import { pikaBackfillProps } from '../../lib/presets/pika-cdk.ts';

const runbook = readFileSync(new URL('../../docs/runbook.md', import.meta.url), 'utf8');
const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const NUMBER_WORDS = [...WORDS, 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen'];

describe('the runbook and the CDK app', { timeout: 120_000 }, () => {
  it('lists every context key', () => {
    const missing = CONTEXT_KEYS.filter((k) => !runbook.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  it('explains every alarm the stack deploys, and counts them right', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S', {
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    new ContinuousBackfill(
      stack,
      'Backfill',
      pikaBackfillProps({
        sessionTableName: 'chat-session-prod',
        sessionTableStreamArn:
          'arn:aws:dynamodb:eu-west-1:123456789012:table/chat-session-prod/stream/2026-01-01T00:00:00.000',
        userTableName: 'chat-user-prod',
      }),
    );
    const ids = stack.node
      .findAll()
      .filter((c): c is Alarm => c instanceof Alarm)
      .map((a) => a.node.id);
    expect(ids.length).toBeGreaterThan(10);
    const table = runbook.slice(runbook.indexOf('## Alarms'));
    expect(ids.filter((id) => !table.includes(`(\`${id}\`)`))).toEqual([]);
    expect(runbook).toContain(`${NUMBER_WORDS[ids.length]} alarms and a dashboard`);
  });
});
