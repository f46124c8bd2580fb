// Consumer first (docs/DESIGN.md, "Why it converges", point 1): the scan reads its first page only
// once the stream consumer runs and is caught up, has proved with a canary that it reads the
// stream, and its continuity says whether the scan filter can be trusted.
import type { RunRecord } from '../core/backfill-run.ts';
import { CANARY_REWRITE_MS } from '../core/canary.ts';
import { formatKey } from '../core/key-format.ts';
import { formatWait } from '../core/throttle.ts';
import {
  canarySeen,
  canaryFit,
  removeGateCanaries,
  writeGateCanary,
  type Canary,
  type CanaryGate,
} from './backfill-canary.ts';
import type { Pass } from './backfill-pass.ts';
import { unfilteredScope } from './backfill-scope.ts';

/** Asks the consumer whether it is ready; its lag feeds the throttler. */
export async function probeConsumer(pass: Pass): Promise<void> {
  const { consumer } = pass.deps;
  if (!consumer) return;
  const c = await consumer();
  pass.consumerReason = c.ready ? undefined : c.reason;
  pass.throttler.observe({ ...(c.lagMs !== undefined && { streamLagMs: c.lagMs }) });
}

/** Waits (saying why) until the consumer is ready and read the canary; warns when it does not. */
export async function awaitConsumer(pass: Pass): Promise<void> {
  const { deps, dryRun, waits, log } = pass;
  if (dryRun) return;
  if (!deps.consumer) {
    log(
      `${pass.tableName}: no stream consumer to wait for (the table has none): items the app changes later are not migrated by a consumer`,
    );
    return;
  }
  if (!pass.waitForConsumer) {
    log(
      'WARNING: --no-wait-for-consumer: the scan does not wait for a running, caught-up stream consumer; items changed meanwhile may stay unmigrated until their next change',
    );
    return;
  }
  pass.phase = 'waiting-for-consumer';
  for (;;) {
    await probeConsumer(pass);
    if (!pass.consumerReason || waits.stopped) break;
    await waits.wait(-1, 'consumer', pass.consumerReason, pass.pollMs);
  }
  if (deps.canary && !waits.stopped) await proveConsumerReads(pass, deps.canary);
  pass.phase = 'scanning';
}

/** The canary: the consumer proves it reads the stream by recording an item written now. */
async function proveConsumerReads(pass: Pass, gate: CanaryGate): Promise<void> {
  const { now, waits } = pass;
  const fit = await canaryFit(pass.deps.dynamodb, gate);
  if ('unwritable' in fit) {
    // Skipped, not refused: the consumer's own readiness (heartbeat or mapping) still gated.
    pass.log(
      `warning: no canary gate: ${fit.unwritable}. The scan starts on the consumer's own readiness, without proof that it reads the stream: writes made before a new mapping's position is fixed may be missed until the next pass`,
    );
    return;
  }
  const canaries = [await writeGateCanary(gate, now(), fit.sortKeyType)];
  for (;;) {
    const c = await canarySeen(gate, canaries);
    if (c.seen) {
      pass.log(
        `the stream consumer read the canary ${formatKey(c.seen.key)} ${formatWait(now() - c.seen.writtenAtMs)} after it was written: it reads the stream`,
      );
      break;
    }
    if (waits.stopped) return; // left to their TTL
    await waits.wait(-1, 'consumer', c.reason, pass.pollMs);
    // One written before the consumer's position was fixed is never read: write another.
    if (now() - (canaries.at(-1) as Canary).writtenAtMs >= CANARY_REWRITE_MS)
      canaries.push(await writeGateCanary(gate, now(), fit.sortKeyType));
  }
  await removeGateCanaries(gate, canaries);
}

/**
 * Continuity: the filter leaves out an item the (eventually consistent) scan read as settled;
 * a write it did not see is only covered if the consumer reads it. Without an unbroken
 * consumer (and a full unfiltered pass since it began) the pass drops the filter and says why.
 * A dry run asks too (a read only), so that it reports the split the real pass would make.
 */
export async function checkContinuity(pass: Pass, lastRun: RunRecord | undefined): Promise<void> {
  const { deps } = pass;
  if (!pass.scope.skipSettled || !deps.consumer || !deps.continuity) return;
  if (pass.waits.stopped) return;
  const broken = await deps.continuity(lastRun);
  if (!broken) return;
  pass.scope = unfilteredScope(pass.scope, broken);
  pass.log(`scanning without the filter: ${broken}`);
}
