// The stack outputs the CLI reads: the names the construct exports (STACK_OUTPUTS) map back to
// streamfill's settings; a stack without them is refused with what is missing.
import { describe, expect, it } from 'vitest';
import {
  REQUIRED_STACK_OUTPUTS,
  StackOutputsError,
  stackOutputsFrom,
} from '../../../lib/adapters/stack-outputs.ts';
import { STACK_OUTPUTS } from '../../../lib/config/defaults.ts';

const required = REQUIRED_STACK_OUTPUTS.map((k) => ({
  OutputKey: STACK_OUTPUTS[k],
  OutputValue: `value-of-${k}`,
}));

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
