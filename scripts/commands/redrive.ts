// `streamfill redrive`: the dead-letter queue back to work — worker messages re-sent, stream
// on-failure ranges re-read into keys and re-enqueued, parked items moved only when fixed.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import { existingQueueUrl } from '../../lib/adapters/dlq-reader.ts';
import { DLQ_BREAKDOWN_KINDS } from '../../lib/core/dlq-message.ts';
import { formatKey } from '../../lib/core/key-format.ts';
import { REDRIVE_JSON_KEYS, redrive, type RedriveReport } from '../../lib/engine/redrive.ts';
import { commandConfig, positiveInt, settingName, withSharedOptions } from '../config.ts';
import { newTable } from '../output.ts';

export function registerRedriveCommand(program: Command): void {
  const cmd = withSharedOptions(
    program
      .command('redrive')
      .description(
        'Move what the DLQ holds back to work: worker messages to the work queue, stream on-failure ' +
          'ranges re-read into keys and re-enqueued as items, parked malformed items only with --include-malformed.',
      )
      .option('--dry-run', 'say what would be done; move nothing', false)
      .option(
        '--include-malformed',
        'also re-enqueue parked malformed items (re-read by key): only after fixing them',
        false,
      )
      .option('--max <n>', 'examine at most N DLQ messages', positiveInt('--max'), 10_000)
      .option(
        '--lease-seconds <s>',
        'how long examined messages stay hidden while redrive runs',
        positiveInt('--lease-seconds'),
        300,
      )
      .option(
        '--keys-out <file>',
        'write the keys recovered from unreadable stream ranges (JSON lines) for `backfill --keys`',
      )
      .option('--json', 'print the report as JSON (keys below)', false),
  );
  cmd.addHelpText(
    'after',
    `
What happens to each kind of DLQ message:
  items | scan-segment | search-repair   worker messages SQS moved after maxReceiveCount: sent back
                                         to the work queue unchanged, then deleted from the DLQ.
  stream-failure   Lambda's on-failure record of a stream batch (DDBStreamBatchInfo): its shard
                   range is re-read (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords to the end
                   sequence number), the current items of its keys read (BatchGetItem, keys and
                   derivation inputs only) and enqueued as items messages; keys whose item is gone
                   are reported. A range past the stream's 24 h retention or whose shard is gone
                   stays in the DLQ: Lambda's record names no keys, so redrive points at a pass
                   over the whole table (backfill --table), plus any keys it read (--keys-out).
  parked           streamfill.parked/1 malformed items: reported with key and reason; moved only
                   with --include-malformed (re-read by key and enqueued as an items message).
  parked-search-repair   a keyword repair that gave up (document still missing, search down):
                   sent back to the work queue as a first attempt (its delays start anew).
  parked-undecodable     a work message that did not decode: the items it names (table and
                   keys, recorded when it was parked) are re-read and enqueued; one that names
                   no item is reported and left in place.
  unknown          anything else: reported, left in place.
Every move sends first and deletes after (at-least-once: a crash may duplicate, never lose; the
worker's writes are idempotent). Messages left in place are made visible again at the end.
Exit status: 0 when the DLQ was processed (see the summary for what stayed); 1 on bad input or
unreachable services.

JSON keys (--json; stable):
${REDRIVE_JSON_KEYS}`,
  );
  cmd.action(async (opts) => {
    const { planner, config } = await commandConfig(opts);
    const clients = makeClients({ searchEndpoint: config.searchEndpoint });
    try {
      const [workQueueUrl, dlqUrl] = await Promise.all([
        existingQueueUrl(clients.sqs, config.queueName, settingName('queueName')),
        existingQueueUrl(clients.sqs, config.dlqName, settingName('dlqName')),
      ]);
      const report = await redrive(
        { ...clients, planner, tables: config.tables, workQueueUrl, dlqUrl },
        {
          dryRun: opts.dryRun,
          includeMalformed: opts.includeMalformed,
          max: opts.max,
          leaseSeconds: opts.leaseSeconds,
        },
      );
      if (opts.keysOut) {
        const keys = report.entries.flatMap((e) => e.recoveredKeys ?? []);
        await writeFile(opts.keysOut, keys.map((k) => `${JSON.stringify(k)}\n`).join(''));
      }
      console.log(opts.json ? JSON.stringify(report, null, 2) : renderRedrive(report));
    } finally {
      destroyClients(clients);
    }
  });
}

export function renderRedrive(r: RedriveReport): string {
  const moved = r.dryRun ? 'would move' : 'moved';
  const t = newTable(['kind', 'found', moved, 'kept']);
  for (const k of DLQ_BREAKDOWN_KINDS) {
    const s = r.byKind[k];
    if (s.found) t.push([k, s.found, s.moved, s.kept]);
  }
  const lines = [
    `redrive${r.dryRun ? ' (dry run)' : ''}: ${r.examined} DLQ message(s) examined; ` +
      `${r.itemsEnqueued} item(s) ${r.dryRun ? 'would be ' : ''}re-enqueued; ${r.missingItems} no longer exist`,
  ];
  if (r.examined) lines.push(t.toString());
  for (const e of r.entries) {
    lines.push(`  ${e.action.padEnd(10)} ${e.kind.padEnd(14)} ${e.detail}`);
    for (const k of e.missing ?? []) lines.push(`             missing ${formatKey(k)}`);
  }
  for (const a of r.advice) lines.push(`→ ${a}`);
  return lines.join('\n');
}
