// `streamfill config check`: runs every derivation of a config on generated items and reports
// what the engine's safety rests on but cannot enforce — a derive that is pure, deterministic
// and idempotent, that reads only its declared inputs and the key (the backfill carries nothing
// else), and that rejects bad input with malformed(…). No fast-check at runtime (a dev
// dependency): a small seeded generator, so a run is reproducible.
import { prng } from '../prng.ts';
import {
  isMalformedDerivation,
  type LookupDef,
  type MigrationDef,
  type SearchDef,
} from './define.ts';
import { isItemMigration, type ResolvedConfig } from './resolve.ts';

export type CheckName =
  | 'deterministic'
  | 'idempotent'
  | 'declared-reads'
  | 'declared-lookups'
  | 'declared-writes'
  | 'malformed-only'
  | 'derives-something'
  | 'lookup-key'
  | 'search-id';

/** The checklist line of each check, as the text output prints it. */
export const CHECK_LABELS: Record<CheckName, string> = {
  deterministic: 'pure and deterministic: the same item and lookups give the same result',
  idempotent: 'idempotent: deriving its own result wants no further change',
  'declared-reads': 'reads only its declared inputs and the key',
  'declared-lookups': 'asks ctx.lookup only for its declared lookups',
  'declared-writes': 'returns only its declared writes (an object or null)',
  'malformed-only': 'rejects bad input with malformed(…) only',
  'derives-something': 'derives some generated item (not all rejected)',
  'lookup-key': 'each lookup key is null or exactly its table key, from inputs and the key',
  'search-id': 'id is a non-empty string for every generated key',
};

export interface CheckOutcome {
  readonly check: CheckName;
  readonly level: 'ok' | 'warning' | 'error';
  /** What went wrong, on the first offending item. */
  readonly message?: string;
  /** The first offending generated item (its declared inputs and key; absent ones left out). */
  readonly item?: Readonly<Record<string, unknown>>;
  /** What each declared lookup returned for that item (null: nothing found). */
  readonly lookups?: Readonly<Record<string, unknown>>;
}

export interface MigrationCheck {
  readonly name: string;
  readonly kind: 'migration' | 'search';
  readonly table: string;
  /** Generated items derived. */
  readonly items: number;
  /** Of those, rejected with malformed(…). */
  readonly malformed: number;
  readonly checks: readonly CheckOutcome[];
  /** No error (warnings allowed). */
  readonly ok: boolean;
}

export interface ConfigCheckReport {
  readonly ok: boolean;
  readonly errors: number;
  readonly warnings: number;
  readonly migrations: readonly MigrationCheck[];
}

export interface CheckOptions {
  /** Seed of the item generator: the same seed generates the same items. @default 13 */
  readonly seed?: number;
  /** Random items per migration, on top of one item per attribute and value kind. @default 200 */
  readonly items?: number;
}

/** Checks every migration of a validated config. Pure apart from the derives it runs. */
export function checkConfig(config: ResolvedConfig, options: CheckOptions = {}): ConfigCheckReport {
  const migrations = config.migrations.map((m) =>
    isItemMigration(m) ? checkMigration(m, options) : checkSearch(m as SearchDef, options),
  );
  const count = (level: CheckOutcome['level']) =>
    migrations.reduce((n, m) => n + m.checks.filter((c) => c.level === level).length, 0);
  const errors = count('error');
  return { ok: errors === 0, errors, warnings: count('warning'), migrations };
}

type Item = Record<string, unknown>;
type Lookups = Record<string, Item | null>;

/** The first finding of each check; later ones add nothing the operator needs. */
class Findings {
  private readonly first = new Map<CheckName, CheckOutcome>();
  add(
    check: CheckName,
    level: 'warning' | 'error',
    message: string,
    item?: Item,
    lookups?: Lookups,
  ) {
    if (this.first.has(check)) return;
    this.first.set(check, {
      check,
      level,
      message,
      ...(item && { item: presentOnly(item) }),
      ...(lookups && Object.keys(lookups).length > 0 && { lookups }),
    });
  }
  outcomes(checks: readonly CheckName[]): CheckOutcome[] {
    return checks.map((check) => this.first.get(check) ?? { check, level: 'ok' as const });
  }
}

const ITEM_CHECKS: readonly CheckName[] = [
  'deterministic',
  'idempotent',
  'declared-reads',
  'declared-lookups',
  'declared-writes',
  'malformed-only',
  'derives-something',
  'lookup-key',
];

