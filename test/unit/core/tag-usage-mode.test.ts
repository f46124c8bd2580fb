import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planUsageMode, usageModeFor } from '../../../lib/core/migrations/tag-usage-mode.ts';
import { tagItemArb } from '../../support/arbitraries.ts';

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
    expect(usageModeFor(scope, tag)).toBe(mode);
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

describe('tag-usage-mode: what it writes', () => {
  it('sets usage_mode and removes chat_app_id, conditioned on both as read', () => {
    expect(planUsageMode({ scope: 'weather', tag: 'dashboard', chat_app_id: 'weather' })).toEqual({
      table: 'tag',
      key: { scope: 'weather', tag: 'dashboard' },
      set: { usage_mode: 'chat-app' },
      remove: ['chat_app_id'],
      conditions: [
        { op: 'exists', attribute: 'scope' },
        { op: 'notExists', attribute: 'usage_mode' },
        { op: 'equals', attribute: 'chat_app_id', value: 'weather' },
      ],
      migrations: ['tag-usage-mode'],
    });
  });

  it('never clobbers a usage_mode the app already wrote, but still removes chat_app_id', () => {
    const change = planUsageMode({
      scope: 'pika',
      tag: 'chart',
      usage_mode: 'chat-app',
      chat_app_id: 'x',
    });
    expect(change?.set).toEqual({});
    expect(change?.remove).toEqual(['chat_app_id']);
    expect(change?.conditions).toContainEqual({
      op: 'equals',
      attribute: 'usage_mode',
      value: 'chat-app',
    });
  });

  it('only sets usage_mode when there is no chat_app_id to remove', () => {
    const change = planUsageMode({ scope: 'pika', tag: 'image' });
    expect(change?.set).toEqual({ usage_mode: 'global' });
    expect(change?.remove).toEqual([]);
    expect(change?.conditions).toEqual([
      { op: 'exists', attribute: 'scope' },
      { op: 'notExists', attribute: 'usage_mode' },
    ]);
  });

  it('returns null when usage_mode is present and chat_app_id absent', () => {
    expect(planUsageMode({ scope: 'pika', tag: 'chart', usage_mode: 'global' })).toBeNull();
    expect(planUsageMode({ scope: 'pika', tag: 'chart', usage_mode: 'chat-app' })).toBeNull();
  });

  it('rejects a non-string scope or usage_mode and a non-scalar chat_app_id', () => {
    expect(() => planUsageMode({ scope: 5, tag: 'chart' })).toThrow(
      expect.objectContaining({ field: 'scope', problem: 'wrong-type' }),
    );
    expect(() => planUsageMode({ scope: 'pika', tag: 'chart', usage_mode: true })).toThrow(
      expect.objectContaining({ field: 'usage_mode', problem: 'wrong-type' }),
    );
    expect(() => planUsageMode({ scope: 'pika', tag: 'chart', chat_app_id: { a: 1 } })).toThrow(
      expect.objectContaining({ field: 'chat_app_id', problem: 'wrong-type' }),
    );
  });

  it('property: an existing usage_mode is never in set', () => {
    fc.assert(
      fc.property(tagItemArb, (item) => {
        const change = planUsageMode(item);
        if (item.usage_mode !== undefined) expect(change?.set.usage_mode).toBeUndefined();
        expect(change?.remove.includes('chat_app_id') ?? false).toBe(
          item.chat_app_id !== undefined,
        );
      }),
    );
  });
});
