// `streamfill redrive`: the dead-letter queue back to work. Worker messages are re-sent as they
// are; stream on-failure ranges are re-read into keys and their current items re-enqueued;
// parked items move only when asked. Send first, delete after: at-least-once, never lost.
import { ITEMS_PER_MESSAGE } from '../config/defaults.ts';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  deleteMessages,
  leaseMessages,
  releaseMessages,
  type DlqEntry,
} from '../adapters/dlq-reader.ts';
import { readItemsByKey } from '../adapters/item-reader.ts';
import { readShardRange } from '../adapters/stream-reader.ts';
import { sendMessages } from '../adapters/work-queue.ts';
import {
  breakdownKind,
  classifyDlqBody,
  DLQ_BREAKDOWN_KINDS,
  migratedTableOf,
  tableNameOfStreamArn,
  uniqueKeys,
  type DlqBreakdownKind,
  type DlqMessage,
  type ParkedBody,
} from '../core/dlq-message.ts';
import { formatKey } from '../core/key-format.ts';
import type { Planner } from '../core/config/planner.ts';
import type { Key, TableNames } from '../core/types.ts';
import {
  packItems,
  packMessage,
  utf8ByteLength,
  workItemOf,
  type PackedMessage,
  type SearchRepairMessage,
  type WorkItem,
} from '../core/work-message.ts';

export interface RedriveDeps {
  sqs: SQSClient;
  streams: DynamoDBStreamsClient;
  doc: DynamoDBDocumentClient;
  /** The loaded config, compiled: which tables are migrated, their keys, what a read carries. */
  planner: Planner;
  /** Declared table name → physical name (DLQ bodies name physical tables). */
  tables: TableNames;
  workQueueUrl: string;
  dlqUrl: string;
}

export interface RedriveOptions {
  /** Say what would happen; move nothing. */
  dryRun?: boolean;
  /** Also move parked (malformed) items, re-read by key: only after the operator fixed them. */
  includeMalformed?: boolean;
  /** Examine at most this many DLQ messages. @default 10_000 */
  max?: number;
  /** How long examined messages stay hidden while this runs. @default 300 */
  leaseSeconds?: number;
  /** GetRecords attempts that return nothing before a range counts as unreadable. */
  maxEmptyPolls?: number;
}

export type RedriveAction = 'moved' | 'would-move' | 'kept';

export interface RedriveEntry {
  messageId: string;
  kind: DlqBreakdownKind;
  action: RedriveAction;
  detail: string;
  /** The physical table the keys belong to (stream failures, parked items), as the body names it. */
  table?: string;
  /** Keys re-enqueued (or that would be). */
  keys?: Key[];
  /** Keys whose item no longer exists (deleted or expired since): nothing to migrate. */
  missing?: Key[];
  /** Unavailable stream ranges: the keys that could still be recovered, for `backfill --keys`. */
  recoveredKeys?: Key[];
}

export interface KindSummary {
  found: number;
  moved: number;
  kept: number;
}

export interface RedriveReport {
  dryRun: boolean;
  examined: number;
  byKind: Record<DlqBreakdownKind, KindSummary>;
  /** Items put (or that would be put) into `items` messages. */
  itemsEnqueued: number;
  missingItems: number;
  entries: RedriveEntry[];
  /** What the operator should do about what stayed. */
  advice: string[];
}

/** The JSON keys of `redrive --json`, for its --help. */
export const REDRIVE_JSON_KEYS = `{ dryRun, examined, itemsEnqueued, missingItems,
  byKind: { items|scan-segment|search-repair|stream-failure|parked|parked-search-repair|
            parked-undecodable|unknown: { found, moved, kept } },
  entries: [{ messageId, kind, action: moved|would-move|kept, detail, table?, keys?, missing?,
              recoveredKeys? }],
  advice: [string] }`;

// What one message becomes: bodies to send to the work queue (then delete it), or kept.
type Plan =
  | { move: true; bodies: PackedMessage[]; entry: Omit<RedriveEntry, 'messageId' | 'action'> }
  | { move: false; entry: Omit<RedriveEntry, 'messageId' | 'action'> };