function checkMigration(m: MigrationDef, options: CheckOptions): MigrationCheck {
  const findings = new Findings();
  const clock = clocks();
  const key = m.table.key as readonly string[];
  const readable = new Set<string>([...m.inputs, ...key]);
  const writes = new Set<string>(m.writes);
  const declaredLookups = m.lookups ?? [];
  const rand = prng(options.seed ?? 13);
  const cases = generateItems([...readable], rand, options.items ?? 200);
  let malformedCount = 0;

  for (const item of cases) {
    const lookups = generateLookups(declaredLookups, rand);
    for (const l of declaredLookups) checkLookupKey(l, item, readable, m, clock, findings);
    // One derive: its outcome, with every read outside the declarations and every mutation noted.
    const derive = (input: Item, at: Clock): Outcome => {
      const watched = watch(input, readable);
      const ctx = {
        lookup: (l: LookupDef) => {
          const name = (l as Partial<LookupDef> | undefined)?.name;
          if (!declaredLookups.some((d) => d === l || d.name === name)) {
            findings.add(
              'declared-lookups',
              'error',
              `asks ctx.lookup for ${JSON.stringify(name ?? l)}, not in its lookups [${declaredLookups.map((d) => d.name).join(', ')}]`,
              item,
              lookups,
            );
            return null;
          }
          return lookups[name!] === null ? null : structuredClone(lookups[name!]!);
        },
      };
      const outcome = at.run(() => {
        try {
          return { result: m.derive(watched.item as never, ctx as never) as unknown };
        } catch (error) {
          return { error };
        }
      });
      for (const attr of watched.reads) {
        findings.add(
          'declared-reads',
          'error',
          `reads "${attr}", which is neither an input [${m.inputs.join(', ')}] nor the key [${key.join(', ')}]: the backfill does not carry it`,
          item,
          lookups,
        );
      }
      if (watched.mutated.size > 0) {
        findings.add(
          'deterministic',
          'error',
          `changes the item it was given (${[...watched.mutated].join(', ')}): return the wanted values instead`,
          item,
          lookups,
        );
      }
      return outcome;
    };

    const first = derive(item, clock.a);
    if ('error' in first) {
      if (isMalformedDerivation(first.error)) malformedCount++;
      else
        findings.add(
          'malformed-only',
          'warning',
          `throws ${describeError(first.error)}: reject bad input with malformed(reason)`,
          item,
          lookups,
        );
      const again = derive(item, clock.b);
      if (!('error' in again) || describeError(again.error) !== describeError(first.error))
        findings.add(
          'deterministic',
          'error',
          `throws ${describeError(first.error)} once, then ${'error' in again ? `throws ${describeError(again.error)}` : `returns ${show(again.result)}`} on the same item`,
          item,
          lookups,
        );
      continue;
    }

    const result = first.result;
    if (!isResult(result)) {
      findings.add(
        'declared-writes',
        'error',
        result instanceof Promise
          ? 'returns a Promise: derive must be synchronous'
          : `returns ${show(result)}: expected an object of its writes, or null`,
        item,
        lookups,
      );
      continue;
    }
    const undeclared = Object.keys(result ?? {}).filter((k) => !writes.has(k));
    if (undeclared.length > 0)
      findings.add(
        'declared-writes',
        'error',
        `returns ${undeclared.map((k) => `"${k}"`).join(', ')}, not in writes [${m.writes.join(', ')}]`,
        item,
        lookups,
      );

    // Twice, under another clock and another random sequence: a derive that reads either
    // differs on the first item, not by luck of the millisecond.
    const second = derive(item, clock.b);
    if ('error' in second || !sameValue(second.result, result))
      findings.add(
        'deterministic',
        'error',
        `derived twice: ${show(result)}, then ${'error' in second ? `throws ${describeError(second.error)}` : show(second.result)}`,
        item,
        lookups,
      );

    if (result === null) continue;
    const applied = apply(item, result, writes);
    const next = derive(applied, clock.a);
    if ('error' in next) {
      findings.add(
        'idempotent',
        'error',
        `after its result ${show(result)} is applied, derive throws ${describeError(next.error)}`,
        item,
        lookups,
      );
    } else if (isResult(next.result) && next.result !== null) {
      const more = Object.entries(next.result).filter(
        ([k, v]) =>
          writes.has(k) && !(v === undefined ? !(k in applied) : sameValue(v, applied[k])),
      );
      if (more.length > 0)
        findings.add(
          'idempotent',
          'error',
          `after its result is applied, it wants another change: ${more
            .map(([k, v]) => `${k}: ${show(applied[k])} → ${show(v)}`)
            .join(', ')}`,
          item,
          lookups,
        );
    }
  }
  if (malformedCount === cases.length)
    findings.add(
      'derives-something',
      'warning',
      `rejects all ${cases.length} generated items with malformed(…): the other checks saw no result`,
    );
  return report(m, 'migration', cases.length, malformedCount, findings.outcomes(ITEM_CHECKS));
}

