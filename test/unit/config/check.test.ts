// `config check`'s pure checker: each way a derive can break the engine's assumptions is caught
// on generated items and named with its migration; a good config passes.
import { describe, expect, it } from 'vitest';
import { checkConfig, type MigrationCheck } from '../../../lib/core/config/check.ts';
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  malformed,
  type AnyMigrationDef,
} from '../../../lib/core/config/define.ts';
import { resolveConfig } from '../../../lib/core/config/resolve.ts';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'], ttl: 'expires_at' });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const tier = defineLookup({
  name: 'customer-tier',
  table: customers,
  key: (item) =>
    typeof item.customer_id === 'string' && item.customer_id !== ''
      ? { customer_id: item.customer_id }
      : null,
  attributes: ['tier'],
});

const statusSk = defineMigration({
  name: 'order-status-sk',
  table: orders,
  inputs: ['status', 'created_at', 'customer_id'],
  writes: ['status_sk', 'customer_tier'],
  lookups: [tier],
  derive: (item, ctx) => {
    if (typeof item.created_at !== 'string') throw malformed('created_at is missing');
    return {
      status_sk: `${String(item.status ?? 'new')}#${item.created_at}`,
      customer_tier: ctx.lookup(tier)?.tier ?? 'standard',
    };
  },
});
const keywords = defineSearch({
  name: 'order-keywords',
  table: orders,
  index: 'orders',
  id: (item) => `${String(item.tenant_id)}#${String(item.order_no)}`,
  version: 'updated_at',
  fields: { status_keyword: 'status' },
});

function check(...migrations: AnyMigrationDef[]) {
  return checkConfig(resolveConfig(defineConfig({ tables: [orders, customers], migrations })));
}

/** The one migration's outcome of `check`. */
function only(name: string, ...migrations: AnyMigrationDef[]): MigrationCheck {
  const found = check(...migrations).migrations.find((m) => m.name === name);
  if (!found) throw new Error(`no report for ${name}`);
  return found;
}

function failing(m: MigrationCheck) {
  return m.checks.filter((c) => c.level !== 'ok').map((c) => [c.check, c.level]);
}

