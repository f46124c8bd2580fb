// Counting which items carry a new GSI's key vs. which should, and when an index is ready.
import { describe, expect, it } from 'vitest';
import {
  buildPending,
  emptyCoverage,
  indexVerdict,
  mergeCoverage,
  tallyCoverage,
  type CoverageSpec,
  type IndexState,
} from '../../../lib/core/index-coverage.ts';

const SPEC: CoverageSpec = {
  baseAttributes: ['chat_app_id', 'last_update'],
  keyAttributes: ['chat_app_sk'],
  primaryKey: ['user_id', 'session_id'],
};
const ACTIVE: IndexState = {
  table: 'chat-session-x',
  index: 'user-chat-app-sk-index',
  status: 'ACTIVE',
  backfilling: false,
};

describe('tallyCoverage', () => {
  it('counts should / carrying / missing / extra and keeps the keys of missing items', () => {
    const c = tallyCoverage(
      emptyCoverage(),
      [
        {
          user_id: 'u',
          session_id: '1',
          chat_app_id: 'a',
          last_update: 't',
          chat_app_sk: 'a#user#t',
        },
        { user_id: 'u', session_id: '2', chat_app_id: 'a', last_update: 't' },
        { user_id: 'u', session_id: '3', chat_app_id: 'a' }, // no last_update: cannot derive
        { user_id: 'u', session_id: '4', chat_app_sk: 'x' }, // written by the app without the base
        { user_id: 'u', session_id: '5', chat_app_id: 'a', last_update: null, chat_app_sk: null },
      ],
      SPEC,
    );
    expect(c).toEqual({
      scanned: 5,
      should: 2,
      carrying: 1,
      missing: 1,
      extra: 1,
      samples: [{ user_id: 'u', session_id: '2' }],
    });
  });

  it('keeps at most maxSamples samples, also across merged segments', () => {
    const items = Array.from({ length: 4 }, (_, i) => ({
      user_id: 'u',
      session_id: String(i),
      chat_app_id: 'a',
      last_update: 't',
    }));
    const a = tallyCoverage(emptyCoverage(), items, { ...SPEC, maxSamples: 3 });
    const b = tallyCoverage(emptyCoverage(), items, { ...SPEC, maxSamples: 3 });
    expect(a.samples).toHaveLength(3);
    const m = mergeCoverage(a, b, 3);
    expect(m).toMatchObject({ scanned: 8, should: 8, missing: 8 });
    expect(m.samples).toHaveLength(3);
  });

  it('takes several key attributes (all must be present)', () => {
    const c = tallyCoverage(
      emptyCoverage(),
      [{ user_id: 'u', status: 'PENDING' }, { user_id: 'u' }],
      { baseAttributes: ['user_id'], keyAttributes: ['user_id', 'status'] },
    );
    expect(c).toMatchObject({ should: 2, carrying: 1, missing: 1, samples: [] });
  });
});

describe('buildPending', () => {
  it('is undefined only for ACTIVE and not backfilling', () => {
    expect(buildPending(ACTIVE)).toBeUndefined();
    expect(buildPending({ ...ACTIVE, status: 'CREATING', backfilling: true })).toBe(
      'index user-chat-app-sk-index on chat-session-x is CREATING, DynamoDB is still backfilling it from existing items',
    );
    expect(buildPending({ ...ACTIVE, status: 'CREATING' })).toBe(
      'index user-chat-app-sk-index on chat-session-x is CREATING, not ACTIVE yet',
    );
    expect(buildPending({ ...ACTIVE, status: 'UPDATING' })).toContain('UPDATING, not ACTIVE yet');
    expect(buildPending({ ...ACTIVE, status: 'DELETING' })).toContain(
      'DELETING: it is being removed and will not become ACTIVE',
    );
  });
});

describe('indexVerdict', () => {
  const full = tallyCoverage(
    emptyCoverage(),
    [{ chat_app_id: 'a', last_update: 't', chat_app_sk: 's' }],
    SPEC,
  );
  const partial = tallyCoverage(
    emptyCoverage(),
    [
      { chat_app_id: 'a', last_update: 't', chat_app_sk: 's' },
      { chat_app_id: 'a', last_update: 't' },
    ],
    SPEC,
  );
  it('is ready when ACTIVE and fully carried', () => {
    expect(indexVerdict(ACTIVE, full, SPEC)).toEqual({ ready: true, reasons: [] });
  });
  it('is not ready while items lack the key, saying how many', () => {
    expect(indexVerdict(ACTIVE, partial, SPEC)).toEqual({
      ready: false,
      reasons: [
        '1 of 2 items with chat_app_id and last_update lack chat_app_sk (run the backfill, then check again)',
      ],
    });
  });
  it('is not ready while the index builds, even when every item carries the key', () => {
    const v = indexVerdict({ ...ACTIVE, status: 'CREATING', backfilling: true }, full, SPEC);
    expect(v.ready).toBe(false);
    expect(v.reasons).toHaveLength(1);
  });
  it('is not ready without a count', () => {
    expect(indexVerdict(ACTIVE, undefined, SPEC)).toEqual({
      ready: false,
      reasons: ['items not counted'],
    });
  });
});
