// Where the local stream mapping remembers how far each shard was acknowledged.
// A checkpoint is the sequence number of the last record that is done (processed, or parked
// on the on-failure destination); a restart resumes AFTER_SEQUENCE_NUMBER of it. A shard read
// to its end is saved as SHARD_END (the Kinesis Client Library's sentinel) and never re-read;
// a shard pinned before it held any record is saved as SHARD_START (read it from its beginning).

import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Checkpoint value of a shard that was read to its end. */
export const SHARD_END = 'SHARD_END';

/**
 * Checkpoint value of a shard whose position was fixed while it held no record (LATEST on an
 * empty shard): everything it will ever hold comes after the consumer started.
 */
export const SHARD_START = 'SHARD_START';

export interface CheckpointStore {
  /** shardId -> last acknowledged sequence number (or SHARD_END / SHARD_START). Empty when the stream is new. */
  load(streamArn: string): Promise<Record<string, string>>;
  save(streamArn: string, shardId: string, sequenceNumber: string): Promise<void>;
}

/** In-process only: the default, and handy for tests. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly streams = new Map<string, Record<string, string>>();

  async load(streamArn: string): Promise<Record<string, string>> {
    return { ...(this.streams.get(streamArn) ?? {}) };
  }

  async save(streamArn: string, shardId: string, sequenceNumber: string): Promise<void> {
    const shards = this.streams.get(streamArn) ?? {};
    shards[shardId] = sequenceNumber;
    this.streams.set(streamArn, shards);
  }
}

interface CheckpointFile {
  streamArn: string;
  updatedAt: string;
  shards: Record<string, string>;
}

/**
 * One JSON file per stream in `dir`, replaced atomically (write a temp file, then rename) so a
 * crash leaves either the old or the new checkpoint, never a torn one. Saves to one stream are
 * serialized; the last save wins on disk.
 */
export class FileCheckpointStore implements CheckpointStore {
  private readonly cache = new Map<string, Record<string, string>>();
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {}

  /** `<dir>/<table>-<label>-<hash>.json`: readable, and unique per stream ARN. */
  fileFor(streamArn: string): string {
    const hash = createHash('sha256').update(streamArn).digest('hex').slice(0, 12);
    const readable = streamArn
      .replace(/^arn:aws:dynamodb:[^:]*:[^:]*:table\//, '')
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .slice(0, 100);
    return join(this.dir, `${readable}-${hash}.json`);
  }

  async load(streamArn: string): Promise<Record<string, string>> {
    const cached = this.cache.get(streamArn);
    if (cached) return { ...cached };
    let shards: Record<string, string> = {};
    try {
      const parsed = JSON.parse(
        await readFile(this.fileFor(streamArn), 'utf8'),
      ) as Partial<CheckpointFile>;
      if (parsed.streamArn === streamArn && parsed.shards && typeof parsed.shards === 'object')
        shards = { ...parsed.shards };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.cache.set(streamArn, shards);
    return { ...shards };
  }

  async save(streamArn: string, shardId: string, sequenceNumber: string): Promise<void> {
    if (!this.cache.has(streamArn)) await this.load(streamArn);
    const shards = this.cache.get(streamArn) ?? {};
    this.cache.set(streamArn, shards);
    shards[shardId] = sequenceNumber;
    const content: CheckpointFile = {
      streamArn,
      updatedAt: new Date().toISOString(),
      shards: { ...shards },
    };
    const previous = this.writes.get(streamArn) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => this.writeAtomically(this.fileFor(streamArn), content));
    this.writes.set(streamArn, next);
    await next;
  }

  private async writeAtomically(file: string, content: CheckpointFile): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, 'utf8');
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
