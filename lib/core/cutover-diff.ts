// The copy diff's verdicts, pure: what one source's plan finds in its target tables, and whether
// a target stamped by a copy is still derived by its source. The engine (lib/engine/copy-diff.ts)
// reads the items; these decide.
import { COPY_ATTRIBUTES, type CopyPlan } from './config/plan-copy.ts';
import { sameValue } from './item-equality.ts';
import { keyId, parseKeyId } from './keys.ts';
import type { Item, Key } from './types.ts';

/** Why a copy is not done for one key. */
export const COPY_DIFF_REASONS = ['pending', 'skipped', 'malformed', 'conflict', 'orphan'] as const;
export type CopyDiffReason = (typeof COPY_DIFF_REASONS)[number];

/**
 * The reasons that keep a copy from being done. `skipped` (a lookup found nothing, so the source
 * derives nothing, as the vendor's script skips it) is listed, never failing.
 */
export const FAILING_COPY_REASONS: readonly CopyDiffReason[] = [
  'pending',
  'malformed',
  'conflict',
  'orphan',
];

export interface CopyDiffFinding {
  reason: CopyDiffReason;
  /** `keyId` of the target, or null when the finding is about the source alone. */
  target: string | null;
  detail: string;
}

/** The attributes on which two items differ (either side's), sorted. */
export function differingAttributes(a: Item, b: Item): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((n) => !sameValue(a[n], b[n])).sort();
}

/**
 * What `plan` finds in the target tables: `found` maps `keyId(table, key)` of each wanted target
 * to the item it holds now (absent: none). Each target is compared whole, bookkeeping included.
 */
export function classifyPlan(plan: CopyPlan, found: ReadonlyMap<string, Item>): CopyDiffFinding[] {
  const findings: CopyDiffFinding[] = [];
  if (plan.skipped !== undefined)
    findings.push({ reason: 'skipped', target: null, detail: plan.skipped });
  for (const t of plan.targets) {
    const target = keyId(t.table, t.key);
    const existing = found.get(target);
    if (!existing) {
      findings.push({ reason: 'pending', target, detail: 'target missing' });
      continue;
    }
    const owner = existing[COPY_ATTRIBUTES.source];
    if (owner !== plan.sourceId) {
      findings.push({
        reason: 'conflict',
        target,
        detail:
          owner === undefined
            ? `holds an item without ${COPY_ATTRIBUTES.source} (the application's own): never overwritten`
            : `holds the copy of another source (${COPY_ATTRIBUTES.source} ${JSON.stringify(owner)}): never overwritten`,
      });
      continue;
    }
    const differs = differingAttributes(existing, t.item);
    if (differs.length)
      findings.push({
        reason: 'pending',
        target,
        detail: `target differs in ${differs.join(', ')}`,
      });
  }
  return findings;
}

/** What a target stamped by a copy says of itself. */
export interface StampedTarget {
  table: string;
  key: Key;
  /** Its `streamfill_source`. */
  source: unknown;
}

/**
 * The source a stamped target names, when it is an item of the copy's source table `from`;
 * else the orphan finding that says why not.
 */
export function stampedSource(
  target: StampedTarget,
  from: string,
): { table: string; key: Key } | CopyDiffFinding {
  const id = keyId(target.table, target.key);
  const parsed = typeof target.source === 'string' ? parseKeyId(target.source) : undefined;
  if (!parsed)
    return {
      reason: 'orphan',
      target: id,
      detail: `its ${COPY_ATTRIBUTES.source} ${JSON.stringify(target.source)} names no source item`,
    };
  if (parsed.table !== from)
    return {
      reason: 'orphan',
      target: id,
      detail: `its ${COPY_ATTRIBUTES.source} names table "${parsed.table}", not the copy's source "${from}"`,
    };
  return parsed;
}

/**
 * Whether a stamped target is an orphan: `plan` is its source's plan now, null when the source
 * no longer exists. Null: the source still derives this target.
 */
export function classifyStamped(
  target: StampedTarget,
  plan: CopyPlan | null,
): CopyDiffFinding | null {
  const id = keyId(target.table, target.key);
  if (!plan) return { reason: 'orphan', target: id, detail: 'its source no longer exists' };
  if (plan.targets.some((t) => keyId(t.table, t.key) === id)) return null;
  return {
    reason: 'orphan',
    target: id,
    detail: `its source no longer derives it${plan.skipped ? ` (skipped: ${plan.skipped})` : ''}`,
  };
}
