// Where a backfill keeps its run state and sends its work: the state store (state table or
// --checkpoint-file) and the work queue and DLQ, created when missing on a local endpoint.
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import {
  DynamoStateStore,
  ensureStateTable,
  FileStateStore,
  type BackfillStateStore,
} from '../../../lib/adapters/backfill-state.ts';
import type { Clients } from '../../../lib/adapters/clients.ts';
import { ensureQueues } from '../../../lib/adapters/queues.ts';
import { tableExists } from '../../../lib/adapters/tables.ts';
import { ENV } from '../../../lib/config/defaults.ts';
import { requireNamedTable, settingName, type Config } from '../../config.ts';

/** The work queue and DLQ URLs (both created when missing on a local endpoint). */
export async function queueUrlsOf(
  clients: Clients,
  config: Config,
  local: boolean,
): Promise<{ work: string; dlq: string }> {
  if (local) return ensureQueues(clients.sqs, config);
  const urlOf = async (name: string, attr: string, what: string): Promise<string> => {
    try {
      const r = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (r.QueueUrl) return r.QueueUrl;
    } catch (e) {
      throw new Error(
        `${what} "${name}" not found (set ${settingName(attr)}): ${(e as Error).message}`,
      );
    }
    throw new Error(`${what} "${name}" has no URL (set ${settingName(attr)})`);
  };
  return {
    work: await urlOf(config.queueName, 'queueName', 'work queue'),
    dlq: await urlOf(config.dlqName, 'dlqName', 'dead-letter queue'),
  };
}

/** The state store the options name, the table created when missing on a local endpoint. */
export async function stateStoreOf(
  clients: Clients,
  opts: { stateTable: string; checkpointFile?: string },
  local: boolean,
): Promise<BackfillStateStore> {
  if (opts.checkpointFile) return new FileStateStore(opts.checkpointFile);
  if (local) await ensureStateTable(clients.dynamodb, opts.stateTable);
  else
    await requireNamedTable(clients.dynamodb, opts.stateTable, `--state-table / ${ENV.stateTable}`);
  return new DynamoStateStore(clients.doc, opts.stateTable);
}

/**
 * The state store as it is, for the checks before any side effect: a missing local state table
 * is not created here (it holds no run, so it reads as empty).
 */
export async function existingStateStore(
  clients: Clients,
  opts: { stateTable: string; checkpointFile?: string },
  local: boolean,
): Promise<Pick<BackfillStateStore, 'getRun' | 'getCheckpoints'>> {
  if (opts.checkpointFile) return new FileStateStore(opts.checkpointFile);
  if (local && !(await tableExists(clients.dynamodb, opts.stateTable))) {
    return { getRun: async () => undefined, getCheckpoints: async () => [] };
  }
  return stateStoreOf(clients, opts, local);
}
