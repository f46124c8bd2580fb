import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineTable } from '../../../lib/core/config/define.ts';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import {
  batchForSend,
  decodeWorkMessage,
  encodeWorkItem,
  encodeWorkMessage,
  isWorkMessageDecodeError,
  packItems,
  packMessage,
  salvageWorkMessage,
  SQS_MAX_BATCH_ENTRIES,
  SQS_MAX_MESSAGE_BYTES,
  utf8ByteLength,
  workItemOf,
  type WorkItem,
  type WorkMessage,
} from '../../../lib/core/work-message.ts';
import { dynamoRecordArb, keyValueArb } from '../../support/dynamo-values.ts';

const sessions = defineTable({ name: 'session', key: ['user_id', 'session_id'] });
const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const blobs = defineTable({ name: 'blobs', key: ['hash'] });

// Objects as JSON.parse makes them (fast-check's default is a null prototype).
const plain = { noNullPrototype: true } as const;
// Keys of any shape a declared table may have: string, number (big ones too) or binary values.
const keyArb = fc.oneof(
  fc.record({ user_id: keyValueArb, session_id: keyValueArb }, plain),
  fc.record({ tenant_id: keyValueArb }, plain),
  fc.record({ a: keyValueArb, b: keyValueArb }, plain),
);
const workItemArb: fc.Arbitrary<WorkItem> = fc.record(
  { key: keyArb, inputs: dynamoRecordArb },
  plain,
);
const tableArb = fc.constantFrom('session', 'user', 'tag', 'orders', 'a table');