export async function redrive(
  deps: RedriveDeps,
  options: RedriveOptions = {},
): Promise<RedriveReport> {
  const max = options.max ?? 10_000;
  const report: RedriveReport = {
    dryRun: options.dryRun ?? false,
    examined: 0,
    byKind: Object.fromEntries(
      DLQ_BREAKDOWN_KINDS.map((k) => [k, { found: 0, moved: 0, kept: 0 }]),
    ) as Record<DlqBreakdownKind, KindSummary>,
    itemsEnqueued: 0,
    missingItems: 0,
    entries: [],
    advice: [],
  };
  // Leased and not deleted: made visible again at the end, whatever happens.
  const held = new Map<string, DlqEntry>();
  try {
    while (report.examined < max) {
      const leased = await leaseMessages(deps.sqs, deps.dlqUrl, {
        max: Math.min(10, max - report.examined),
        leaseSeconds: options.leaseSeconds ?? 300,
      });
      // A message seen before came back after its lease ran out: it was already examined.
      const fresh = leased.filter((e) => !held.has(e.messageId));
      for (const e of leased) if (held.has(e.messageId)) held.set(e.messageId, e);
      if (!fresh.length) break;
      for (const e of fresh) {
        report.examined++;
        held.set(e.messageId, e);
        const message = classifyDlqBody(e.body);
        const kind = breakdownKind(message);
        const plan = await planMessage(deps, options, e, message);
        const summary = report.byKind[kind];
        summary.found++;
        let action: RedriveAction = 'kept';
        if (plan.move && report.dryRun) action = 'would-move';
        else if (plan.move) {
          if (plan.bodies.length) await sendMessages(deps.sqs, deps.workQueueUrl, plan.bodies);
          await deleteMessages(deps.sqs, deps.dlqUrl, [e]);
          held.delete(e.messageId);
          action = 'moved';
        }
        if (action === 'kept') summary.kept++;
        else {
          summary.moved++;
          if (message.kind !== 'work') report.itemsEnqueued += plan.entry.keys?.length ?? 0;
        }
        report.missingItems += plan.entry.missing?.length ?? 0;
        report.entries.push({ messageId: e.messageId, action, ...plan.entry });
      }
    }
  } finally {
    await releaseMessages(deps.sqs, deps.dlqUrl, [...held.values()]);
  }
  report.advice = adviceFor(report, options, deps);
  return report;
}

async function planMessage(
  deps: RedriveDeps,
  options: RedriveOptions,
  e: DlqEntry,
  message: DlqMessage,
): Promise<Plan> {
  switch (message.kind) {
    case 'work':
      return {
        move: true,
        bodies: [{ body: e.body, bytes: utf8ByteLength(e.body), count: 1 }],
        entry: {
          kind: message.message.kind,
          detail: `${message.message.kind} message (received ${e.receiveCount}×) back to the work queue`,
        },
      };
    case 'unknown':
      return {
        move: false,
        entry: { kind: 'unknown', detail: `not redriveable: ${message.problem}` },
      };
    case 'parked': {
      const p = message.parked;
      if (p.kind === 'search-repair') return planParkedRepair(p);
      if (p.kind === 'undecodable') return planUndecodable(deps, p);
      const base = { kind: 'parked' as const, table: p.table, keys: [p.key] };
      if (!options.includeMalformed) {
        return {
          move: false,
          entry: { ...base, detail: `malformed ${formatKey(p.key)}: ${p.reason}` },
        };
      }
      return requeueKeys(
        deps,
        p.table,
        [p.key],
        `parked ${formatKey(p.key)} (${p.reason})`,
        base.kind,
      );
    }
    case 'stream-failure': {
      const info = message.info;
      const tableName = tableNameOfStreamArn(info.streamArn) ?? info.streamArn;
      const range = `${info.shardId} ${info.startSequenceNumber}..${info.endSequenceNumber} (${info.batchSize} record(s), ${message.condition})`;
      const read = await readShardRange(deps.streams, info, {
        ...(options.maxEmptyPolls !== undefined && { maxEmptyPolls: options.maxEmptyPolls }),
      });
      if (read.status === 'unavailable') {
        // Lambda's on-failure record names a range, never the records ("the actual records
        // aren't included"): what the stream no longer holds is unknown, and only a pass over
        // the table finds those items. The keys read before the range ended are a start.
        const declared = declaredOf(deps, tableName);
        const recovered = uniqueKeys(declared ?? tableName, read.keys);
        const unread = info.batchSize - read.records;
        return {
          move: false,
          entry: {
            kind: 'stream-failure',
            table: tableName,
            recoveredKeys: recovered,
            detail:
              `stream range ${range} can no longer be read (${read.reason}): ` +
              `${recovered.length} key(s) recovered from the ${read.records} record(s) still readable` +
              (unread > 0
                ? `; the keys of the other ${unread} are not in Lambda's on-failure record — ` +
                  `run \`streamfill backfill --table ${declared ?? tableName}\` (a pass over the whole table finds them)`
                : ''),
          },
        };
      }
      return requeueKeys(deps, tableName, read.keys, `stream range ${range}`, 'stream-failure');
    }
  }
}

