import { describe, expect, it } from 'vitest';
import { parseSearchAuth, searchSigning } from '../../../lib/adapters/clients.ts';

describe('search endpoint signing', () => {
  it('auto signs Amazon OpenSearch domains and Serverless collections only', () => {
    expect(searchSigning('https://search-chat-abc.us-east-1.es.amazonaws.com', 'auto')).toBe('es');
    expect(searchSigning('https://abc123.us-east-1.aoss.amazonaws.com', 'auto')).toBe('aoss');
    expect(searchSigning('http://127.0.0.1:9251', 'auto')).toBeUndefined();
    expect(searchSigning('https://search.internal.example', 'auto')).toBeUndefined();
  });

  it('an explicit choice wins over the host name', () => {
    expect(searchSigning('http://127.0.0.1:9251', 'sigv4')).toBe('es');
    expect(searchSigning('https://search-x.us-east-1.es.amazonaws.com', 'none')).toBeUndefined();
  });

  it('rejects an unknown STREAMFILL_SEARCH_AUTH with a specific error', () => {
    expect(parseSearchAuth(undefined)).toBe('auto');
    expect(() => parseSearchAuth('iam')).toThrow(
      /STREAMFILL_SEARCH_AUTH must be auto, sigv4, aoss or none, got "iam"/,
    );
  });
});
