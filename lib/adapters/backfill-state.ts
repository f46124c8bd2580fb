// Durable backfill state: the run record, per-segment checkpoints and the stream consumer's
// heartbeat, in a small DynamoDB table (default) or a local JSON file (--checkpoint-file).
// Checkpoint writes are conditional on owning the run, so two scanners never both advance it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  TransactionCanceledException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import {
  checkNewRunAllowed,
  isUnfinished,
  RunOwnershipError,
  RunStateError,
  type ConsumerHeartbeat,
  type RunLimits,
  type RunRecord,
  type RunStatus,
  type SegmentCheckpoint,
  type SetMismatchNote,
} from '../core/backfill-run.ts';

/** Same contract for the DynamoDB table and the file. */
export interface BackfillStateStore {
  /** The current run of a table, if one was ever started. */
  getRun(tableName: string): Promise<RunRecord | undefined>;
  /**
   * Makes `run` the table's current run. Refuses (RunStateError) while an unfinished run exists,
   * unless `restart`: the old run is then replaced and its scanner loses ownership.
   */
  startRun(run: RunRecord, options?: { restart?: boolean; nowMs?: number }): Promise<void>;
  /**
   * Takes over an unfinished run for `owner` (resume after the previous scanner stopped).
   * `expectedOwner` is the owner the caller read: if another scanner claimed it meanwhile,
   * RunOwnershipError, so two resumes never both proceed.
   */
  claimRun(
    tableName: string,
    runId: string,
    owner: string,
    expectedOwner: string,
  ): Promise<RunRecord>;
  /** The owner marks its run finished (or paused/running); others get RunOwnershipError. */
  setStatus(tableName: string, runId: string, owner: string, status: RunStatus): Promise<void>;
  /** `backfill pause|resume`: any operator may set it; no ownership needed. */
  setPauseRequested(tableName: string, paused: boolean): Promise<RunRecord>;
  /**
   * `backfill set`: replaces the limits of the table's unfinished run (any operator; no
   * ownership). Returns the record before and after; RunStateError when no run is unfinished.
   */
  setLimits(tableName: string, limits: RunLimits): Promise<{ before: RunRecord; after: RunRecord }>;
  /** Saves a segment's checkpoint iff `owner` still owns the unfinished run `cp.runId`. */
  saveCheckpoint(tableName: string, owner: string, cp: SegmentCheckpoint): Promise<void>;
  getCheckpoints(runId: string): Promise<SegmentCheckpoint[]>;
  putHeartbeat(hb: ConsumerHeartbeat): Promise<void>;
  getHeartbeat(component: string): Promise<ConsumerHeartbeat | undefined>;
  /** The backfill worker records the newest migration-set mismatch of a table (last wins). */
  putSetMismatch(note: SetMismatchNote): Promise<void>;
  getSetMismatch(tableName: string): Promise<SetMismatchNote | undefined>;
  /** The stream consumer saw the gate's canary `nonce` in the stream of `tableName`. */
  putCanarySeen(tableName: string, nonce: string, atMs: number): Promise<void>;
  /** When the consumer saw canary `nonce`, if it did. */
  getCanarySeen(tableName: string, nonce: string): Promise<number | undefined>;
}