describe('config check', () => {
  it('passes a pure, idempotent config that reads what it declares', () => {
    const report = check(statusSk, keywords);
    expect(report).toMatchObject({ ok: true, errors: 0, warnings: 0 });
    expect(report.migrations.map((m) => [m.name, m.ok])).toEqual([
      ['order-status-sk', true],
      ['order-keywords', true],
    ]);
    const sk = report.migrations[0]!;
    // Both outcomes were exercised: some items derived, some rejected with malformed.
    expect(sk.malformed).toBeGreaterThan(0);
    expect(sk.malformed).toBeLessThan(sk.items);
  });

  it('catches a derive that reads the clock, on the first item', () => {
    const stamped = defineMigration({
      name: 'stamp',
      table: orders,
      inputs: ['status'],
      writes: ['migrated_at'],
      derive: () => ({ migrated_at: Date.now() }),
    });
    const r = only('stamp', statusSk, stamped);
    expect(failing(r)).toEqual([['deterministic', 'error']]);
    expect(r.checks[0]!.message).toMatch(
      /^derived twice: \{"migrated_at":\d+\}, then \{"migrated_at":\d+\}$/,
    );
    expect(check(statusSk, stamped)).toMatchObject({ ok: false, errors: 1 });
  });

  it('catches new Date(), Math.random and crypto.randomUUID', () => {
    for (const [name, value] of [
      ['date', () => new Date().toISOString()],
      ['random', () => (Math.random() < 0.5 ? 'a' : 'b')],
      ['uuid', () => globalThis.crypto.randomUUID()],
    ] as const) {
      const m = defineMigration({
        name,
        table: orders,
        inputs: [],
        writes: ['v'],
        derive: () => ({ v: value() }),
      });
      expect(failing(only(name, m)), name).toEqual([['deterministic', 'error']]);
    }
  });

  it('puts the real clock and random sources back', () => {
    const { Date: before, random } = { Date, random: Math.random };
    const uuid = globalThis.crypto.randomUUID;
    check(statusSk);
    expect(Date).toBe(before);
    expect(Math.random).toBe(random);
    expect(globalThis.crypto.randomUUID).toBe(uuid);
    expect(Object.getOwnPropertyNames(globalThis.crypto)).not.toContain('randomUUID');
  });

  it('catches a derive that keeps state between calls', () => {
    let calls = 0;
    const counter = defineMigration({
      name: 'counter',
      table: orders,
      inputs: [],
      writes: ['seq'],
      derive: () => ({ seq: calls++ }),
    });
    expect(failing(only('counter', counter))).toContainEqual(['deterministic', 'error']);
  });

  it('catches a derive that changes the item it was given', () => {
    const mutating = defineMigration({
      name: 'mutating',
      table: orders,
      inputs: ['status'],
      writes: ['status_copy'],
      derive: (item) => {
        (item as Record<string, unknown>).status = 'seen';
        return { status_copy: 'x' };
      },
    });
    const r = only('mutating', mutating);
    expect(failing(r)).toEqual([['deterministic', 'error']]);
    expect(r.checks[0]!.message).toMatch(/changes the item it was given \(status\)/);
  });

  it('catches a derive that is not idempotent, with the change it keeps wanting', () => {
    const bump = defineMigration({
      name: 'bump',
      table: orders,
      inputs: ['n'],
      writes: ['n'],
      derive: (item) => ({ n: ((item.n as number | undefined) ?? 0) + 1 }),
    });
    const r = only('bump', statusSk, bump);
    expect(r.ok).toBe(false);
    const idempotent = r.checks.find((c) => c.check === 'idempotent')!;
    expect(idempotent.level).toBe('error');
    expect(idempotent.message).toMatch(
      /^after its result is applied, it wants another change: n: (\d+|"[^"]*"\d*) → /,
    );
    expect(idempotent.item).toBeDefined();
  });

  it('accepts a removal as idempotent (undefined: the attribute is gone, deriving again keeps it gone)', () => {
    const contract = defineMigration({
      name: 'contract',
      table: orders,
      inputs: ['mode', 'legacy'],
      writes: ['legacy'],
      derive: (item) => (item.mode !== undefined ? { legacy: undefined } : null),
    });
    expect(only('contract', contract).ok).toBe(true);
  });

  it('catches a read outside the inputs and the key, naming the attribute', () => {
    const sneaky = defineMigration({
      name: 'sneaky',
      table: orders,
      inputs: ['status'],
      writes: ['label'],
      derive: (item) => ({
        label: `${String(item.status)}/${String((item as Record<string, unknown>).region)}`,
      }),
    });
    const r = only('sneaky', statusSk, sneaky);
    expect(failing(r)).toEqual([['declared-reads', 'error']]);
    expect(r.checks.find((c) => c.check === 'declared-reads')!.message).toBe(
      'reads "region", which is neither an input [status] nor the key [tenant_id, order_no]: the backfill does not carry it',
    );
  });

  it('lets a derive read the key without declaring it', () => {
    const keyed = defineMigration({
      name: 'keyed',
      table: orders,
      inputs: [],
      writes: ['ref'],
      derive: (item) => ({ ref: `${String(item.tenant_id)}:${String(item.order_no)}` }),
    });
    expect(only('keyed', keyed).ok).toBe(true);
  });

  it('catches a returned attribute outside the writes', () => {
    const extra = defineMigration({
      name: 'extra',
      table: orders,
      inputs: ['a'],
      writes: ['b'],
      derive: (item) => ({ b: item.a ?? 'x', c: 1 }) as never,
    });
    const r = only('extra', extra);
    expect(failing(r)).toEqual([['declared-writes', 'error']]);
    expect(r.checks.find((c) => c.check === 'declared-writes')!.message).toBe(
      'returns "c", not in writes [b]',
    );
  });

  it('catches an asynchronous derive', () => {
    const later = defineMigration({
      name: 'later',
      table: orders,
      inputs: [],
      writes: ['b'],
      derive: (async () => ({ b: 1 })) as never,
    });
    expect(only('later', later).checks.find((c) => c.check === 'declared-writes')!.message).toBe(
      'returns a Promise: derive must be synchronous',
    );
  });

  it('catches ctx.lookup of a lookup the migration did not declare', () => {
    const other = defineLookup({
      name: 'other',
      table: customers,
      key: () => null,
      attributes: ['x'],
    });
    const undeclared = defineMigration({
      name: 'undeclared-lookup',
      table: orders,
      inputs: ['customer_id'],
      writes: ['x'],
      lookups: [tier],
      derive: (_item, ctx) => ({
        x: (ctx.lookup(other as never) as { x?: unknown } | null)?.x ?? 'none',
      }),
    });
    const r = only('undeclared-lookup', undeclared);
    expect(failing(r)).toEqual([['declared-lookups', 'error']]);
    expect(r.checks.find((c) => c.check === 'declared-lookups')!.message).toBe(
      'asks ctx.lookup for "other", not in its lookups [customer-tier]',
    );
  });

  it('warns, with the item, about a throw that is not malformed(…); errors stay at 0', () => {
    const careless = defineMigration({
      name: 'careless',
      table: orders,
      inputs: ['created_at'],
      writes: ['year'],
      derive: (item) => ({ year: (item.created_at as string).slice(0, 4) }),
    });
    const report = check(careless);
    const r = report.migrations[0]!;
    expect(report).toMatchObject({ ok: true, errors: 0, warnings: 1 });
    const warning = r.checks.find((c) => c.check === 'malformed-only')!;
    expect(warning.level).toBe('warning');
    expect(warning.message).toMatch(
      /^throws TypeError: .*: reject bad input with malformed\(reason\)$/,
    );
    expect(typeof warning.item!.created_at).not.toBe('string');
  });

  it('warns when every generated item is rejected (the checks saw nothing)', () => {
    const picky = defineMigration({
      name: 'picky',
      table: orders,
      inputs: [],
      writes: ['b'],
      derive: () => {
        throw malformed('never');
      },
    });
    expect(failing(only('picky', picky))).toEqual([['derives-something', 'warning']]);
  });

  it("catches a lookup key that reads beyond the inputs or is not the looked-up table's key", () => {
    const wide = defineLookup({
      name: 'wide',
      table: customers,
      key: (item) => ({ customer_id: item.customer_ref }),
      attributes: ['tier'],
    });
    const partial = defineLookup({
      name: 'partial',
      table: orders,
      key: (item) => ({ tenant_id: item.tenant_id }),
      attributes: ['x'],
    });
    const uses = (name: string, l: typeof wide | typeof partial) =>
      defineMigration({
        name,
        table: orders,
        inputs: [],
        // One written attribute per migration: two migrations of a table may not write the same.
        writes: [`v_${name}`],
        lookups: [l],
        derive: (_item, ctx) =>
          ({ [`v_${name}`]: ctx.lookup(l as never) === null ? 'none' : 'some' }) as never,
      });
    const report = check(uses('uses-wide', wide), uses('uses-partial', partial));
    const [w, p] = report.migrations;
    expect(failing(w!)).toEqual([
      ['declared-reads', 'error'],
      ['lookup-key', 'warning'],
    ]);
    expect(w!.checks.find((c) => c.check === 'declared-reads')!.message).toBe(
      'lookup "wide": key reads "customer_ref", which is neither an input [] nor the key [tenant_id, order_no]: the backfill does not carry it',
    );
    expect(failing(p!)).toEqual([['lookup-key', 'error']]);
    expect(p!.checks.find((c) => c.check === 'lookup-key')!.message).toMatch(
      /^lookup "partial": key returns \{.*\}, not the key \[tenant_id, order_no\] of table orders$/,
    );
  });

  it('warns about a lookup key with an absent or empty value (null means nothing to look up)', () => {
    const loose = defineLookup({
      name: 'loose',
      table: customers,
      key: (item) => ({ customer_id: item.customer_id }),
      attributes: ['tier'],
    });
    const m = defineMigration({
      name: 'loose-key',
      table: orders,
      inputs: ['customer_id'],
      writes: ['v'],
      lookups: [loose],
      derive: (_item, ctx) => ({ v: ctx.lookup(loose)?.tier ?? 'none' }),
    });
    const r = only('loose-key', m);
    expect(r.ok).toBe(true);
    expect(failing(r)).toEqual([['lookup-key', 'warning']]);
    expect(r.checks.find((c) => c.check === 'lookup-key')!.message).toMatch(
      /^lookup "loose": key returns customer_id: .*, not a key value \(a non-empty string, a number or binary\): return null when there is nothing to look up$/,
    );
  });

  it('catches a search id that is empty or reads beyond the key', () => {
    const empty = defineSearch({ ...keywords, name: 'empty-id', id: () => '' });
    const wide = defineSearch({
      ...keywords,
      name: 'wide-id',
      // Its own index: two searches of one index may not declare the same field.
      index: 'orders-wide',
      id: (item) => String((item as Record<string, unknown>).status),
    });
    const report = check(empty, wide);
    expect(failing(report.migrations[0]!)).toEqual([['search-id', 'error']]);
    expect(report.migrations[0]!.checks[0]!.message).toBe('id returns ""');
    expect(failing(report.migrations[1]!)).toEqual([['declared-reads', 'error']]);
  });

  it('generates the same items for the same seed', () => {
    const bump = defineMigration({
      name: 'bump',
      table: orders,
      inputs: ['n'],
      writes: ['n'],
      derive: (item) => ({ n: ((item.n as number | undefined) ?? 0) + 1 }),
    });
    const config = resolveConfig(defineConfig({ tables: [orders], migrations: [bump] }));
    expect(checkConfig(config, { seed: 7 })).toEqual(checkConfig(config, { seed: 7 }));
  });
});
