// The stack outputs the CLI reads: the names the construct exports (STACK_OUTPUTS) map back to
// streamfill's settings; a stack without them is refused with what is missing.
import { describe, expect, it } from 'vitest';
import {
  REQUIRED_STACK_OUTPUTS,
  StackOutputsError,
  stackOutputsFrom,
  stackTableNames,
} from '../../../lib/adapters/stack-outputs.ts';
import { STACK_OUTPUTS } from '../../../lib/config/defaults.ts';

const required = [...REQUIRED_STACK_OUTPUTS, 'sessionTable', 'userTable'].map((k) => ({
  OutputKey: STACK_OUTPUTS[k as keyof typeof STACK_OUTPUTS],
  OutputValue: `value-of-${k}`,
}));
const common = required.filter((o) => !/^(Session|User)TableName$/.test(o.OutputKey));

describe('stackOutputsFrom', () => {
  it('maps every exported key to its setting and ignores unknown ones', () => {
    const out = stackOutputsFrom('s', [
      ...required,
      { OutputKey: 'TagTableName', OutputValue: 'pika-tag-def-prod' },
      { OutputKey: 'SomethingElse', OutputValue: 'x' },
    ]);
    expect(out.workQueueUrl).toBe('value-of-workQueueUrl');
    expect(out.stateTable).toBe('value-of-stateTable');
    expect(out.tagTable).toBe('pika-tag-def-prod');
    expect(out.searchEndpoint).toBeUndefined();
    expect(Object.values(out)).not.toContain('x');
  });

  it('refuses a stack without the required outputs, naming each', () => {
    expect(() => stackOutputsFrom('my-app', required.slice(2))).toThrow(StackOutputsError);
    expect(() => stackOutputsFrom('my-app', required.slice(2))).toThrow(
      /stack my-app has no output WorkQueueUrl, DeadLetterQueueUrl: is it a streamfill stack/,
    );
  });
});

describe('the tables of a stack', () => {
  it('reads the Tables output (declared → physical) of a declared-config stack', () => {
    const out = stackOutputsFrom('shop', [
      ...common,
      { OutputKey: 'Tables', OutputValue: '{"orders":"orders-prod","customers":"customers-prod"}' },
    ]);
    expect(stackTableNames('shop', out)).toEqual({
      orders: 'orders-prod',
      customers: 'customers-prod',
    });
  });

  it('falls back to the Pika outputs of a stack deployed before Tables', () => {
    const out = stackOutputsFrom('pika', [
      ...required,
      { OutputKey: 'TagTableName', OutputValue: 'tags-prod' },
    ]);
    expect(stackTableNames('pika', out)).toEqual({
      session: 'value-of-sessionTable',
      user: 'value-of-userTable',
      tag: 'tags-prod',
    });
  });

  it('refuses a stack with neither, and a Tables output that is not a JSON object of names', () => {
    expect(() => stackOutputsFrom('x', common)).toThrow(/stack x has no output Tables/);
    expect(() =>
      stackOutputsFrom('x', [...common, { OutputKey: 'Tables', OutputValue: '["orders"]' }]),
    ).toThrow(/stack x: output Tables is not a JSON object of table names, got "\[\\"orders\\"\]"/);
  });
});
