// The local runner as a benchmark starts it: at LATEST with the delayed pin, queues of the run's
// own prefix, the handlers' logs silenced (they would be most of the output), the mappings' warnings to `warn`.
import type { Clients } from '../../lib/adapters/clients.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';
import type { TableNames } from '../../lib/core/types.ts';
import type { LocalRunnerOptions } from '../../local/runner.ts';

export function benchRunnerOptions(b: {
  clients: Clients;
  deps: EngineDeps;
  tables: TableNames;
  /** The run's name prefix: its queues are `<prefix>-work` and `<prefix>-dlq`. */
  prefix: string;
  /** Where the mappings' warnings and errors go. @default nowhere */
  warn?: (line: string) => void;
}): LocalRunnerOptions {
  const warn = b.warn ?? (() => {});
  return {
    clients: b.clients,
    deps: b.deps,
    tables: b.tables,
    queueName: `${b.prefix}-work`,
    dlqName: `${b.prefix}-dlq`,
    // Deployed as the construct deploys it: at LATEST, pinned some seconds after the start as on
    // AWS (LATEST_POSITION_DELAY_MS); a bench proves the consumer reads before it writes.
    startingPosition: 'LATEST',
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn, error: warn },
  };
}