/** A scanner instance id: host-independent, unique enough to tell two scanners apart. */
export function newOwnerId(): string {
  return `scanner-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function ownershipError(
  tableName: string,
  runId: string,
  owner: string,
  current: RunRecord | undefined,
): RunOwnershipError {
  const why = !current
    ? 'no run exists any more'
    : current.runId !== runId
      ? `run ${current.runId} replaced it`
      : current.owner !== owner
        ? `scanner ${current.owner} owns it now`
        : `it is ${current.status}`;
  return new RunOwnershipError(
    `backfill of ${tableName}: scanner ${owner} no longer owns run ${runId} (${why}); it stops without writing`,
  );
}

// ---------------------------------------------------------------------------------------------
// DynamoDB table

const runPk = (tableName: string): string => `table#${tableName}`;
const RUN_SK = 'run';
const cpPk = (runId: string): string => `run#${runId}`;
const cpSk = (segment: number): string => `segment#${String(segment).padStart(6, '0')}`;
const hbPk = (component: string): string => `consumer#${component}`;
const canaryPk = (tableName: string): string => `canary#${tableName}`;
const HB_SK = 'heartbeat';
const MISMATCH_SK = 'migration-set-mismatch';

/** Creates the state table (pk, sk strings, on-demand) when missing; waits until it is active. */
export async function ensureStateTable(
  dynamodb: DynamoDBClient,
  TableName: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    try {
      const t = await dynamodb.send(new DescribeTableCommand({ TableName }));
      if (t.Table?.TableStatus === 'ACTIVE') return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    if (Date.now() > deadline) throw new Error(`state table ${TableName} did not become ACTIVE`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function toRun(item: Record<string, unknown> | undefined): RunRecord | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as RunRecord;
}

export class DynamoStateStore implements BackfillStateStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async getRun(tableName: string): Promise<RunRecord | undefined> {
    const r = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(tableName), sk: RUN_SK },
        ConsistentRead: true,
      }),
    );
    return toRun(r.Item);
  }

  async startRun(
    run: RunRecord,
    options: { restart?: boolean; nowMs?: number } = {},
  ): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: runPk(run.tableName), sk: RUN_SK, ...strip(run) },
          ...(!options.restart && {
            ConditionExpression: 'attribute_not_exists(pk) OR NOT (#s IN (:running, :paused))',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':running': 'running', ':paused': 'paused' },
          }),
        }),
      );
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      checkNewRunAllowed(await this.getRun(run.tableName), {
        restart: false,
        nowMs: options.nowMs ?? Date.now(),
      });
      throw e; // the run finished between the write and the read: let the caller retry
    }
  }

  // One conditional update of the run record, owned by `owner`; RunOwnershipError otherwise.
  private async updateOwned(
    tableName: string,
    runId: string,
    owner: string,
    set: Record<string, unknown>,
    ownerCondition = owner,
  ): Promise<RunRecord> {
    const names: Record<string, string> = { '#runId': 'runId', '#owner': 'owner', '#s': 'status' };
    const values: Record<string, unknown> = {
      ':runId': runId,
      ':expected': ownerCondition,
      ':running': 'running',
      ':paused': 'paused',
    };
    const sets = Object.entries(set).map(([k, v], i) => {
      names[`#a${i}`] = k;
      values[`:a${i}`] = v;
      return `#a${i} = :a${i}`;
    });
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tableName), sk: RUN_SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression:
            '#runId = :runId AND #owner = :expected AND #s IN (:running, :paused)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRun(r.Attributes) as RunRecord;
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      throw ownershipError(tableName, runId, ownerCondition, await this.getRun(tableName));
    }
  }

  async claimRun(
    tableName: string,
    runId: string,
    owner: string,
    expectedOwner: string,
  ): Promise<RunRecord> {
    return this.updateOwned(
      tableName,
      runId,
      owner,
      { owner, updatedAtMs: Date.now() },
      expectedOwner,
    );
  }

  async setStatus(
    tableName: string,
    runId: string,
    owner: string,
    status: RunStatus,
  ): Promise<void> {
    await this.updateOwned(tableName, runId, owner, { status, updatedAtMs: Date.now() });
  }

  async setPauseRequested(tableName: string, paused: boolean): Promise<RunRecord> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tableName), sk: RUN_SK },
          UpdateExpression: 'SET pauseRequested = :p',
          ConditionExpression: '#s IN (:running, :paused)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':p': paused, ':running': 'running', ':paused': 'paused' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRun(r.Attributes) as RunRecord;
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      throw new RunStateError(
        `backfill of ${tableName}: no unfinished run to ${paused ? 'pause' : 'resume'}`,
      );
    }
  }

  async setLimits(
    tableName: string,
    limits: RunLimits,
  ): Promise<{ before: RunRecord; after: RunRecord }> {
    try {
      const r = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: runPk(tableName), sk: RUN_SK },
          UpdateExpression: 'SET limits = :l',
          ConditionExpression: '#s IN (:running, :paused)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':l': strip(limits),
            ':running': 'running',
            ':paused': 'paused',
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const before = toRun(r.Attributes) as RunRecord;
      return { before, after: { ...before, limits: strip(limits) } };
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      throw new RunStateError(`backfill of ${tableName}: no unfinished run to change`);
    }
  }

  async saveCheckpoint(tableName: string, owner: string, cp: SegmentCheckpoint): Promise<void> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { pk: runPk(tableName), sk: RUN_SK },
                ConditionExpression:
                  '#runId = :runId AND #owner = :owner AND #s IN (:running, :paused)',
                ExpressionAttributeNames: { '#runId': 'runId', '#owner': 'owner', '#s': 'status' },
                ExpressionAttributeValues: {
                  ':runId': cp.runId,
                  ':owner': owner,
                  ':running': 'running',
                  ':paused': 'paused',
                },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { pk: cpPk(cp.runId), sk: cpSk(cp.segment), ...strip(cp) },
              },
            },
          ],
        }),
      );
    } catch (e) {
      if (!(e instanceof TransactionCanceledException)) throw e;
      if (e.CancellationReasons?.[0]?.Code !== 'ConditionalCheckFailed') throw e;
      throw ownershipError(tableName, cp.runId, owner, await this.getRun(tableName));
    }
  }

  async getCheckpoints(runId: string): Promise<SegmentCheckpoint[]> {
    const out: SegmentCheckpoint[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const r = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': cpPk(runId) },
          ConsistentRead: true,
          ...(ExclusiveStartKey && { ExclusiveStartKey }),
        }),
      );
      for (const { pk: _pk, sk: _sk, ...cp } of r.Items ?? []) out.push(cp as SegmentCheckpoint);
      ExclusiveStartKey = r.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return out.sort((a, b) => a.segment - b.segment);
  }

  async putHeartbeat(hb: ConsumerHeartbeat): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: hbPk(hb.component), sk: HB_SK, ...hb },
      }),
    );
  }

  async putCanarySeen(tableName: string, nonce: string, atMs: number): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: canaryPk(tableName), sk: nonce, seenAtMs: atMs },
      }),
    );
  }

  async getCanarySeen(tableName: string, nonce: string): Promise<number | undefined> {
    const r = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: canaryPk(tableName), sk: nonce },
        ConsistentRead: true,
      }),
    );
    return r.Item?.seenAtMs as number | undefined;
  }

  async getHeartbeat(component: string): Promise<ConsumerHeartbeat | undefined> {
    const r = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: hbPk(component), sk: HB_SK },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ...hb } = r.Item;
    return hb as ConsumerHeartbeat;
  }

  async putSetMismatch(note: SetMismatchNote): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: runPk(note.tableName), sk: MISMATCH_SK, ...note },
      }),
    );
  }

  async getSetMismatch(tableName: string): Promise<SetMismatchNote | undefined> {
    const r = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: runPk(tableName), sk: MISMATCH_SK },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return undefined;
    const { pk: _pk, sk: _sk, ...note } = r.Item;
    return note as SetMismatchNote;
  }
}

