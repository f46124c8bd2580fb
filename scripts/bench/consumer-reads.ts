// A bench's proof that its stream consumer reads before the application writes start: the
// local mapping pins LATEST seconds after it started (as AWS may), and writes of that window are
// never delivered. The same canary as the backfill's gate: written, then recorded by the
// consumer in the state table.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CANARY_REWRITE_MS } from '../../lib/core/canary.ts';
import {
  canaryFit,
  canarySeen,
  removeGateCanaries,
  writeGateCanary,
  type Canary,
  type CanaryGate,
} from '../../lib/engine/backfill-canary.ts';

/** Waits until the consumer recorded a canary; returns how long that took (ms). */
export async function awaitConsumerReads(
  gate: CanaryGate,
  dynamodb: DynamoDBClient,
  o: { timeoutMs?: number; pollMs?: number } = {},
): Promise<number> {
  const { timeoutMs = 60_000, pollMs = 100 } = o;
  const fit = await canaryFit(dynamodb, gate);
  if ('unwritable' in fit) throw new Error(`no canary fits: ${fit.unwritable}`);
  const started = Date.now();
  const canaries: Canary[] = [await writeGateCanary(gate, started, fit.sortKeyType)];
  try {
    for (;;) {
      const c = await canarySeen(gate, canaries);
      if (c.seen) return Date.now() - started;
      if (Date.now() - started > timeoutMs)
        throw new Error(`the stream consumer read no canary within ${timeoutMs} ms: ${c.reason}`);
      await new Promise((r) => setTimeout(r, pollMs));
      // One written before the position was pinned is never read: write another.
      if (Date.now() - (canaries.at(-1) as Canary).writtenAtMs >= CANARY_REWRITE_MS)
        canaries.push(await writeGateCanary(gate, Date.now(), fit.sortKeyType));
    }
  } finally {
    await removeGateCanaries(gate, canaries);
  }
}
