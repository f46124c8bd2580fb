import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LookupMissingError, isLookupMissingError } from '../../../lib/core/errors.ts';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import type { Item } from '../../../lib/core/types.ts';
import { legacySessionItemArb, lookedUpUserTypeArb } from '../../support/arbitraries.ts';
import { planPika, type PikaPlanContext } from '../../support/pika-plan.ts';

/** The preset's session-user-type alone, its user lookup answered from `ctx.userTypes`. */
const planUserType = (item: Item, ctx: PikaPlanContext) =>
  planPika('session', item, ctx, ['session-user-type']).change;

const item = { user_id: 'u1', session_id: 's9', chat_app_id: 'weather', last_update: 't' };

describe('session-user-type', () => {
  it('copies the looked-up user type, conditioned on user_type still missing', () => {
    expect(planUserType(item, { userTypes: new Map([['u1', 'internal-user']]) })).toEqual({
      table: 'session',
      key: { user_id: 'u1', session_id: 's9' },
      set: { user_type: 'internal-user' },
      remove: [],
      conditions: [
        { op: 'exists', attribute: 'user_id' },
        { op: 'notExists', attribute: 'user_type' },
      ],
      migrations: ['session-user-type'],
    });
  });

  it("defaults to 'external-user' when the user was not found or has no type", () => {
    const change = planUserType(item, { userTypes: new Map([['u1', null]]) });
    expect(change?.set).toEqual({ user_type: 'external-user' });
  });

  it('throws LookupMissingError when the user was not looked up (never a default)', () => {
    for (const ctx of [{}, { userTypes: new Map([['other', 'internal-user']]) }]) {
      let caught: unknown;
      try {
        planUserType(item, ctx);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LookupMissingError);
      expect(isLookupMissingError(caught)).toBe(true);
      // The planner names the lookup and the key it needed (the user table's key id).
      expect(caught).toMatchObject({ lookup: 'user-type', userId: 'user:{"user_id":"u1"}' });
      expect((caught as Error).message).toContain('{user_id="u1", session_id="s9"}');
    }
  });

  it.each(['internal-user', 'external-user', 'partner', ''])(
    'never overwrites an existing user_type (%j), and needs no lookup for it',
    (userType) => {
      expect(planUserType({ ...item, user_type: userType }, {})).toBeNull();
      expect(
        planUserType({ ...item, user_type: userType }, { userTypes: new Map([['u1', 'x']]) }),
      ).toBeNull();
    },
  );

  it('rejects a non-string user_type rather than overwriting it', () => {
    // A derive's malformed verdict names the migration and the field in its reason.
    expect(() => planUserType({ ...item, user_type: 7 }, {})).toThrow(
      expect.objectContaining({
        problem: 'reason',
        reason: 'migration "session-user-type": field "user_type" is not a string',
      }),
    );
  });

  it('property: missing user_type gets the lookup value or external-user; present stays', () => {
    fc.assert(
      fc.property(legacySessionItemArb, lookedUpUserTypeArb, (session, looked) => {
        const change = planUserType(session, { userTypes: new Map([[session.user_id, looked]]) });
        if (session.user_type !== undefined) expect(change).toBeNull();
        else expect(change?.set).toEqual({ user_type: looked ?? 'external-user' });
      }),
    );
  });

  it('property: a missing lookup is always an error when a write is needed', () => {
    fc.assert(
      fc.property(legacySessionItemArb, (session) => {
        let error: unknown = null;
        try {
          planUserType(session, { userTypes: new Map() });
        } catch (e) {
          error = e;
        }
        expect(isLookupMissingError(error)).toBe(session.user_type === undefined);
        expect(isMalformedItemError(error)).toBe(false);
      }),
    );
  });
});