const messageArb: fc.Arbitrary<WorkMessage> = fc.oneof(
  fc.record(
    {
      v: fc.constant(1 as const),
      kind: fc.constant('items' as const),
      table: tableArb,
      runId: fc.string({ minLength: 1 }),
      items: fc.array(workItemArb, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['v', 'kind', 'table', 'items'], noNullPrototype: true },
  ),
  fc
    .record(
      {
        v: fc.constant(1 as const),
        kind: fc.constant('scan-segment' as const),
        table: tableArb,
        runId: fc.string({ minLength: 1 }),
        totalSegments: fc.integer({ min: 1, max: 1000 }),
        segment: fc.nat(),
        exclusiveStartKey: fc.option(keyArb, { nil: undefined }),
        pageSize: fc.integer({ min: 1, max: 10_000 }),
      },
      plain,
    )
    .map((m) => {
      const out = { ...m, segment: m.segment % m.totalSegments };
      if (out.exclusiveStartKey === undefined) delete out.exclusiveStartKey;
      return out;
    }),
  fc
    .record(
      {
        v: fc.constant(1 as const),
        kind: fc.constant('search-repair' as const),
        docId: fc.string({ minLength: 1 }),
        table: tableArb,
        key: keyArb,
        // A "__proto__" field is refused by the decoder (see below), never carried.
        keywords: fc.dictionary(
          fc.string().filter((k) => k !== '__proto__'),
          fc.string(),
          { minKeys: 1, noNullPrototype: true },
        ),
        version: fc.string({ minLength: 1 }),
        attempt: fc.integer({ min: 1, max: 100 }),
        reason: fc.string({ minLength: 1 }),
      },
      {
        requiredKeys: ['v', 'kind', 'docId', 'keywords', 'attempt', 'reason'],
        noNullPrototype: true,
      },
    )
    // a key needs its table
    .map((m) => (m.key && !m.table ? { ...m, table: 'session' } : m)),
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
        expect(decodeWorkMessage(encodeWorkMessage(m))).toStrictEqual(m);
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
        table: '',
        items: [{ key: { user_id: 'u', session_id: {} }, inputs: [] }],
      }),
    );
    expect(items).toMatch(/table: must be a non-empty string/);
    expect(items).toMatch(/items\[0\]\.inputs: must be a JSON object/);
    const values = decodeError(
      JSON.stringify({
        v: 1,
        kind: 'items',
        table: 'orders',
        items: [
          { key: { tenant_id: 't', order_no: {} }, inputs: {} },
          { key: { tenant_id: 't' }, inputs: { b: { '$streamfill.binary': '*' } } },
          { key: {}, inputs: {} },
        ],
      }),
    );
    expect(values).toMatch(
      /items\[0\]\.key\.order_no: key attribute has type map, expected string, number or binary/,
    );
    expect(values).toMatch(/items\[1\]\.inputs\.b: binary must be base64 text/);
    expect(values).toMatch(/items\[2\]\.key: key must have at least one attribute/);
    expect(
      decodeError(
        JSON.stringify({
          v: 1,
          kind: 'search-repair',
          docId: 'd',
          key: { id: 'x' },
          keywords: { a: 'b' },
          attempt: 1,
          reason: 'r',
        }),
      ),
    ).toMatch(/table: a key needs the table it belongs to/);
    expect(
      decodeError(
        '{"v":1,"kind":"search-repair","docId":"d","keywords":{"__proto__":"x","a":"b"},"attempt":1,"reason":"r"}',
      ),
    ).toMatch(/keywords: must not name a field "__proto__"/);
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
    expect(workItemOf(sessions, item, ['source', 'user_type', 'last_update'])).toEqual({
      key: { user_id: 'u', session_id: 's' },
      inputs: { source: 'user', last_update: '1' },
    });
    let e: unknown;
    try {
      workItemOf(sessions, { user_id: 'u' }, []);
    } catch (err) {
      e = err;
    }
    expect(isMalformedItemError(e)).toBe(true);
    expect(e).toMatchObject({ table: 'session', field: 'session_id', problem: 'missing' });
    // sets, binary and big numbers are carried now
    const tags = new Set(['a']);
    expect(
      workItemOf(sessions, { user_id: 'u', session_id: 's', tags }, ['tags']).inputs.tags,
    ).toBe(tags);
    expect(() =>
      workItemOf(sessions, { user_id: 'u', session_id: 's', when: new Date(0) }, ['when']),
    ).toThrow(
      'session item {user_id="u", session_id="s"}: attribute when is an instance of Date, which a work message cannot carry',
    );
    expect(() =>
      workItemOf(sessions, { user_id: 'u', session_id: 's', n: { deep: [1n] } }, ['n']),
    ).toThrow(
      expect.objectContaining({
        name: 'WorkItemError',
        message: expect.stringMatching(/attribute n\.deep\[0\] is a bigint/),
      }),
    );
  });

  it('keys of declared tables: in key order, numbers, big numbers and binary', () => {
    const big = new ExactNumber('123456789012345678901234567890');
    const item = { order_no: big, tenant_id: 't1', total: 3 };
    const w = workItemOf(orders, item, ['total']);
    expect(Object.keys(w.key)).toEqual(['tenant_id', 'order_no']);
    expect(w.key.order_no).toBe(big);
    const hash = new Uint8Array([1, 2, 3]);
    expect(workItemOf(blobs, { hash }, []).key).toEqual({ hash });
    const fails = (
      t: typeof orders | typeof blobs,
      it: Record<string, unknown>,
      problem: object,
    ) => {
      let err: unknown;
      try {
        workItemOf(t, it, []);
      } catch (x) {
        err = x;
      }
      expect(isMalformedItemError(err)).toBe(true);
      expect(err).toMatchObject(problem);
    };
    fails(blobs, { hash: new Uint8Array() }, { table: 'blobs', field: 'hash', problem: 'empty' });
    fails(
      orders,
      { tenant_id: '', order_no: 1 },
      { field: 'tenant_id', problem: 'empty', key: { order_no: 1 } },
    );
    fails(
      orders,
      { tenant_id: 't', order_no: true },
      { field: 'order_no', problem: 'wrong-type', actualType: 'boolean', key: { tenant_id: 't' } },
    );
    fails(orders, { tenant_id: 't', order_no: new Set([1]) }, { actualType: 'set' });
  });

  it('decodes bodies of older senders: plain keys and inputs, the exact-number tag', () => {
    const body = JSON.stringify({
      v: 1,
      kind: 'items',
      table: 'session',
      items: [
        {
          key: { user_id: 'u', session_id: 's' },
          inputs: { n: { '$streamfill.number': '9007199254740993' }, s: 'x', m: { a: [1] } },
        },
      ],
    });
    expect(decodeWorkMessage(body)).toStrictEqual({
      v: 1,
      kind: 'items',
      table: 'session',
      items: [
        {
          key: { user_id: 'u', session_id: 's' },
          inputs: { n: new ExactNumber('9007199254740993'), s: 'x', m: { a: [1] } },
        },
      ],
    });
    const segment = {
      v: 1,
      kind: 'scan-segment',
      table: 'user',
      runId: 'r',
      segment: 0,
      totalSegments: 2,
      exclusiveStartKey: { user_id: 'u7' },
      pageSize: 10,
    };
    expect(decodeWorkMessage(JSON.stringify(segment))).toStrictEqual(segment);
  });

  it('carries a binary or big-number scan position exactly', () => {
    const start = { hash: new Uint8Array([0, 1]), n: new ExactNumber('1e300') };
    const m: WorkMessage = {
      v: 1,
      kind: 'scan-segment',
      table: 'blobs',
      runId: 'r',
      segment: 0,
      totalSegments: 1,
      exclusiveStartKey: start,
      pageSize: 5,
    };
    const back = decodeWorkMessage(packMessage(m).body);
    expect(back).toStrictEqual(m);
  });

  it('salvages the table and complete keys of a body that does not decode', () => {
    const keyNamesOf = (t: string) =>
      ({ orders: ['tenant_id', 'order_no'], session: ['user_id', 'session_id'] })[t];
    const body = JSON.stringify({
      v: 1,
      kind: 'items',
      table: 'orders',
      runId: '', // the fault
      items: [
        { key: { order_no: { '$streamfill.number': '123456789012345678901' }, tenant_id: 't' } },
        { key: { tenant_id: 't' } }, // incomplete
        { key: { tenant_id: 't', order_no: 1, extra: 2 } }, // not exactly the key
        { key: { tenant_id: 't', order_no: { '$streamfill.binary': '*' } } }, // broken value
        { key: { tenant_id: 't', order_no: 2 } },
      ],
    });
    const salvaged = salvageWorkMessage(body, keyNamesOf);
    expect(salvaged).toStrictEqual({
      table: 'orders',
      keys: [
        { tenant_id: 't', order_no: new ExactNumber('123456789012345678901') },
        { tenant_id: 't', order_no: 2 },
      ],
    });
    expect(Object.keys(salvaged.keys[0]!)).toEqual(['tenant_id', 'order_no']);
    // without the key names: the table only
    expect(salvageWorkMessage(body)).toStrictEqual({ table: 'orders', keys: [] });
    expect(salvageWorkMessage(body, () => undefined)).toStrictEqual({ table: 'orders', keys: [] });
    // a search repair: its own table and key, no fallback table
    const repair = JSON.stringify({
      v: 1,
      kind: 'search-repair',
      docId: 'd1',
      table: 'session',
      key: { user_id: 'u', session_id: 's' },
      attempt: 0,
    });
    expect(salvageWorkMessage(repair, keyNamesOf)).toStrictEqual({
      table: 'session',
      keys: [{ user_id: 'u', session_id: 's' }],
      docId: 'd1',
    });
    expect(
      salvageWorkMessage('{"v":1,"kind":"search-repair","docId":"d2"}', keyNamesOf),
    ).toStrictEqual({ keys: [], docId: 'd2' });
    expect(salvageWorkMessage('nope', keyNamesOf)).toStrictEqual({ keys: [] });
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
            packed = packItems('a table', items, {
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
            expect(d).toMatchObject({ kind: 'items', table: 'a table', runId: 'run-1' });
            if (d.kind !== 'items') throw new Error('kind');
            expect(d.items.length).toBe(m.count);
            out.push(...d.items);
          }
          expect(out).toStrictEqual(items);
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
          expect(prev.bytes + 1 + utf8ByteLength(encodeWorkItem('tag', first))).toBeGreaterThan(
            budget,
          );
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
