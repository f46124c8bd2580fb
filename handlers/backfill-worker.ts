// Lambda entry for the backfill work queue: items messages are migrated from the inputs they
// carry (no read), search repairs applied, scan-segment tasks fanned out. Builds its
// dependencies once per container and hands each batch to the engine (lib/engine/work-batch.ts),
// which returns the partial batch response.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoStateStore } from '../lib/adapters/backfill-state.ts';
import type { DeadLetters } from '../lib/adapters/dead-letters.ts';
import { SERVICES } from '../lib/config/defaults.ts';
import { batchHandler } from '../lib/engine/batch-handler.ts';
import { engineFromEnv } from '../lib/engine/deps.ts';
import type { EngineDeps } from '../lib/engine/migrate-items.ts';
import { processWorkBatch, type WorkBatchOptions } from '../lib/engine/work-batch.ts';

export interface BackfillWorkerOptions {
  deps: EngineDeps;
  /** Where malformed items and undecodable messages are parked at once (else they are retried). */
  deadLetters?: DeadLetters;
  /** Scan-segment continuations and rescheduled search repairs go here. */
  workQueue?: WorkBatchOptions['workQueue'];
  /** Reads the pages of scan-segment tasks. */
  doc?: WorkBatchOptions['doc'];
  /** Scan-segment tasks save their segment's checkpoint here. */
  stateStore?: WorkBatchOptions['stateStore'];
  /** @default a Logger named `streamfill-backfill-worker` */
  logger?: Logger;
  /** @default Metrics in namespace `streamfill`, service `backfill-worker` */
  metrics?: Metrics;
  /** Observes each batch (local runner, tests). */
  onResults?: WorkBatchOptions['onResults'];
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * The backfill worker as a middy handler (Powertools logger context and metrics flush).
 *
 * @example
 * const handler = createBackfillWorker({ deps, deadLetters, workQueue: { sqs, url }, doc });
 */
export function createBackfillWorker(options: BackfillWorkerOptions): Handler {
  return batchHandler(SERVICES.backfillWorker, options, processWorkBatch);
}

let deployed: Handler | undefined;
/** The deployed entry point: adapters built once per container from the environment. */
export const handler: Handler = (event, context) => {
  deployed ??= (() => {
    const { config, clients, deps, deadLetters } = engineFromEnv();
    return createBackfillWorker({
      deps,
      doc: clients.doc,
      ...(deadLetters && { deadLetters }),
      ...(config.workQueueUrl && { workQueue: { sqs: clients.sqs, url: config.workQueueUrl } }),
      ...(config.stateTable && {
        stateStore: new DynamoStateStore(clients.doc, config.stateTable),
      }),
    });
  })();
  return deployed(event, context);
};
