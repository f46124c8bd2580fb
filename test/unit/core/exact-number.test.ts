// Exact numbers (issue 14 item 6): numbers a JS number cannot hold keep their text through
// the work-message codec and compare by it; pure.
import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../lib/core/config/define.ts';
import { ExactNumber, numberFromText, sameScalar } from '../../../lib/core/exact-number.ts';
import { conditionsHold } from '../../../lib/core/plan.ts';
import { decodeWorkMessage, packItems, workItemOf } from '../../../lib/core/work-message.ts';

const tags = defineTable({ name: 'tag', key: ['scope', 'tag'] });

describe('exact numbers', () => {
  it('a number a double reproduces stays a number; any other keeps its text', () => {
    expect(numberFromText('42')).toBe(42);
    expect(numberFromText('0.5')).toBe(0.5);
    expect(numberFromText('9007199254740993.5')).toEqual(new ExactNumber('9007199254740993.5'));
    expect(numberFromText('0.10000000000000000555')).toBeInstanceOf(ExactNumber);
  });

  it('compare by their text, never by a rounded value', () => {
    const a = new ExactNumber('9007199254740993.5');
    expect(sameScalar(a, new ExactNumber('9007199254740993.5'))).toBe(true);
    expect(sameScalar(a, 9007199254740994)).toBe(false);
    expect(
      conditionsHold({ chat_app_id: a }, [
        { op: 'equals', attribute: 'chat_app_id', value: new ExactNumber(a.text) },
      ]),
    ).toBe(true);
  });

  it('travel through an items message exactly, nested too', () => {
    const item = {
      scope: 's',
      tag: 't',
      chat_app_id: new ExactNumber('9007199254740993.5'),
      stats: { n: new ExactNumber('123456789012345678901234567890'), l: [1, 2] },
    };
    const w = workItemOf(tags, item, ['chat_app_id', 'stats']);
    const [body] = packItems('tag', [w]);
    expect(body!.body).toContain('"9007199254740993.5"');
    const m = decodeWorkMessage(body!.body);
    if (m.kind !== 'items') throw new Error('not items');
    expect(m.items[0]!.inputs).toStrictEqual({
      chat_app_id: new ExactNumber('9007199254740993.5'),
      stats: { n: new ExactNumber('123456789012345678901234567890'), l: [1, 2] },
    });
  });

  it('a user map shaped like the tag travels as that map, not as a number', () => {
    const x = { '$streamfill.number': '1' };
    const [body] = packItems('tag', [workItemOf(tags, { scope: 's', tag: 't', x }, ['x'])]);
    const m = decodeWorkMessage(body!.body);
    if (m.kind !== 'items') throw new Error('not items');
    expect(m.items[0]!.inputs).toStrictEqual({ x });
  });
});
