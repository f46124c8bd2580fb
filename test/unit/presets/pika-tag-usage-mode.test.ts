import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../../lib/core/types.ts';
import { tagItemArb } from '../../support/arbitraries.ts';
import { PIKA, withContract } from '../../support/pika.ts';
import { planPika } from '../../support/pika-plan.ts';

/** The preset's expand step alone. */
const planUsageMode = (item: Item) => planPika('tag', item, {}, ['tag-usage-mode']).change;
/** The preset's contract step alone. */
const planUsageModeContract = (item: Item) =>
  planPika('tag', item, {}, ['tag-usage-mode-contract']).change;

describe('tag-usage-mode: the Pika rule', () => {
  it.each([
    ['pika', 'chart', 'global'],
    ['pika', 'image', 'global'],
    ['pika', 'prompt', 'global'],
    ['pika', 'download', 'chat-app'],
    ['pika', 'Chart', 'chat-app'],
    ['Pika', 'chart', 'chat-app'],
    ['weather', 'chart', 'chat-app'],
    ['weather', 'dashboard', 'chat-app'],
  ])('%s/%s → %s', (scope, tag, mode) => {
    expect(planUsageMode({ scope, tag, chat_app_id: 'weather' })?.set).toEqual({
      usage_mode: mode,
    });
  });

  it('property: global exactly for pika chart/image/prompt', () => {
    fc.assert(
      fc.property(tagItemArb, (item) => {
        const global = item.scope === 'pika' && ['chart', 'image', 'prompt'].includes(item.tag);
        const change = planUsageMode(item);
        if (item.usage_mode === undefined) {
          expect(change?.set.usage_mode).toBe(global ? 'global' : 'chat-app');
        }
      }),
    );
  });
});

describe('item 7: tag-usage-mode as expand, then an opt-in contract', () => {
  it('item 7: expand sets usage_mode and never removes chat_app_id (a 0.4 app still reads it)', () => {
    expect(planUsageMode({ scope: 'weather', tag: 'dashboard', chat_app_id: 'weather' })).toEqual({
      table: 'tag',
      key: { scope: 'weather', tag: 'dashboard' },
      set: { usage_mode: 'chat-app' },
      remove: [],
      conditions: [
        { op: 'exists', attribute: 'scope' },
        { op: 'notExists', attribute: 'usage_mode' },
        // Declared as an input (a mistyped one parks the tag), so conditioned like every input.
        { op: 'equals', attribute: 'chat_app_id', value: 'weather' },
      ],
      migrations: ['tag-usage-mode'],
    });
    expect(
      planUsageMode({ scope: 'pika', tag: 'chart', usage_mode: 'chat-app', chat_app_id: 'x' }),
    ).toBeNull();
  });

  it('item 7: contract removes chat_app_id only once usage_mode is set, conditioned on both as read', () => {
    expect(planUsageModeContract({ scope: 'pika', tag: 'chart', chat_app_id: 'x' })).toBeNull();
    expect(
      planUsageModeContract({
        scope: 'pika',
        tag: 'chart',
        usage_mode: 'global',
        chat_app_id: 'x',
      }),
    ).toEqual({
      table: 'tag',
      key: { scope: 'pika', tag: 'chart' },
      set: {},
      remove: ['chat_app_id'],
      conditions: [
        { op: 'exists', attribute: 'scope' },
        { op: 'equals', attribute: 'usage_mode', value: 'global' },
        { op: 'equals', attribute: 'chat_app_id', value: 'x' },
      ],
      migrations: ['tag-usage-mode-contract'],
    });
  });

  it('item 7: the contract is off by default and on with --contract', () => {
    expect(PIKA.defaultMigrations).not.toContain('tag-usage-mode-contract');
    expect(withContract(false)).toEqual(PIKA.defaultMigrations);
    expect(withContract(true)).toContain('tag-usage-mode-contract');
    const item = { scope: 'pika', tag: 'chart', chat_app_id: 'x' };
    expect(planPika('tag', item).change?.remove).toEqual([]);
    const migrated = { ...item, usage_mode: 'global' };
    expect(planPika('tag', migrated).change).toBeNull();
    expect(planPika('tag', migrated, {}, withContract(true)).change?.remove).toEqual([
      'chat_app_id',
    ]);
  });
});

describe('tag-usage-mode: malformed input', () => {
  it('rejects a non-string scope or usage_mode and a non-scalar chat_app_id', () => {
    // A key may be a string, number or binary: a boolean scope is the mistyped key here.
    expect(() => planUsageMode({ scope: true, tag: 'chart' })).toThrow(
      expect.objectContaining({ field: 'scope', problem: 'wrong-type' }),
    );
    // The rules' own verdicts name the migration and the field in their reason.
    expect(() => planUsageMode({ scope: 'pika', tag: 'chart', usage_mode: true })).toThrow(
      expect.objectContaining({
        problem: 'reason',
        reason: 'migration "tag-usage-mode": field "usage_mode" is not a string',
      }),
    );
    expect(() => planUsageMode({ scope: 'pika', tag: 'chart', chat_app_id: { a: 1 } })).toThrow(
      expect.objectContaining({
        problem: 'reason',
        reason: 'migration "tag-usage-mode": field "chat_app_id" is not a string',
      }),
    );
  });

  it('property: an existing usage_mode is never in set; expand never removes', () => {
    fc.assert(
      fc.property(tagItemArb, (item) => {
        const change = planUsageMode(item);
        if (item.usage_mode !== undefined) expect(change).toBeNull();
        expect(change?.remove ?? []).toEqual([]);
      }),
    );
  });
});
