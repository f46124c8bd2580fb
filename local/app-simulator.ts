// A stand-in for a running pre-migration Pika deployment: it writes sessions the old way
// (no source default, no chat_app_sk, no user_type) and indexes their search documents,
// so the live path has real application traffic to migrate. Used by the demo, the
// benchmark and the integration tests.
import {
  DeleteCommand,
  PutCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import { prng } from '../lib/core/prng.ts';
import { pick, userId } from './legacy-data.ts';
import type { Item } from '../lib/core/types.ts';

export type AppWriteKind =
  'insert' | 'chat_app_id' | 'last_update' | 'source' | 'title' | 'put' | 'delete';

export interface AppWrite {
  kind: AppWriteKind;
  key: { user_id: string; session_id: string };
  /** performance.now() when the write was acknowledged by DynamoDB. */
  at: number;
  /** The item's app-owned state after the write (undefined after a delete). */
  item?: Item;
}

export interface AppSimulatorOptions {
  doc: DynamoDBDocumentClient;
  sessionTable: string;
  search?: { client: Client; index: string };
  users: number;
  seed?: number;
  idPrefix?: string;
}

const SOURCES = [undefined, 'user', 'component', 'component-as-user'];

export class AppSimulator {
  /** Current app-owned state of every live session, by session_id. */
  readonly live = new Map<string, Item>();
  readonly writes: AppWrite[] = [];
  private readonly rnd: () => number;
  private n = 0;

  constructor(private readonly o: AppSimulatorOptions) {
    this.rnd = prng(o.seed ?? 42);
  }

  private now(): string {
    // Strictly increasing timestamps: every update really changes last_update.
    return new Date(Date.now() + this.n++).toISOString();
  }

  async insert(overrides: Item = {}): Promise<AppWrite> {
    const id = `${this.o.idPrefix ?? 'live'}-${String(this.n).padStart(7, '0')}-${Math.floor(this.rnd() * 1e6)}`;
    const item: Item = {
      user_id: userId(Math.floor(this.rnd() * this.o.users)),
      session_id: id,
      chat_app_id: `app-${Math.floor(this.rnd() * 8)}`,
      last_update: this.now(),
      title: `Live conversation ${id}`,
      invocation_mode: pick(this.rnd, ['chat-app', 'embedded']),
      exp_date_unix_seconds: Math.floor(Date.now() / 1000) + 86_400 * 30,
      ...overrides,
    };
    const source = pick(this.rnd, SOURCES);
    if (source && !('source' in overrides)) item.source = source;
    await this.index(item);
    await this.o.doc.send(new PutCommand({ TableName: this.o.sessionTable, Item: item }));
    return this.record('insert', item);
  }

  /** Changes one input of a live session the way the old app version would. */
  async update(
    sessionId: string,
    kind: Exclude<AppWriteKind, 'insert' | 'delete'>,
  ): Promise<AppWrite> {
    const current = this.live.get(sessionId);
    if (!current) throw new Error(`no live session ${sessionId}`);
    const next: Item = { ...current, last_update: this.now() };
    if (kind === 'chat_app_id') next.chat_app_id = `app-${Math.floor(this.rnd() * 8)}`;
    if (kind === 'source') next.source = pick(this.rnd, ['user', 'component', 'component-as-user']);
    if (kind === 'title') next.title = `Renamed ${this.n}`;
    await this.index(next);
    if (kind === 'put') {
      // The old app rewrites the whole item: derived attributes vanish and must come back.
      await this.o.doc.send(new PutCommand({ TableName: this.o.sessionTable, Item: next }));
    } else {
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {};
      const sets = Object.entries(next)
        .filter(([k, v]) => current[k] !== v && k !== 'user_id' && k !== 'session_id')
        .map(([k, v], i) => {
          names[`#n${i}`] = k;
          values[`:v${i}`] = v;
          return `#n${i} = :v${i}`;
        });
      await this.o.doc.send(
        new UpdateCommand({
          TableName: this.o.sessionTable,
          Key: { user_id: next.user_id, session_id: next.session_id },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    }
    return this.record(kind, next);
  }

  async remove(sessionId: string): Promise<AppWrite> {
    const current = this.live.get(sessionId);
    if (!current) throw new Error(`no live session ${sessionId}`);
    await this.o.doc.send(
      new DeleteCommand({
        TableName: this.o.sessionTable,
        Key: { user_id: current.user_id, session_id: current.session_id },
      }),
    );
    this.live.delete(sessionId);
    const w: AppWrite = { kind: 'delete', key: keyOf(current), at: performance.now() };
    this.writes.push(w);
    return w;
  }

  /** One random application action: mostly updates, some inserts and deletes. */
  async step(): Promise<AppWrite> {
    const r = this.rnd();
    const ids = [...this.live.keys()];
    if (ids.length < 10 || r < 0.25) return this.insert();
    const id = pick(this.rnd, ids);
    if (r < 0.3) return this.remove(id);
    return this.update(
      id,
      pick(this.rnd, ['chat_app_id', 'last_update', 'source', 'title', 'put'] as const),
    );
  }

  private record(kind: AppWriteKind, item: Item): AppWrite {
    this.live.set(item.session_id as string, item);
    const w: AppWrite = { kind, key: keyOf(item), at: performance.now(), item };
    this.writes.push(w);
    return w;
  }

  /** Pika's own indexer keeps the document's base fields; it knows nothing of keywords. */
  private async index(item: Item): Promise<void> {
    if (!this.o.search) return;
    const { session_id, user_id, chat_app_id, title, last_update, invocation_mode, source } = item;
    await this.o.search.client.index({
      index: this.o.search.index,
      id: String(session_id),
      body: { session_id, user_id, chat_app_id, title, last_update, invocation_mode, source },
    });
  }
}

function keyOf(item: Item): { user_id: string; session_id: string } {
  return { user_id: item.user_id as string, session_id: item.session_id as string };
}
