// The proof half of "consumer first": a consumer that is running and caught up by its own
// account (heartbeat, or an Enabled mapping with a low IteratorAge) may still not read the
// stream — AWS positions a new mapping at LATEST some time after it shows Enabled, and writes
// made meanwhile are never delivered. So `backfill` writes a canary item and starts only once
// the consumer has recorded that very record in the state table.
import { randomBytes, randomInt } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import { deleteCanary, writeCanary } from '../adapters/canary.ts';
import { CANARY_PARTITION, CANARY_TTL_SECONDS, canaryKey } from '../core/canary.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyAttributeTypes } from '../adapters/tables.ts';
import type { TableDef } from '../core/config/define.ts';
import type { Key, KeyValue } from '../core/types.ts';

export interface CanaryGate {
  doc: DynamoDBDocumentClient;
  /** The declared migrated table the consumer reads the stream of (its key shape and TTL). */
  table: TableDef;
  tableName: string;
  state: Pick<BackfillStateStore, 'getCanarySeen'>;
  /** Said while waiting, e.g. how to turn the canary off for a consumer that cannot record it. */
  hint?: string;
}

export interface Canary {
  key: Key;
  nonce: string;
  writtenAtMs: number;
}

/** The DynamoDB type of the table's sort key ('S', 'N' or 'B'), or undefined without one. */
export type SortKeyType = 'S' | 'N' | 'B' | undefined;

/**
 * A fresh nonce as a value of the sort key's type, and its text as the consumer records it
 * (`canaryNonce` reads `String(key[sk])`): a timestamped string, a timestamp-based number that
 * stays exact (< 2^53), or the string's bytes.
 */
function nonceOf(nowMs: number, type: SortKeyType): { value: KeyValue; text: string } {
  if (type === 'N') {
    const value = nowMs * 1000 + randomInt(1000);
    return { value, text: String(value) };
  }
  const text = `${new Date(nowMs).toISOString()}-${randomBytes(6).toString('hex')}`;
  if (type === 'B') {
    const value = new Uint8Array(Buffer.from(text));
    return { value, text: String(value) };
  }
  return { value: text, text };
}

/** Writes a fresh canary (never over an existing item; expires by TTL if left behind). */
export async function writeGateCanary(
  gate: CanaryGate,
  nowMs: number,
  sortKeyType: SortKeyType = 'S',
): Promise<Canary> {
  const nonce = nonceOf(nowMs, sortKeyType);
  const key = canaryKey(gate.table, nonce.value);
  const ttlAttribute = gate.table.ttl;
  await writeCanary(gate.doc, gate.tableName, key, {
    ...(ttlAttribute && { ttlAttribute }),
    expiresAtSeconds: Math.floor(nowMs / 1000) + CANARY_TTL_SECONDS,
    nowMs,
  });
  return { key, nonce: nonce.text, writtenAtMs: nowMs };
}

/**
 * Whether a canary fits the table: its partition key value is CANARY_PARTITION, so the
 * partition key must be a string; the nonce takes the sort key's type. Gives that type, or why
 * no canary fits.
 */
export async function canaryFit(
  dynamodb: DynamoDBClient,
  gate: Pick<CanaryGate, 'table' | 'tableName'>,
): Promise<{ sortKeyType: SortKeyType } | { unwritable: string }> {
  const types = await keyAttributeTypes(dynamodb, gate.tableName);
  const [pk, sk] = gate.table.key as [string, string | undefined];
  const pkType = types.get(pk);
  if (pkType !== 'S') {
    return {
      unwritable: `the partition key ${pk} (${pkType ?? 'not in the key schema'}) of ${gate.tableName} is not a string, so no canary key (${CANARY_PARTITION} + a nonce) fits`,
    };
  }
  const skType = sk === undefined ? undefined : types.get(sk);
  if (sk !== undefined && skType !== 'S' && skType !== 'N' && skType !== 'B')
    return { unwritable: `the sort key ${sk} is not in the key schema of ${gate.tableName}` };
  return { sortKeyType: skType as SortKeyType };
}

/** The canary the consumer recorded, if any; else the reason to show while it has not. */
export async function canarySeen(
  gate: CanaryGate,
  canaries: readonly Canary[],
): Promise<{ seen: Canary } | { seen: undefined; reason: string }> {
  for (const c of canaries) {
    if (await gate.state.getCanarySeen(gate.tableName, c.nonce)) return { seen: c };
  }
  const first = canaries[0] as Canary;
  return {
    seen: undefined,
    // Stable while it waits (the progress prints a line for each new reason).
    reason:
      `waiting for the stream consumer to read a canary item (${CANARY_PARTITION}, written since ${new Date(first.writtenAtMs).toISOString()}): ` +
      `proof that it reads the stream, not only that it is enabled${gate.hint ? ` — ${gate.hint}` : ''}`,
  };
}

/** Removes the canaries (their TTL removes any left behind). */
export async function removeGateCanaries(
  gate: CanaryGate,
  canaries: readonly Canary[],
): Promise<void> {
  for (const c of canaries) await deleteCanary(gate.doc, gate.tableName, c.key);
}
