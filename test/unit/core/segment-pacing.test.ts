// `--distributed --rate`: each segment task's share of the rate, within SQS's 900 s delay.
import { describe, expect, it } from 'vitest';
import { segmentPacing } from '../../../lib/core/segment-pacing.ts';

describe('segmentPacing', () => {
  it('unlimited: the page size as asked, no delay', () => {
    const p = segmentPacing(undefined, 16, 500);
    expect(p.pageSize).toBe(500);
    expect(p.delaySeconds(500)).toBe(0);
    expect(segmentPacing(null, 16, 500).delaySeconds(500)).toBe(0);
  });
  it('delays a continuation by what its share of the rate needs for the items it enqueued', () => {
    // 160 items/s over 16 segments: 10 items/s each; 500 items → 50 s.
    const p = segmentPacing(160, 16, 500);
    expect(p.pageSize).toBe(500);
    expect(p.delaySeconds(500)).toBe(50);
    expect(p.delaySeconds(1)).toBe(1);
    expect(p.delaySeconds(0)).toBe(0);
  });
  it('cuts the page so that one page never needs more than the 900 s SQS allows', () => {
    // 1.6 items/s over 16 segments: 0.1 item/s each → at most 90 items per page.
    const p = segmentPacing(1.6, 16, 500);
    expect(p.pageSize).toBe(90);
    expect(p.delaySeconds(90)).toBe(900);
  });
});
