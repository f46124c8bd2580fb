import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import {
  batchForSend,
  decodeWorkMessage,
  encodeWorkMessage,
  isWorkMessageDecodeError,
  packItems,
  packMessage,
  SQS_MAX_BATCH_ENTRIES,
  SQS_MAX_MESSAGE_BYTES,
  utf8ByteLength,
  workItemOf,
  type JsonValue,
  type WorkItem,
  type WorkMessage,
} from '../../../lib/core/work-message.ts';

// Numbers a JSON round trip keeps (no -0, NaN, Infinity).
const num = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0));
const name = fc.string().filter((s) => s !== '__proto__');
const json: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary' }),
    num,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(name, tie('v'), { maxKeys: 3 }),
  ),
})).v;
const keyArb = fc.record({
  user_id: fc.string({ unit: 'binary', minLength: 1 }),
  session_id: fc.string({ unit: 'binary', minLength: 1 }),
});
const workItemArb: fc.Arbitrary<WorkItem> = fc.record({
  key: keyArb,
  inputs: fc.dictionary(name, json, { maxKeys: 6 }),
});
const roleArb = fc.constantFrom('session' as const, 'user' as const, 'tag' as const);

const messageArb: fc.Arbitrary<WorkMessage> = fc.oneof(
  fc.record(
    {
      v: fc.constant(1 as const),
      kind: fc.constant('items' as const),
      table: roleArb,
      runId: fc.string({ minLength: 1 }),
      items: fc.array(workItemArb, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['v', 'kind', 'table', 'items'] },
  ),
  fc
    .record({
      v: fc.constant(1 as const),
      kind: fc.constant('scan-segment' as const),
      table: roleArb,
      runId: fc.string({ minLength: 1 }),
      totalSegments: fc.integer({ min: 1, max: 1000 }),
      segment: fc.nat(),
      exclusiveStartKey: fc.option(fc.dictionary(name, json), { nil: undefined }),
      pageSize: fc.integer({ min: 1, max: 10_000 }),
    })
    .map((m) => {
      const out = { ...m, segment: m.segment % m.totalSegments };
      if (out.exclusiveStartKey === undefined) delete out.exclusiveStartKey;
      return out;
    }),
  fc.record(
    {
      v: fc.constant(1 as const),
      kind: fc.constant('search-repair' as const),
      docId: fc.string({ minLength: 1 }),
      keywords: fc.dictionary(name, fc.string(), { minKeys: 1 }),
      version: fc.string({ minLength: 1 }),
      attempt: fc.integer({ min: 1, max: 100 }),
      reason: fc.string({ minLength: 1 }),
    },
    { requiredKeys: ['v', 'kind', 'docId', 'keywords', 'attempt', 'reason'] },
  ),
);

function decodeError(body: string): string {
  try {
    decodeWorkMessage(body);
  } catch (e) {
    expect(isWorkMessageDecodeError(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected ${body} to be rejected`);
}

describe('work message codec', () => {
  it('property: decode(encode(x)) = x for every message kind', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeWorkMessage(encodeWorkMessage(m))).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('says what is wrong with a bad message', () => {
    expect(decodeError('not json')).toMatch(/body is not JSON/);
    expect(decodeError('[1]')).toMatch(/must be a JSON object/);
    expect(decodeError('{"kind":"items"}')).toMatch(/v is missing/);
    expect(decodeError('{"v":2,"kind":"items"}')).toMatch(/unsupported version v=2/);
    expect(decodeError('{"v":1,"kind":"bulk"}')).toMatch(/kind/);
    const items = decodeError(
      JSON.stringify({
        v: 1,
        kind: 'items',
        table: 'sessions',
        items: [{ key: { user_id: 'u', session_id: {} }, inputs: {} }],
      }),
    );
    expect(items).toMatch(/table: must be one of "session", "user", "tag"/);
    expect(items).toMatch(/items\[0\]\.key\.session_id: key attributes must be strings or numbers/);
    expect(decodeError(JSON.stringify({ v: 1, kind: 'items', table: 'tag', items: [] }))).toMatch(
      /items: is empty/,
    );
    expect(
      decodeError(
        JSON.stringify({
          v: 1,
          kind: 'scan-segment',
          table: 'session',
          runId: 'r',
          segment: 4,
          totalSegments: 4,
          pageSize: 100,
        }),
      ),
    ).toMatch(/segment: segment must be < totalSegments/);
    expect(
      decodeError(
        JSON.stringify({
          v: 1,
          kind: 'search-repair',
          docId: 's1',
          keywords: { a: 'b' },
          attempt: 0,
          reason: 'x',
          extra: true,
        }),
      ),
    ).toMatch(/attempt: .*>=1.*; .*Unrecognized key: "extra"/i);
  });

  it('builds work items from scanned items: key validated, absent inputs stay absent', () => {
    const item = { user_id: 'u', session_id: 's', source: 'user', blob: 'x', last_update: '1' };
    expect(workItemOf('session', item, ['source', 'user_type', 'last_update'])).toEqual({
      key: { user_id: 'u', session_id: 's' },
      inputs: { source: 'user', last_update: '1' },
    });
    expect(() => workItemOf('session', { user_id: 'u' }, [])).toThrow(
      expect.objectContaining({ name: 'MalformedItemError' }),
    );
    let e: unknown;
    try {
      workItemOf('session', { user_id: 'u' }, []);
    } catch (err) {
      e = err;
    }
    expect(isMalformedItemError(e)).toBe(true);
    expect(() =>
      workItemOf('session', { user_id: 'u', session_id: 's', tags: new Set(['a']) }, ['tags']),
    ).toThrow('session item {user_id="u", session_id="s"}: attribute tags is a set');
    expect(() =>
      packItems('tag', [
        { key: { scope: 'p', tag: 't' }, inputs: JSON.parse('{"m":{"__proto__":1}}') },
      ]),
    ).toThrow('tag item {scope="p", tag="t"}: attribute inputs.m has a map key "__proto__"');
  });

  it('property: utf8ByteLength agrees with TextEncoder', () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(utf8ByteLength(s)).toBe(enc.encode(s).length);
      }),
    );
    expect(utf8ByteLength('\ud800x')).toBe(enc.encode('\ud800x').length); // lone surrogate
  });
});

describe('packing', () => {
  const budgetArb = fc.integer({ min: 300, max: 4_000 });
  const itemsArb = fc.array(workItemArb, { maxLength: 60 });

  it('property: every body fits the budget, decodes, and no item is lost or duplicated', () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(
        itemsArb,
        budgetArb,
        fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
        (items, budget, maxItems) => {
          let packed;
          try {
            packed = packItems('session', items, {
              budgetBytes: budget,
              runId: 'run-1',
              ...(maxItems && { maxItemsPerMessage: maxItems }),
            });
          } catch (e) {
            // Only an item that cannot fit alone may fail the packing.
            expect((e as Error).name).toBe('WorkItemError');
            expect((e as Error).message).toMatch(/does not fit one work message/);
            return;
          }
          const out: WorkItem[] = [];
          for (const m of packed) {
            expect(m.bytes).toBe(enc.encode(m.body).length);
            expect(m.bytes).toBeLessThanOrEqual(budget);
            if (maxItems) expect(m.count).toBeLessThanOrEqual(maxItems);
            const d = decodeWorkMessage(m.body);
            expect(d).toMatchObject({ kind: 'items', table: 'session', runId: 'run-1' });
            if (d.kind !== 'items') throw new Error('kind');
            expect(d.items.length).toBe(m.count);
            out.push(...d.items);
          }
          expect(out).toEqual(items.map((i) => JSON.parse(JSON.stringify(i))));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: greedy — no two neighbouring bodies could have been merged', () => {
    fc.assert(
      fc.property(itemsArb, (items) => {
        const budget = 5_000;
        const packed = packItems('tag', items, { budgetBytes: budget });
        for (let i = 1; i < packed.length; i++) {
          const prev = packed[i - 1]!;
          const first = (decodeWorkMessage(packed[i]!.body) as { items: WorkItem[] }).items[0]!;
          expect(prev.bytes + 1 + utf8ByteLength(JSON.stringify(first))).toBeGreaterThan(budget);
        }
      }),
    );
  });

  it('names the key of an item too large for any message', () => {
    const big: WorkItem = {
      key: { user_id: 'u9', session_id: 's9' },
      inputs: { x: 'é'.repeat(200_000) },
    };
    expect(() =>
      packItems('session', [{ key: { user_id: 'a', session_id: 'b' }, inputs: {} }, big]),
    ).toThrow(
      /session item \{user_id="u9", session_id="s9"\}: encoded size 400\d+ bytes does not fit one work message/,
    );
  });

  it('fills default-budget bodies near the SQS limit, counting UTF-8 bytes', () => {
    const items = Array.from({ length: 3000 }, (_, i) => ({
      key: { user_id: `ü-${i}`, session_id: `s-${i}` },
      inputs: {
        chat_app_id: 'wéather',
        last_update: '2025-01-01T00:00:00.000Z',
        title: '日本'.repeat(40),
      },
    }));
    const packed = packItems('session', items);
    expect(packed.length).toBeGreaterThan(1);
    for (const m of packed.slice(0, -1)) {
      expect(m.bytes).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES - 2_048);
      expect(m.bytes).toBeGreaterThan(SQS_MAX_MESSAGE_BYTES - 2_048 - 400);
    }
  });

  it('property: send batches keep order, ≤ 10 entries and ≤ 256 KiB each', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: SQS_MAX_MESSAGE_BYTES }), { maxLength: 80 }),
        (sizes) => {
          const msgs = sizes.map((bytes, id) => ({ id, bytes }));
          const batches = batchForSend(msgs);
          expect(batches.flat()).toEqual(msgs);
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(SQS_MAX_BATCH_ENTRIES);
            expect(b.reduce((n, m) => n + m.bytes, 0)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
          }
        },
      ),
    );
    expect(() => batchForSend([{ bytes: SQS_MAX_MESSAGE_BYTES + 1 }])).toThrow(
      /exceeds the batch limit/,
    );
  });

  it('packs a single task message with its size', () => {
    const m = packMessage({
      v: 1,
      kind: 'search-repair',
      docId: 'ß',
      keywords: { source_keyword: 'user' },
      attempt: 1,
      reason: 'search 503',
    });
    expect(m.bytes).toBe(new TextEncoder().encode(m.body).length);
    expect(m.count).toBe(1);
  });
});
