import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyChange, changeAlreadyApplied } from '../../../lib/core/plan.ts';
import type { Item } from '../../../lib/core/types.ts';
import {
  sessionWithUserTypesArb,
  tagItemArb,
  REFERENCE_NOW_SECONDS,
} from '../../support/arbitraries.ts';
import { planPika, type PikaPlanContext } from '../../support/pika-plan.ts';

// The changes are the Pika preset's, planned as the engine plans them.
const SESSION = ['session-sort-key', 'session-user-type'];
const planSession = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('session', item, ctx, enabled);
const planTag = (item: Item, ctx: PikaPlanContext, enabled: readonly string[]) =>
  planPika('tag', item, ctx, enabled);

describe('changeAlreadyApplied', () => {
  it('is true for the item an earlier attempt of the same change produced', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, ({ item, userTypes }) => {
        const { change } = planSession(
          item,
          { userTypes, nowSeconds: REFERENCE_NOW_SECONDS },
          SESSION,
        );
        if (!change) return;
        expect(changeAlreadyApplied(applyChange(item, change), change)).toBe(true);
        expect(changeAlreadyApplied(item, change)).toBe(false);
      }),
    );
  });

  it('is false when an application changed an input after our write', () => {
    fc.assert(
      fc.property(sessionWithUserTypesArb, ({ item, userTypes }) => {
        const { change } = planSession(
          item,
          { userTypes, nowSeconds: REFERENCE_NOW_SECONDS },
          SESSION,
        );
        // Only a change that read last_update depends on it.
        if (!change?.conditions.some((c) => c.attribute === 'last_update')) return;
        const later = { ...applyChange(item, change), last_update: `${String(item.last_update)}Z` };
        expect(changeAlreadyApplied(later, change)).toBe(false);
      }),
    );
  });

  it('holds for tag changes that remove chat_app_id', () => {
    fc.assert(
      fc.property(tagItemArb, (item) => {
        // With the contract step, so that tags with a usage_mode do get chat_app_id removed.
        const { change } = planTag(item, {}, ['tag-usage-mode', 'tag-usage-mode-contract']);
        if (!change) return;
        expect(changeAlreadyApplied(applyChange(item, change), change)).toBe(true);
      }),
    );
  });
});
