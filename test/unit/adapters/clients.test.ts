// The clients carry no SDK logger middleware (it filters every payload only to discard it).
import { describe, expect, it } from 'vitest';
import { destroyClients, makeClients } from '../../../lib/adapters/clients.ts';

describe('makeClients', () => {
  it('removes the SDK logger middleware from every AWS client, the document client included', () => {
    const c = makeClients();
    try {
      for (const client of [c.dynamodb, c.doc, c.streams, c.sqs]) {
        const stack = client.middlewareStack.identify().join('\n');
        expect(stack).toContain('retryMiddleware'); // the stack is really listed
        expect(stack).not.toMatch(/loggerMiddleware/);
      }
    } finally {
      destroyClients(c);
    }
  });
});
