// Malformed Pika items through the preset's planner: a broken key is named by the planner
// (attribute and problem), a broken input by the rule that read it (migration, field, problem
// in the reason). Never a crash, never "undefined" in a message.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedItemError, isMalformedItemError } from '../../../lib/core/errors.ts';
import type { Item } from '../../../lib/core/types.ts';
import {
  MISSING,
  junkArb,
  legacySessionItemArb,
  tagItemArb,
  withField,
} from '../../support/arbitraries.ts';
import { planPika, type PikaPlanContext } from '../../support/pika-plan.ts';

const SESSION = ['session-sort-key', 'session-user-type', 'session-search-keywords'];
const TAG = ['tag-usage-mode'];
const planSession = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('session', item, ctx, enabled);
const planTag = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('tag', item, ctx, enabled);
const good = {
  user_id: 'u1',
  session_id: 's9',
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
};
/** The user table knows the item's user (a number is a valid key value too). */
const ctxFor = (item: Item) => ({
  userTypes: new Map(
    typeof item.user_id === 'string' || typeof item.user_id === 'number'
      ? [[String(item.user_id), 'internal-user']]
      : [],
  ),
});
/** A key attribute a declared table accepts besides a string (DynamoDB's key types rule it out). */
const isNumberKey = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
/** What a rule's reason says of a junk input. */
const problemOf = (junk: unknown) =>
  junk === MISSING ? 'is missing' : junk === '' ? 'is empty' : 'is not a string';

function errorOf(fn: () => unknown): MalformedItemError {
  try {
    fn();
  } catch (e) {
    if (isMalformedItemError(e)) return e;
    throw e;
  }
  throw new Error('expected a MalformedItemError');
}

describe('malformed session items', () => {
  it.each([
    [
      'missing last_update',
      { ...good, last_update: undefined },
      'session item {user_id="u1", session_id="s9"}: migration "session-sort-key": field "last_update" is missing',
      {
        problem: 'reason',
        reason: 'migration "session-sort-key": field "last_update" is missing',
        key: { user_id: 'u1', session_id: 's9' },
      },
    ],
    [
      'numeric chat_app_id',
      { ...good, chat_app_id: 42 },
      'session item {user_id="u1", session_id="s9"}: migration "session-sort-key": field "chat_app_id" is not a string',
      { problem: 'reason', field: '' },
    ],
    [
      'empty chat_app_id',
      { ...good, chat_app_id: '' },
      'session item {user_id="u1", session_id="s9"}: migration "session-sort-key": field "chat_app_id" is empty',
      { problem: 'reason' },
    ],
    [
      'null source',
      { ...good, source: null },
      'session item {user_id="u1", session_id="s9"}: migration "session-sort-key": field "source" is not a string',
      { problem: 'reason' },
    ],
    [
      'missing session_id',
      { ...good, session_id: undefined },
      'session item {user_id="u1"}: field "session_id" is missing',
      { field: 'session_id', problem: 'missing', key: { user_id: 'u1' } },
    ],
    [
      'missing user_id',
      { ...good, user_id: undefined },
      'session item {session_id="s9"}: field "user_id" is missing',
      { field: 'user_id', problem: 'missing', key: { session_id: 's9' } },
    ],
    [
      'list as user_id',
      { ...good, user_id: ['u1'] },
      'session item {session_id="s9"}: field "user_id" has type list, expected string, number or binary',
      { field: 'user_id', problem: 'wrong-type', actualType: 'list' },
    ],
  ])('%s', (_label, item, message, fields) => {
    const error = errorOf(() => planSession(item, ctxFor(item), SESSION));
    expect(error).toBeInstanceOf(MalformedItemError);
    expect(error.message).toBe(message);
    expect(error).toMatchObject({ table: 'session', ...fields });
  });

  it('names the tag key and field', () => {
    // A number is a valid key value of a declared table: a boolean is the mistyped key here.
    const error = errorOf(() => planTag({ scope: true, tag: 'chart' }, {}, TAG));
    expect(error.message).toBe(
      'tag item {tag="chart"}: field "scope" has type boolean, expected string, number or binary',
    );
    expect(error).toMatchObject({ table: 'tag', field: 'scope', key: { tag: 'chart' } });
    expect(errorOf(() => planTag({ scope: 'pika' }, {}, TAG)).field).toBe('tag');
  });

  it('isMalformedItemError recognises copies by name and rejects other errors', () => {
    const foreign = Object.assign(new Error('x'), { name: 'MalformedItemError' });
    expect(isMalformedItemError(foreign)).toBe(true);
    expect(isMalformedItemError(new Error('x'))).toBe(false);
    expect(isMalformedItemError('MalformedItemError')).toBe(false);
  });
});

