import { describe, expect, it } from 'vitest';
import { isLoopbackUrl, plainHttpSearchProblem } from '../../../lib/core/endpoints.ts';

describe('endpoints', () => {
  it('loopback is localhost, 127.0.0.0/8 and ::1, nothing else', () => {
    for (const u of [
      'http://localhost:9200',
      'http://127.0.0.1:1',
      'http://127.1.2.3',
      'http://[::1]:8000',
    ])
      expect(isLoopbackUrl(u), u).toBe(true);
    for (const u of [
      'http://10.0.0.1',
      'https://search.example.com',
      'http://localhost.example.com',
      'nope',
    ])
      expect(isLoopbackUrl(u), u).toBe(false);
  });

  it('plain http is refused for a search endpoint that is not this machine', () => {
    expect(plainHttpSearchProblem('http://127.0.0.1:9200')).toBeUndefined();
    expect(plainHttpSearchProblem('https://search-x.eu-west-1.es.amazonaws.com')).toBeUndefined();
    expect(plainHttpSearchProblem('http://search-x.eu-west-1.es.amazonaws.com')).toContain(
      'use https://search-x.eu-west-1.es.amazonaws.com',
    );
  });
});
