import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import { formatKey } from '../../../lib/core/key-format.ts';
import { keyId, partialKey, sessionKey, tagKey } from '../../../lib/core/keys.ts';

describe('keys', () => {
  it('formats keys partition key first, whatever the insertion order', () => {
    expect(formatKey({ session_id: 's9', user_id: 'u1' })).toBe('{user_id="u1", session_id="s9"}');
    expect(formatKey({ tag: 'chart', scope: 'pika' })).toBe('{scope="pika", tag="chart"}');
    expect(formatKey({ b: 2, a: 'x' })).toBe('{a="x", b=2}');
    expect(formatKey({})).toBe('{}');
  });

  it('quotes odd ids unambiguously', () => {
    expect(formatKey({ user_id: 'a", session_id="b' })).toBe('{user_id="a\\", session_id=\\"b"}');
  });

  it('extracts exactly the key attributes', () => {
    const item = { user_id: 'u1', session_id: 's9', title: 't' };
    expect(sessionKey(item)).toEqual({ user_id: 'u1', session_id: 's9' });
    expect(tagKey({ scope: 'pika', tag: 'chart', usage_mode: 'global' })).toEqual({
      scope: 'pika',
      tag: 'chart',
    });
    expect(partialKey('session', { user_id: 'u1', session_id: null })).toEqual({ user_id: 'u1' });
  });

  it('rejects missing, mistyped and empty key attributes', () => {
    for (const item of [
      { user_id: 'u1' },
      { user_id: 'u1', session_id: 3 },
      { user_id: '', session_id: 's' },
    ]) {
      let error: unknown;
      try {
        sessionKey(item);
      } catch (e) {
        error = e;
      }
      expect(isMalformedItemError(error)).toBe(true);
    }
  });

  it('property: keyId is stable under attribute order and distinct for distinct keys', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (u1, s1, u2, s2) => {
        expect(keyId('session', { user_id: u1, session_id: s1 })).toBe(
          keyId('session', { session_id: s1, user_id: u1 }),
        );
        const same = u1 === u2 && s1 === s2;
        expect(
          keyId('session', { user_id: u1, session_id: s1 }) ===
            keyId('session', { user_id: u2, session_id: s2 }),
        ).toBe(same);
        expect(keyId('session', { user_id: u1 })).not.toBe(keyId('user', { user_id: u1 }));
      }),
    );
  });
});