describe('property: junk inputs are reported, never interpolated', () => {
  const required = ['chat_app_id', 'last_update', 'user_id', 'session_id'] as const;

  it('junk in a required field → MalformedItemError naming that field', () => {
    fc.assert(
      fc.property(
        legacySessionItemArb,
        fc.constantFrom(...required),
        junkArb,
        (item, field, junk) => {
          const broken = withField(item, field, junk);
          const isKey = field === 'user_id' || field === 'session_id';
          const plan = () => planSession(broken, ctxFor(broken), SESSION);
          if (isKey && isNumberKey(junk)) {
            expect(plan).not.toThrow();
            return;
          }
          const error = errorOf(plan);
          if (isKey) {
            expect(error.field).toBe(field);
            expect(error.problem).toBe(
              junk === MISSING ? 'missing' : junk === '' ? 'empty' : 'wrong-type',
            );
          } else {
            expect(error.reason).toBe(
              `migration "session-sort-key": field "${field}" ${problemOf(junk)}`,
            );
          }
          expect(error.message).not.toContain('undefined');
          expect(error.message).toContain(`"${field}"`);
          // The key names every key attribute that is still a usable string.
          for (const k of ['user_id', 'session_id']) {
            if (k !== field) expect(error.key[k]).toBe(item[k]);
          }
        },
      ),
    );
  });

  it('junk in source (anything but a string) → error naming source', () => {
    fc.assert(
      fc.property(legacySessionItemArb, junkArb, (item, junk) => {
        fc.pre(junk !== MISSING && typeof junk !== 'string');
        const error = errorOf(() =>
          planSession(withField(item, 'source', junk), {}, ['session-sort-key']),
        );
        expect(error.reason).toBe('migration "session-sort-key": field "source" is not a string');
        expect(error.message).not.toContain('undefined');
      }),
    );
  });

  it('junk in a tag key → error naming it', () => {
    fc.assert(
      fc.property(tagItemArb, fc.constantFrom('scope', 'tag'), junkArb, (item, field, junk) => {
        const plan = () => planTag(withField(item, field, junk), {}, TAG);
        if (isNumberKey(junk)) {
          expect(plan).not.toThrow();
          return;
        }
        const error = errorOf(plan);
        expect(error.field).toBe(field);
        expect(error.message).not.toContain('undefined');
      }),
    );
  });

  it('anything at all in the inputs: a clean chat_app_sk or a MalformedItemError', () => {
    fc.assert(
      fc.property(
        legacySessionItemArb,
        fc.record(
          { chat_app_id: fc.anything(), last_update: fc.anything(), source: fc.anything() },
          { requiredKeys: [] },
        ),
        (item, overrides) => {
          const broken: Item = { ...item, ...overrides };
          try {
            const sk = planSession(broken, {}, ['session-sort-key']).change?.set.chat_app_sk;
            if (typeof sk === 'string') {
              expect(sk).not.toMatch(/undefined|null|\[object/);
            }
          } catch (e) {
            expect(isMalformedItemError(e)).toBe(true);
            expect((e as Error).message).not.toContain('undefined');
          }
        },
      ),
    );
  });
});