/** A given-up search repair goes back to the work queue as a first attempt (its delays anew). */
function planParkedRepair(p: ParkedBody): Plan {
  const base = { kind: 'parked-search-repair' as const, table: p.table };
  if (!p.repair) {
    return {
      move: false,
      entry: {
        ...base,
        detail: `search repair of document ${p.docId ?? formatKey(p.key)} (${p.reason}): the parked body carries no readable repair message; repair it with \`streamfill verify --repair\``,
      },
    };
  }
  const again: SearchRepairMessage = { ...p.repair, attempt: 1, reason: `redriven: ${p.reason}` };
  return {
    move: true,
    bodies: [packMessage(again)],
    entry: {
      ...base,
      detail: `search repair of document ${p.repair.docId} (${p.reason}) back to the work queue`,
    },
  };
}

/**
 * An undecodable work message: the items it names are re-read by key and enqueued afresh (the
 * body itself would only be parked again). One that names no table or no key stays.
 */
function planUndecodable(deps: RedriveDeps, p: ParkedBody): Promise<Plan> | Plan {
  const declared = declaredOf(deps, p.table);
  // Only whole keys name an item (a search repair's document id alone does not).
  const keys = (p.keys ?? [p.key]).filter((k) => declared && isWholeKey(deps.planner, declared, k));
  if (!keys.length) {
    return {
      move: false,
      entry: {
        kind: 'parked-undecodable',
        table: p.table,
        detail: `undecodable work message (${p.reason}) names no item key: inspect and remove it by hand`,
      },
    };
  }
  return requeueKeys(
    deps,
    p.table,
    keys,
    `undecodable work message (${p.reason})`,
    'parked-undecodable',
  );
}

/** The migrated table (declared name) a physical table name is, under the configured names. */
function declaredOf(deps: RedriveDeps, tableName: string): string | undefined {
  return migratedTableOf(deps.tables, deps.planner.migratedTables, tableName);
}

/** Whether `key` has every key attribute of the declared table, each a usable value. */
function isWholeKey(planner: Planner, table: string, key: Key): boolean {
  try {
    planner.keyOf(table, key);
    return true;
  } catch {
    return false;
  }
}