/**
 * A lookup's key, computed by the engine from the same carried item: it may read only the
 * inputs and the key, and must be null or exactly the looked-up table's key attributes.
 */
function checkLookupKey(
  l: LookupDef,
  item: Item,
  readable: ReadonlySet<string>,
  m: MigrationDef,
  clock: { a: Clock; b: Clock },
  findings: Findings,
): void {
  const of = `lookup "${l.name}"`;
  const run = (c: Clock): Outcome => {
    const watched = watch(item, readable);
    const outcome = c.run(() => {
      try {
        return { result: l.key(watched.item) as unknown };
      } catch (error) {
        return { error };
      }
    });
    for (const attr of watched.reads)
      findings.add(
        'declared-reads',
        'error',
        `${of}: key reads "${attr}", which is neither an input [${m.inputs.join(', ')}] nor the key [${(m.table.key as readonly string[]).join(', ')}]: the backfill does not carry it`,
        item,
      );
    return outcome;
  };
  const first = run(clock.a);
  const second = run(clock.b);
  if ('error' in first) {
    if (!isMalformedDerivation(first.error))
      findings.add(
        'lookup-key',
        'warning',
        `${of}: key throws ${describeError(first.error)}: return null when there is nothing to look up`,
        item,
      );
    return;
  }
  if ('error' in second || !sameValue(first.result, second.result)) {
    findings.add(
      'deterministic',
      'error',
      `${of}: key given twice: ${show(first.result)}, then ${'error' in second ? `throws ${describeError(second.error)}` : show(second.result)}`,
      item,
    );
  }
  const key = first.result;
  if (key === null) return;
  const wanted = l.table.key as readonly string[];
  if (!isPlainObject(key)) {
    findings.add(
      'lookup-key',
      'error',
      `${of}: key returns ${show(key)}: expected an object or null`,
      item,
    );
    return;
  }
  const missing = wanted.filter((a) => !(a in key));
  const extra = Object.keys(key).filter((a) => !wanted.includes(a));
  if (missing.length || extra.length) {
    findings.add(
      'lookup-key',
      'error',
      `${of}: key returns ${show(key)}, not the key [${wanted.join(', ')}] of table ${l.table.name}`,
      item,
    );
    return;
  }
  const bad = wanted.filter((a) => !isKeyValue(key[a]));
  if (bad.length)
    findings.add(
      'lookup-key',
      'warning',
      `${of}: key returns ${bad.map((a) => `${a}: ${show(key[a])}`).join(', ')}, not a key value (a non-empty string, a number or binary): return null when there is nothing to look up`,
      item,
    );
}

function isKeyValue(v: unknown): boolean {
  return (typeof v === 'string' && v !== '') || typeof v === 'number' || v instanceof Uint8Array;
}

const SEARCH_CHECKS: readonly CheckName[] = ['search-id', 'deterministic', 'declared-reads'];

function checkSearch(s: SearchDef, options: CheckOptions): MigrationCheck {
  const findings = new Findings();
  const clock = clocks();
  const key = s.table.key as readonly string[];
  const readable = new Set(key);
  const rand = prng(options.seed ?? 13);
  const keys = generateKeys(key, rand, options.items ?? 200);
  for (const item of keys) {
    const id = (at: Clock): Outcome => {
      const watched = watch(item, readable);
      const outcome = at.run(() => {
        try {
          return { result: s.id(watched.item as never) as unknown };
        } catch (error) {
          return { error };
        }
      });
      for (const attr of watched.reads)
        findings.add(
          'declared-reads',
          'error',
          `id reads "${attr}", which is not in the key [${key.join(', ')}]`,
          item,
        );
      return outcome;
    };
    const first = id(clock.a);
    if ('error' in first) {
      findings.add('search-id', 'error', `id throws ${describeError(first.error)}`, item);
      continue;
    }
    if (typeof first.result !== 'string' || first.result === '')
      findings.add('search-id', 'error', `id returns ${show(first.result)}`, item);
    const second = id(clock.b);
    if ('error' in second || second.result !== first.result)
      findings.add(
        'deterministic',
        'error',
        `id given twice: ${show(first.result)}, then ${'error' in second ? `throws ${describeError(second.error)}` : show(second.result)}`,
        item,
      );
  }
  return report(s, 'search', keys.length, 0, findings.outcomes(SEARCH_CHECKS));
}

