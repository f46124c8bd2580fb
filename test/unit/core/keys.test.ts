import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatKey } from '../../../lib/core/key-format.ts';
import { keyId } from '../../../lib/core/keys.ts';

describe('keys', () => {
  it('formats a key in its own order (the planner builds keys partition key first)', () => {
    expect(formatKey({ user_id: 'u1', session_id: 's9' })).toBe('{user_id="u1", session_id="s9"}');
    expect(formatKey({ tenant_id: 't1', order_no: 7 })).toBe('{tenant_id="t1", order_no=7}');
    expect(formatKey({})).toBe('{}');
  });

  it('quotes odd ids unambiguously', () => {
    expect(formatKey({ user_id: 'a", session_id="b' })).toBe('{user_id="a\\", session_id=\\"b"}');
  });

  it('keeps an attribute named __proto__ (a plain assignment would set the prototype)', () => {
    const key = JSON.parse('{"__proto__":"x","id":"1"}') as Record<string, string>;
    expect(keyId('t', key)).toBe('t:{"__proto__":"x","id":"1"}');
    expect(keyId('t', key)).not.toBe(keyId('t', { id: '1' }));
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

  it('keyId tells a number from its text, and binary values apart', () => {
    expect(keyId('orders', { order_no: 7 })).not.toBe(keyId('orders', { order_no: '7' }));
    expect(keyId('blobs', { id: new Uint8Array([1, 2]) })).not.toBe(
      keyId('blobs', { id: new Uint8Array([1, 3]) }),
    );
  });
});