/** Reads the current items of `keys` and packs them as `items` messages (or says why not). */
async function requeueKeys(
  deps: RedriveDeps,
  tableName: string,
  rawKeys: readonly Key[],
  what: string,
  kind: 'parked' | 'parked-undecodable' | 'stream-failure',
): Promise<Plan> {
  const { planner } = deps;
  const table = declaredOf(deps, tableName);
  if (!table) {
    const known = planner.migratedTables.map((t) => `${t} → ${deps.tables[t] ?? '?'}`).join(', ');
    return {
      move: false,
      entry: {
        kind,
        table: tableName,
        detail: `${what}: table ${tableName} is not a migrated table under the configured names (${known}; check --table-name <declared>=<physical>)`,
      },
    };
  }
  const keyNames = planner.table(table).key;
  const keys = uniqueKeys(table, rawKeys);
  // A key missing a key attribute (a malformed item's partial key) names no item to read.
  const partial = keys.filter((k) => !isWholeKey(planner, table, k));
  if (partial.length) {
    return {
      move: false,
      entry: {
        kind,
        table: tableName,
        detail: `${what}: ${partial.map(formatKey).join('; ')} is not a whole ${table} key (${keyNames.join(', ')}): fix the item by hand, then remove the message`,
      },
    };
  }
  // The scanner's projection: keys, inputs, derived attributes and TTL, as the worker expects.
  const attributes = planner.projection(table, planner.allMigrations);
  const { found, missing } = await readItemsByKey(deps.doc, tableName, keys, attributes, keyNames);
  const items: WorkItem[] = [];
  const problems: string[] = [];
  for (const item of found) {
    try {
      items.push(workItemOf(planner.table(table), item, attributes));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) {
    return {
      move: false,
      entry: {
        kind,
        table: tableName,
        missing,
        detail: `${what}: ${problems.length} item(s) still cannot be carried: ${problems.join('; ')}`,
      },
    };
  }
  return {
    move: true,
    bodies: packItems(table, items, {
      maxItemsPerMessage: ITEMS_PER_MESSAGE,
      // Every input is read; the opt-in contract steps run only from `backfill --contract`.
      scannedFor: {
        migrations: planner.migrationsFor(table).map((m) => m.name),
        projection: attributes,
      },
    }),
    entry: {
      kind,
      table: tableName,
      keys: items.map((i) => i.key),
      missing,
      detail:
        `${what}: ${items.length} item(s) re-enqueued` +
        (missing.length
          ? `, ${missing.length} no longer exist (deleted since: nothing to do)`
          : ''),
    },
  };
}

function adviceFor(r: RedriveReport, options: RedriveOptions, deps: RedriveDeps): string[] {
  const advice: string[] = [];
  const unavailable = r.entries.filter((e) => e.recoveredKeys);
  if (unavailable.length) {
    const keys = unavailable.reduce((n, e) => n + (e.recoveredKeys?.length ?? 0), 0);
    const names = [...new Set(unavailable.map((e) => e.table ?? ''))];
    const declared = names.map((t) => declaredOf(deps, t) ?? t);
    advice.push(
      `${unavailable.length} stream range(s) are past the stream's 24 h retention or their shard is gone; they stay in the DLQ. ` +
        "Lambda's on-failure record carries the range, not the records, so the items of an unreadable range are unknown: " +
        declared.map((t) => `run \`streamfill backfill --table ${t} --no-filter\``).join(', ') +
        ' (a pass over the whole table finds every unmigrated item)' +
        (keys
          ? `; the ${keys} key(s) read before the range ended can be repaired at once with \`streamfill backfill --keys FILE\` (write them with \`redrive --keys-out FILE\`)`
          : '') +
        '. Records were lost, so an item migrated earlier can hold a derived value that is present but stale, which the scan filter would skip: hence `--no-filter` (`backfill` also drops the filter by itself when it sees the consumer stopped longer than 24 h). Then delete those messages from the DLQ.',
    );
  }
  if (r.byKind.parked.kept && !options.includeMalformed) {
    advice.push(
      `${r.byKind.parked.kept} malformed item(s) stay parked: fix each item (see its reason), then run \`streamfill redrive --include-malformed\`.`,
    );
  }
  if (r.byKind['parked-undecodable'].kept) {
    advice.push(
      `${r.byKind['parked-undecodable'].kept} undecodable work message(s) name no item: inspect them (\`streamfill status\` shows each reason) and remove them by hand.`,
    );
  }
  if (r.byKind.unknown.kept) {
    advice.push(
      `${r.byKind.unknown.kept} message(s) are not streamfill's: inspect and remove them by hand.`,
    );
  }
  if (r.dryRun && r.entries.some((e) => e.action === 'would-move')) {
    advice.push('dry run: nothing was moved. Run without --dry-run to redrive.');
  }
  return advice;
}
