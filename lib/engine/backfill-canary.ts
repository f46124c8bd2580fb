// The proof half of "consumer first": a consumer that is running and caught up by its own
// account (heartbeat, or an Enabled mapping with a low IteratorAge) may still not read the
// stream — AWS positions a new mapping at LATEST some time after it shows Enabled, and writes
// made meanwhile are never delivered. So `backfill` writes a canary item and starts only once
// the consumer has recorded that very record in the state table.
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import { deleteCanary, writeCanary } from '../adapters/canary.ts';
import { CANARY_PARTITION, CANARY_TTL_SECONDS, canaryKey } from '../core/canary.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyAttributeTypes } from '../adapters/tables.ts';
import type { TableDef } from '../core/config/define.ts';
import type { Key } from '../core/types.ts';

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

/** Writes a fresh canary (never over an existing item; expires by TTL if left behind). */
export async function writeGateCanary(gate: CanaryGate, nowMs: number): Promise<Canary> {
  const nonce = `${new Date(nowMs).toISOString()}-${randomBytes(6).toString('hex')}`;
  const key = canaryKey(gate.table, nonce);
  const ttlAttribute = gate.table.ttl;
  await writeCanary(gate.doc, gate.tableName, key, {
    ...(ttlAttribute && { ttlAttribute }),
    expiresAtSeconds: Math.floor(nowMs / 1000) + CANARY_TTL_SECONDS,
    nowMs,
  });
  return { key, nonce, writtenAtMs: nowMs };
}

/**
 * Why no canary can be written to the table, or undefined when one can: its partition key value
 * is CANARY_PARTITION, a string, and (with a sort key) the nonce is a string too.
 */
export async function canaryUnwritable(
  dynamodb: DynamoDBClient,
  gate: Pick<CanaryGate, 'table' | 'tableName'>,
): Promise<string | undefined> {
  const types = await keyAttributeTypes(dynamodb, gate.tableName);
  const bad = gate.table.key.filter((k) => types.get(k) !== 'S');
  if (!bad.length) return undefined;
  return `the key attribute${bad.length > 1 ? 's' : ''} ${bad.map((k) => `${k} (${types.get(k) ?? 'not in the key schema'})`).join(', ')} of ${gate.tableName} ${bad.length > 1 ? 'are' : 'is'} not a string, so no canary key (${CANARY_PARTITION} + a nonce) fits`;
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
