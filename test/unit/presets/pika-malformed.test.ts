import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedItemError, isMalformedItemError } from '../../../lib/core/errors.ts';
import { planSessionItem, planTagItem } from '../../../lib/core/plan.ts';
import type { Item } from '../../../lib/core/types.ts';
import type { MigrationName } from '../../../lib/core/migrations/index.ts';
import {
  MISSING,
  junkArb,
  legacySessionItemArb,
  tagItemArb,
  withField,
} from '../../support/arbitraries.ts';

const SESSION: MigrationName[] = [
  'session-sort-key',
  'session-user-type',
  'session-search-keywords',
];
const TAG: MigrationName[] = ['tag-usage-mode'];
const good = {
  user_id: 'u1',
  session_id: 's9',
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
};
const ctxFor = (item: Item) => ({
  userTypes: new Map(typeof item.user_id === 'string' ? [[item.user_id, 'internal-user']] : []),
});

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
      'session item {user_id="u1", session_id="s9"}: field "last_update" is missing',
      { field: 'last_update', problem: 'missing', key: { user_id: 'u1', session_id: 's9' } },
    ],
    [
      'numeric chat_app_id',
      { ...good, chat_app_id: 42 },
      'session item {user_id="u1", session_id="s9"}: field "chat_app_id" has type number, expected string',
      { field: 'chat_app_id', problem: 'wrong-type', actualType: 'number' },
    ],
    [
      'empty chat_app_id',
      { ...good, chat_app_id: '' },
      'session item {user_id="u1", session_id="s9"}: field "chat_app_id" is empty',
      { field: 'chat_app_id', problem: 'empty' },
    ],
    [
      'null source',
      { ...good, source: null },
      'session item {user_id="u1", session_id="s9"}: field "source" has type null, expected string',
      { field: 'source', problem: 'wrong-type' },
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
      'session item {session_id="s9"}: field "user_id" has type list, expected string',
      { field: 'user_id', problem: 'wrong-type' },
    ],
  ])('%s', (_label, item, message, fields) => {
    const error = errorOf(() => planSessionItem(item, ctxFor(item), SESSION));
    expect(error).toBeInstanceOf(MalformedItemError);
    expect(error.message).toBe(message);
    expect(error).toMatchObject({ table: 'session', ...fields });
  });

  it('names the tag key and field', () => {
    const error = errorOf(() => planTagItem({ scope: 7, tag: 'chart' }, {}, TAG));
    expect(error.message).toBe(
      'tag item {scope=7, tag="chart"}: field "scope" has type number, expected string',
    );
    expect(error).toMatchObject({ table: 'tag', field: 'scope', key: { scope: 7, tag: 'chart' } });
    expect(errorOf(() => planTagItem({ scope: 'pika' }, {}, TAG)).field).toBe('tag');
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
          const error = errorOf(() => planSessionItem(broken, ctxFor(broken), SESSION));
          expect(error.field).toBe(field);
          expect(error.problem).toBe(
            junk === MISSING ? 'missing' : junk === '' ? 'empty' : 'wrong-type',
          );
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
          planSessionItem(withField(item, 'source', junk), {}, ['session-sort-key']),
        );
        expect(error.field).toBe('source');
        expect(error.message).not.toContain('undefined');
      }),
    );
  });

  it('junk in a tag key → error naming it', () => {
    fc.assert(
      fc.property(tagItemArb, fc.constantFrom('scope', 'tag'), junkArb, (item, field, junk) => {
        const error = errorOf(() => planTagItem(withField(item, field, junk), {}, TAG));
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
            const sk = planSessionItem(broken, {}, ['session-sort-key']).change?.set.chat_app_sk;
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