function report(
  m: MigrationDef | SearchDef,
  kind: MigrationCheck['kind'],
  items: number,
  malformed: number,
  checks: CheckOutcome[],
): MigrationCheck {
  return {
    name: m.name,
    kind,
    table: m.table.name,
    items,
    malformed,
    checks,
    ok: checks.every((c) => c.level !== 'error'),
  };
}

type Outcome = { result: unknown } | { error: unknown };

function isResult(value: unknown): value is Item | null {
  return value === null || (isPlainObject(value) && !(value instanceof Promise));
}

/** The item after the engine wrote `result`: undefined removes, anything else sets. */
function apply(item: Item, result: Item, writes: ReadonlySet<string>): Item {
  const next = structuredClone(item);
  for (const [k, v] of Object.entries(result)) {
    if (!writes.has(k)) continue;
    if (v === undefined) delete next[k];
    else next[k] = structuredClone(v);
  }
  return next;
}

// --- watching a derive -------------------------------------------------------------------

// Read by the language itself (JSON.stringify, String(item), await), not as attributes.
const NOT_ATTRIBUTES = new Set([
  'toJSON',
  'then',
  'constructor',
  'toString',
  'valueOf',
  'toLocaleString',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__proto__',
]);

/** A copy of the item that notes reads outside `readable` and any change made to it. */
function watch(
  item: Item,
  readable: ReadonlySet<string>,
): { item: Item; reads: Set<string>; mutated: Set<string> } {
  const reads = new Set<string>();
  const mutated = new Set<string>();
  const note = (prop: string | symbol) => {
    if (typeof prop === 'string' && !readable.has(prop) && !NOT_ATTRIBUTES.has(prop))
      reads.add(prop);
  };
  const proxy = new Proxy(structuredClone(item), {
    get(target, prop, receiver) {
      note(prop);
      return Reflect.get(target, prop, receiver) as unknown;
    },
    has(target, prop) {
      note(prop);
      return Reflect.has(target, prop);
    },
    set(target, prop, value) {
      mutated.add(String(prop));
      return Reflect.set(target, prop, value);
    },
    deleteProperty(target, prop) {
      mutated.add(String(prop));
      return Reflect.deleteProperty(target, prop);
    },
  });
  return { item: proxy, reads, mutated };
}

/**
 * The clock and the random sources a derive could reach, fixed while it runs: clock A at the
 * time the check started and one random sequence, clock B a day and a millisecond later with
 * the complementary sequence. Derives are synchronous, so the globals are back before anything else runs.
 */
interface Clock {
  run<T>(fn: () => T): T;
}

function fixedClock(now: number, random: (i: number) => number): Clock {
  return {
    run<T>(fn: () => T): T {
      const g = globalThis as { Date: DateConstructor };
      const RealDate = Date;
      const realRandom = Math.random;
      const perf = globalThis.performance as object | undefined;
      const crypto = globalThis.crypto as object | undefined;
      let draws = 0;
      class FixedDate extends RealDate {
        constructor(...args: unknown[]) {
          if (args.length === 0) super(now);
          else super(...(args as [string]));
        }
        static override now(): number {
          return now;
        }
      }
      g.Date = FixedDate as DateConstructor;
      Math.random = () => random(draws++);
      const restorePerf = perf && override(perf, 'now', () => now);
      const restoreUuid = crypto && override(crypto, 'randomUUID', () => uuidOf(random(draws++)));
      try {
        return fn();
      } finally {
        g.Date = RealDate;
        Math.random = realRandom;
        restorePerf?.();
        restoreUuid?.();
      }
    },
  };
}

/** Shadows a method with an own property; the returned function puts back what was there. */
function override(target: object, name: string, value: unknown): () => void {
  const own = Object.getOwnPropertyDescriptor(target, name);
  Object.defineProperty(target, name, { value, configurable: true, writable: true });
  return () => {
    if (own) Object.defineProperty(target, name, own);
    else delete (target as Record<string, unknown>)[name];
  };
}

