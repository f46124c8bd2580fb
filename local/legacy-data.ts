// Deterministic Pika-shaped legacy fixtures (users, sessions, tags) for seeding and tests.
import { prng } from '../lib/core/prng.ts';
import type { Item } from '../lib/core/types.ts';

/**
 * Deterministic Pika-shaped legacy data for `seed`, the demo and benchmarks: what a
 * pre-0.5 / pre-0.11 deployment holds, with a share already migrated and a few broken rows.
 */
export interface LegacyDataOptions {
  sessions: number;
  users: number;
  /** Share of sessions already in their migrated shape (0..1). */
  migratedFraction?: number;
  /** Number of malformed sessions (missing or mistyped inputs). */
  malformed?: number;
  seed?: number;
  /** Epoch seconds used for TTLs and timestamps. */
  nowSeconds?: number;
}

const USER_TYPES = ['internal-user', 'external-user'];
const SOURCES = [undefined, undefined, 'user', 'component', 'component-as-user'];
const MODES = ['chat-app', 'embedded', 'direct-agent-invoke', undefined];

export function userId(i: number): string {
  return `user-${String(i).padStart(5, '0')}`;
}

export function legacyUsers(opts: Pick<LegacyDataOptions, 'users' | 'seed'>): Item[] {
  const rnd = prng((opts.seed ?? 1) * 7919);
  return Array.from({ length: opts.users }, (_, i) => {
    const r = rnd();
    // Some users predate user types: their sessions fall back to 'external-user'.
    return r < 0.1
      ? { user_id: userId(i) }
      : { user_id: userId(i), user_type: USER_TYPES[r < 0.55 ? 0 : 1] };
  });
}

export function pick<T>(rnd: () => number, values: readonly T[]): T {
  return values[Math.floor(rnd() * values.length)] as T;
}

export function legacySessions(opts: LegacyDataOptions): Item[] {
  const rnd = prng(opts.seed ?? 1);
  const now = opts.nowSeconds ?? 1_790_000_000;
  const migrated = Math.round(opts.sessions * (opts.migratedFraction ?? 0));
  const malformed = Math.min(opts.malformed ?? 0, opts.sessions - migrated);
  return Array.from({ length: opts.sessions }, (_, i) => {
    // One in 20 sessions belongs to a user missing from the user table.
    const user = rnd() < 0.05 ? `ghost-${i}` : userId(Math.floor(rnd() * Math.max(1, opts.users)));
    const chatAppId = `app-${Math.floor(rnd() * 8)}`;
    const lastUpdate = new Date((now - Math.floor(rnd() * 86_400 * 90)) * 1000).toISOString();
    const item: Item = {
      user_id: user,
      session_id: `sess-${String(i).padStart(7, '0')}`,
      chat_app_id: chatAppId,
      last_update: lastUpdate,
      title: `Conversation ${i}`,
      exp_date_unix_seconds: now + 86_400 * 365,
    };
    const mode = pick(rnd, MODES);
    if (mode) item.invocation_mode = mode;
    const source = pick(rnd, SOURCES);
    if (i < migrated) {
      const s = source ?? 'user';
      item.source = s;
      item.chat_app_sk = `${chatAppId}#${s === 'component' ? 'component' : 'user'}#${lastUpdate}`;
      item.user_type = pick(rnd, USER_TYPES);
    } else if (source) {
      item.source = source;
    }
    if (i >= opts.sessions - malformed) {
      const kind = (opts.sessions - 1 - i) % 3;
      if (kind === 0) delete item.chat_app_id;
      else if (kind === 1) item.last_update = Number(now);
      else delete item.last_update;
    }
    return item;
  });
}

/** Pika 0.4 tag definitions: chat_app_id, no usage_mode. */
export function legacyTags(): Item[] {
  const tags: Item[] = [];
  for (const tag of ['chart', 'image', 'prompt', 'download']) {
    tags.push({ scope: 'pika', tag, chat_app_id: 'chat-app-global', status: 'enabled' });
  }
  for (let app = 0; app < 4; app++) {
    for (const tag of ['faq', 'weather', 'chart']) {
      tags.push({ scope: `app-${app}`, tag, chat_app_id: `app-${app}`, status: 'enabled' });
    }
  }
  return tags;
}