// ---------------------------------------------------------------------------------------------
// File (--checkpoint-file)

interface FileState {
  version: 1;
  runs: Record<string, RunRecord>;
  checkpoints: Record<string, Record<string, SegmentCheckpoint>>;
  heartbeats: Record<string, ConsumerHeartbeat>;
  mismatches?: Record<string, SetMismatchNote>;
  /** `tableName` → nonce → when the consumer saw it. */
  canaries?: Record<string, Record<string, number>>;
}

/**
 * The same store in one JSON file, rewritten atomically (temp file + rename) on every change so
 * a crash leaves the old or the new state, never half of one. Ownership is checked like the
 * table's, by read-modify-write: safe for one process; two processes on one file are not
 * serialised (use the DynamoDB store for that).
 */
export class FileStateStore implements BackfillStateStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  private async load(): Promise<FileState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        return { version: 1, runs: {}, checkpoints: {}, heartbeats: {} };
      }
      throw e;
    }
    let state: FileState;
    try {
      state = JSON.parse(text) as FileState;
    } catch (e) {
      throw new Error(`checkpoint file ${this.path} is not valid JSON (${(e as Error).message})`);
    }
    if (state?.version !== 1 || typeof state.runs !== 'object') {
      throw new Error(`checkpoint file ${this.path} is not a streamfill state file (version 1)`);
    }
    return state;
  }

  private async save(state: FileState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
    await rename(tmp, this.path);
  }

  // Serialises this process's read-modify-write cycles.
  private update<T>(fn: (s: FileState) => T | Promise<T>): Promise<T> {
    const next = this.chain.then(async () => {
      const state = await this.load();
      const result = await fn(state);
      await this.save(state);
      return result;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private read<T>(fn: (s: FileState) => T): Promise<T> {
    const next = this.chain.then(async () => fn(await this.load()));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private owned(s: FileState, tableName: string, runId: string, owner: string): RunRecord {
    const run = s.runs[tableName];
    if (!run || run.runId !== runId || run.owner !== owner || !isUnfinished(run)) {
      throw ownershipError(tableName, runId, owner, run);
    }
    return run;
  }

  getRun(tableName: string): Promise<RunRecord | undefined> {
    return this.read((s) => s.runs[tableName]);
  }

  startRun(run: RunRecord, options: { restart?: boolean; nowMs?: number } = {}): Promise<void> {
    return this.update((s) => {
      checkNewRunAllowed(s.runs[run.tableName], {
        restart: options.restart ?? false,
        nowMs: options.nowMs ?? Date.now(),
      });
      s.runs[run.tableName] = strip(run);
    });
  }

  claimRun(
    tableName: string,
    runId: string,
    owner: string,
    expectedOwner: string,
  ): Promise<RunRecord> {
    return this.update((s) => {
      const run = this.owned(s, tableName, runId, expectedOwner);
      run.owner = owner;
      run.updatedAtMs = Date.now();
      return { ...run };
    });
  }

  setStatus(tableName: string, runId: string, owner: string, status: RunStatus): Promise<void> {
    return this.update((s) => {
      const run = this.owned(s, tableName, runId, owner);
      run.status = status;
      run.updatedAtMs = Date.now();
    });
  }

  setPauseRequested(tableName: string, paused: boolean): Promise<RunRecord> {
    return this.update((s) => {
      const run = s.runs[tableName];
      if (!run || !isUnfinished(run)) {
        throw new RunStateError(
          `backfill of ${tableName}: no unfinished run to ${paused ? 'pause' : 'resume'}`,
        );
      }
      run.pauseRequested = paused;
      return { ...run };
    });
  }

  setLimits(
    tableName: string,
    limits: RunLimits,
  ): Promise<{ before: RunRecord; after: RunRecord }> {
    return this.update((s) => {
      const run = s.runs[tableName];
      if (!run || !isUnfinished(run)) {
        throw new RunStateError(`backfill of ${tableName}: no unfinished run to change`);
      }
      const before = structuredClone(run);
      run.limits = strip(limits);
      return { before, after: { ...run } };
    });
  }

  saveCheckpoint(tableName: string, owner: string, cp: SegmentCheckpoint): Promise<void> {
    return this.update((s) => {
      this.owned(s, tableName, cp.runId, owner);
      (s.checkpoints[cp.runId] ??= {})[String(cp.segment)] = strip(cp);
    });
  }

  getCheckpoints(runId: string): Promise<SegmentCheckpoint[]> {
    return this.read((s) =>
      Object.values(s.checkpoints[runId] ?? {}).sort((a, b) => a.segment - b.segment),
    );
  }

  putHeartbeat(hb: ConsumerHeartbeat): Promise<void> {
    return this.update((s) => {
      s.heartbeats[hb.component] = hb;
    });
  }

  getHeartbeat(component: string): Promise<ConsumerHeartbeat | undefined> {
    return this.read((s) => s.heartbeats[component]);
  }

  putSetMismatch(note: SetMismatchNote): Promise<void> {
    return this.update((s) => {
      (s.mismatches ??= {})[note.tableName] = note;
    });
  }

  getSetMismatch(tableName: string): Promise<SetMismatchNote | undefined> {
    return this.read((s) => s.mismatches?.[tableName]);
  }

  putCanarySeen(tableName: string, nonce: string, atMs: number): Promise<void> {
    return this.update((s) => {
      ((s.canaries ??= {})[tableName] ??= {})[nonce] = atMs;
    });
  }

  getCanarySeen(tableName: string, nonce: string): Promise<number | undefined> {
    return this.read((s) => s.canaries?.[tableName]?.[nonce]);
  }
}