function uuidOf(r: number): string {
  const hex = Math.floor(r * 2 ** 48)
    .toString(16)
    .padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

const SEQUENCE = (i: number) => ((i + 1) * 0.6180339887498949) % 1;

/** The two clocks of one check: each the same on every call, so only the derive can differ. */
function clocks(): { a: Clock; b: Clock } {
  const now = Date.now();
  return {
    a: fixedClock(now, SEQUENCE),
    b: fixedClock(now + 86_400_001, (i) => 1 - SEQUENCE(i)),
  };
}

// --- generated items ---------------------------------------------------------------------

type Kind = 'absent' | 'string' | 'number' | 'boolean' | 'map' | 'list' | 'empty string';
const KINDS: readonly Kind[] = [
  'absent',
  'string',
  'number',
  'boolean',
  'map',
  'list',
  'empty string',
];
const ABSENT = Symbol('absent');

const pick = <T>(rand: () => number, list: readonly T[]): T =>
  list[Math.floor(rand() * list.length)]!;

const STRINGS = ['a', 'pika', 'chat-app', 'user', 'component', 'global', 'x#y', 'ÄÖ ü'];

function valueOf(kind: Kind, rand: () => number): unknown {
  switch (kind) {
    case 'absent':
      return ABSENT;
    case 'string':
      return rand() < 0.3
        ? new Date(Date.UTC(2020, 0, 1) + Math.floor(rand() * 2e11)).toISOString()
        : `${pick(rand, STRINGS)}${rand() < 0.5 ? '' : Math.floor(rand() * 1000)}`;
    case 'number':
      return pick(rand, [0, 1, -1, 42, 1.5, 1_700_000_000, Math.floor(rand() * 1e6)]);
    case 'boolean':
      return rand() < 0.5;
    case 'map':
      return { s: pick(rand, STRINGS), n: Math.floor(rand() * 100) };
    case 'list':
      return [pick(rand, STRINGS), Math.floor(rand() * 100)];
    case 'empty string':
      return '';
  }
}

function itemOf(entries: Iterable<[string, unknown]>): Item {
  const item: Item = {};
  for (const [k, v] of entries) if (v !== ABSENT) item[k] = v;
  return item;
}

/**
 * For every attribute and every value kind, one item with it (the others a string or a
 * number), then `random` items of independent kinds, then the all-absent item.
 */
function generateItems(attrs: readonly string[], rand: () => number, random: number): Item[] {
  const usual = () => valueOf(rand() < 0.7 ? 'string' : 'number', rand);
  const items: Item[] = [];
  for (const attr of attrs)
    for (const kind of KINDS)
      items.push(itemOf(attrs.map((a) => [a, a === attr ? valueOf(kind, rand) : usual()])));
  for (let i = 0; i < random; i++)
    items.push(itemOf(attrs.map((a) => [a, valueOf(pick(rand, KINDS), rand)])));
  items.push({});
  return items;
}

/** Keys as DynamoDB has them: every key attribute present, a non-empty string or a number. */
function generateKeys(key: readonly string[], rand: () => number, count: number): Item[] {
  return Array.from({ length: count }, () =>
    itemOf(key.map((a) => [a, rand() < 0.6 ? valueOf('string', rand) : Math.floor(rand() * 1e9)])),
  );
}

/** Per declared lookup: nothing found (a third of the time), else its attributes generated. */
function generateLookups(lookups: readonly LookupDef[], rand: () => number): Lookups {
  return Object.fromEntries(
    lookups.map((l) => [
      l.name,
      rand() < 1 / 3
        ? null
        : itemOf(l.attributes.map((a) => [a, valueOf(pick(rand, KINDS), rand)])),
    ]),
  );
}

// --- comparing and showing values --------------------------------------------------------

function isPlainObject(value: unknown): value is Item {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Structural equality; `{ a: undefined }` (remove a) differs from `{}` (leave a). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set) || !(b instanceof Set) || a.size !== b.size) return false;
    return [...a].every((v) => [...b].some((w) => sameValue(v, w)));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Item)[k], (b as Item)[k]),
  );
}

function presentOnly(item: Item): Item {
  return itemOf(Object.entries(item));
}

/** A value as the report shows it: JSON, with undefined and non-JSON values named. */
function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (value instanceof Promise) return 'a Promise';
  try {
    return (
      JSON.stringify(value, (_k, v: unknown) =>
        v === undefined ? '(undefined)' : typeof v === 'bigint' ? `${v}n` : v,
      ) ?? String(value)
    );
  } catch {
    return String(value);
  }
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : show(e);
}
