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
import { TTL_ATTRIBUTES, type Key, type TableRole } from '../core/types.ts';

export interface CanaryGate {
  doc: DynamoDBDocumentClient;
  /** The migrated table the consumer reads the stream of. */
  table: TableRole;
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
  const ttlAttribute = TTL_ATTRIBUTES[gate.table];
  await writeCanary(gate.doc, gate.tableName, key, {
    ...(ttlAttribute && { ttlAttribute }),
    expiresAtSeconds: Math.floor(nowMs / 1000) + CANARY_TTL_SECONDS,
    nowMs,
  });
  return { key, nonce, writtenAtMs: nowMs };
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
