// Preflight rules: from facts about the source table, its stream and the search index, the
// findings an operator must see before a migration starts, each with what to do. Pure: the
// facts are gathered by lib/adapters/preflight-facts.ts.
export type FindingLevel = 'ok' | 'warn' | 'fail';

export interface Finding {
  level: FindingLevel;
  /** Short id of the check: stream, stream-readers, global-table, pitr, capacity, search-mapping. */
  check: string;
  message: string;
  /** What to do (for `ok`, what to keep in mind). */
  action: string;
}

export interface EventSourceMappingFact {
  functionArn: string;
  /** Lambda's mapping state: Enabled, Enabling, Disabled, Creating, Updating, Deleting… */
  state: string;
}

export interface PreflightFacts {
  table: string;
  region?: string;
  stream: { enabled: boolean; viewType?: string; arn?: string };
  capacity: {
    mode: 'PAY_PER_REQUEST' | 'PROVISIONED';
    readCapacityUnits?: number;
    writeCapacityUnits?: number;
    /** On-demand maximum write throughput, when the table sets one. */
    maxWriteRequestUnits?: number;
    /** Provisioned GSIs: a migration write that touches an indexed attribute also costs their WCU. */
    indexes: { name: string; writeCapacityUnits?: number }[];
  };
  /** Other Regions of a global table (empty for a single-Region table). */
  replicas: { region: string; status?: string }[];
  pitr: { enabled: boolean } | { error: string };
  /** Absent when the stream is off (nothing to read). */
  streamReaders?: { mappings: EventSourceMappingFact[] } | { error: string };
  /** Absent when no search endpoint is configured (the search migration is off). */
  search?:
    | { index: string; exists: true; fieldTypes: Record<string, string | undefined> }
    | { index: string; exists: false }
    | { index: string; error: string };
}

export interface PreflightOptions {
  /** The backfill's writes per second (`--rate`). */
  rate?: number;
  /** The streamfill consumer's function name or ARN: its own mapping is not "another reader". */
  consumerFunction?: string;
  /** The keyword fields the config's searches add (each must be keyword or absent). @default none */
  keywordFields?: readonly string[];
}

/** A stream shard serves at most this many concurrent readers before they are throttled. */
export const MAX_STREAM_READERS = 2;
const INACTIVE_MAPPING_STATES = new Set(['Disabled', 'Disabling', 'Deleting']);

export function preflightFindings(
  facts: PreflightFacts,
  options: PreflightOptions = {},
): Finding[] {
  return [
    streamFinding(facts),
    readersFinding(facts, options),
    globalTableFinding(facts),
    pitrFinding(facts),
    capacityFinding(facts, options),
    searchFinding(facts, options),
  ].filter((f): f is Finding => f !== undefined);
}

export const hasFailure = (findings: readonly Finding[]): boolean =>
  findings.some((f) => f.level === 'fail');

const enableStream = (table: string): string =>
  `aws dynamodb update-table --table-name ${table} ` +
  '--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES';

/** The stream check shared by preflight and the consumer's start (run, Lambda cold start). */
export function streamFinding({
  table,
  stream,
  newImageEnough = false,
}: Pick<PreflightFacts, 'table' | 'stream'> & {
  /** Only copies read the table: their ledger, not old images, names what to delete. */
  newImageEnough?: boolean;
}): Finding {
  const check = 'stream';
  if (!stream.enabled) {
    return {
      level: 'fail',
      check,
      message: `table ${table} has no stream: live changes cannot be migrated`,
      action:
        `enable its stream with view type NEW_AND_OLD_IMAGES: \`${enableStream(table)}\` ` +
        '(CDK: `stream: StreamViewType.NEW_AND_OLD_IMAGES`)',
    };
  }
  if (newImageEnough && stream.viewType === 'NEW_IMAGE') {
    return {
      level: 'ok',
      check,
      message: `stream on with NEW_IMAGE, enough for copies (${stream.arn ?? 'ARN unknown'})`,
      action: 'start the consumer before the backfill and keep it running until cut-over',
    };
  }
  if (stream.viewType !== 'NEW_AND_OLD_IMAGES') {
    return {
      level: 'fail',
      check,
      message:
        `the stream of ${table} has view type ${stream.viewType ?? 'unknown'}; the consumer needs ` +
        'NEW_AND_OLD_IMAGES (it plans every change from its new image)',
      action:
        'a stream view type cannot be changed in place: disable the stream ' +
        `(\`aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=false\`), ` +
        `then enable it with NEW_AND_OLD_IMAGES (\`${enableStream(table)}\`). This makes a new stream ` +
        'ARN: point any existing reader at it',
    };
  }
  return {
    level: 'ok',
    check,
    message: `stream on with NEW_AND_OLD_IMAGES (${stream.arn ?? 'ARN unknown'})`,
    action: 'start the consumer before the backfill and keep it running until cut-over',
  };
}

function isOurs(arn: string, consumer: string | undefined): boolean {
  if (!consumer) return false;
  return arn === consumer || arn.endsWith(`:function:${consumer}`);
}

function readersFinding(facts: PreflightFacts, options: PreflightOptions): Finding | undefined {
  const r = facts.streamReaders;
  if (!r) return undefined;
  const check = 'stream-readers';
  const invisible =
    'readers outside Lambda (an OpenSearch Ingestion pipeline, a Kinesis adapter) do not show up here: count them too';
  if ('error' in r) {
    return {
      level: 'warn',
      check,
      message: `could not count stream readers: ${r.error}`,
      action:
        `check by hand: \`aws lambda list-event-source-mappings --event-source-arn ${facts.stream.arn ?? '<stream ARN>'}\`; ` +
        `a stream shard serves at most ${MAX_STREAM_READERS} concurrent readers; ${invisible}`,
    };
  }
  const active = r.mappings.filter((m) => !INACTIVE_MAPPING_STATES.has(m.state));
  const others = active.filter((m) => !isOurs(m.functionArn, options.consumerFunction));
  const ours = active.length - others.length;
  const list = others.map((m) => m.functionArn).join(', ');
  const oursNote = ours ? ' (besides the streamfill consumer already deployed)' : '';
  if (others.length >= MAX_STREAM_READERS) {
    return {
      level: 'warn',
      check,
      message:
        `${others.length} Lambda functions already read the stream${oursNote}: ${list}. A stream shard ` +
        `serves at most ${MAX_STREAM_READERS} concurrent readers, so the consumer would be one too many ` +
        'and the readers would be throttled (IteratorAge grows for all of them)',
      action:
        'free a slot before deploying the consumer: merge two readers into one function, or fan out ' +
        'from one reader (EventBridge Pipes / SNS), or move a reader to Kinesis Data Streams for DynamoDB. ' +
        'If one of them is the streamfill consumer, pass --consumer-function <name>',
    };
  }
  const message =
    others.length === 0
      ? `no other Lambda function reads the stream${oursNote}`
      : `${others.length} other Lambda function reads the stream${oursNote}: ${list}; with the consumer that makes ${MAX_STREAM_READERS}, the most a shard serves without throttling`;
  return { level: 'ok', check, message, action: invisible };
}

function globalTableFinding(facts: PreflightFacts): Finding {
  const check = 'global-table';
  if (facts.replicas.length === 0) {
    return {
      level: 'ok',
      check,
      message: `${facts.table} is a single-Region table`,
      action: 'none',
    };
  }
  const here = facts.region ?? 'this Region';
  const list = facts.replicas
    .map((r) => (r.status ? `${r.region} (${r.status})` : r.region))
    .join(', ');
  return {
    level: 'warn',
    check,
    message:
      `${facts.table} is a global table with replicas in ${list}: every Region's stream carries ` +
      'every write, the replicated ones included',
    action:
      `run the consumer and the backfill in one home Region only (${here}); the migration's writes ` +
      'replicate to the other Regions by themselves. A consumer per Region would derive every change ' +
      "once per Region (double work, double cost), and each Region's migration writes would come back " +
      'as replicated records to the others (ping-pong, and last-writer-wins conflicts between Regions)',
  };
}

function pitrFinding(facts: PreflightFacts): Finding {
  const check = 'pitr';
  const turnOn =
    `\`aws dynamodb update-continuous-backups --table-name ${facts.table} ` +
    '--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`';
  if ('error' in facts.pitr) {
    return {
      level: 'warn',
      check,
      message: `could not read point-in-time recovery status: ${facts.pitr.error}`,
      action: `make sure point-in-time recovery is on before migrating: ${turnOn}`,
    };
  }
  if (!facts.pitr.enabled) {
    return {
      level: 'warn',
      check,
      message: `point-in-time recovery is off on ${facts.table}`,
      action:
        `turn it on before the migration writes anything, so the table can be restored to any second ` +
        `before it: ${turnOn} (CDK: \`pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true }\`)`,
    };
  }
  return {
    level: 'ok',
    check,
    message: 'point-in-time recovery is on',
    action: 'note the time the backfill starts: it is the restore point if anything goes wrong',
  };
}

const ITEM_SIZE_NOTE =
  'assuming items up to 1 KB: one write costs 1 WCU per started KB of the larger of the old and new item';

function capacityFinding(facts: PreflightFacts, options: PreflightOptions): Finding {
  const check = 'capacity';
  const { capacity } = facts;
  const rate = options.rate;
  if (capacity.mode === 'PAY_PER_REQUEST') {
    const max = capacity.maxWriteRequestUnits;
    if (max !== undefined && rate !== undefined && rate > max) {
      return {
        level: 'fail',
        check,
        message: `on-demand table capped at ${max} write request units/s; --rate ${rate} exceeds it (${ITEM_SIZE_NOTE})`,
        action: `lower --rate well under ${max} (e.g. ${Math.max(1, Math.floor(max / 2))}) or raise the table's maximum write throughput`,
      };
    }
    return {
      level: rate === undefined ? 'warn' : 'ok',
      check,
      message:
        `on-demand capacity: the backfill's writes are billed per request` +
        (rate === undefined
          ? ' and, without --rate, run as fast as the scan goes'
          : `, --rate ${rate} caps them at ${rate} writes/s`) +
        (max !== undefined ? `; the table's maximum is ${max} write request units/s` : ''),
      action:
        rate === undefined
          ? 'pass --rate to bound the load (an on-demand table throttles writes beyond twice its previous peak)'
          : 'an on-demand table throttles writes beyond twice its previous peak: raise --rate gradually',
    };
  }
  // Provisioned: the tightest of the table and its GSIs bounds what the backfill may use.
  const budgets = [
    { name: `table ${facts.table}`, wcu: capacity.writeCapacityUnits },
    ...capacity.indexes.map((i) => ({ name: `index ${i.name}`, wcu: i.writeCapacityUnits })),
  ].filter((b): b is { name: string; wcu: number } => typeof b.wcu === 'number');
  const tightest = budgets.sort((a, b) => a.wcu - b.wcu)[0];
  if (!tightest) {
    return {
      level: 'warn',
      check,
      message: 'provisioned table without a known write capacity',
      action: 'check the provisioned WCU by hand and pass --rate well under it',
    };
  }
  const { wcu, name } = tightest;
  const half = Math.max(1, Math.floor(wcu / 2));
  if (rate === undefined) {
    return {
      level: 'warn',
      check,
      message: `provisioned ${wcu} WCU (${name}) and no --rate: the backfill would write as fast as it can and throttle the application's writes`,
      action: `pass --rate, at most about half the WCU: --rate ${half} (${ITEM_SIZE_NOTE})`,
    };
  }
  const left = wcu - rate;
  const pct = Math.round((left / wcu) * 100);
  const base = `--rate ${rate} writes/s against ${wcu} provisioned WCU (${name})`;
  if (left <= 0) {
    return {
      level: 'fail',
      check,
      message: `${base} leaves no write capacity for the application (${ITEM_SIZE_NOTE})`,
      action: `lower --rate to about half the WCU (--rate ${half}), or raise the provisioned WCU (or switch to on-demand) for the migration`,
    };
  }
  return {
    level: rate > wcu / 2 ? 'warn' : 'ok',
    check,
    message: `${base} leaves ${left} WCU (${pct} %) for the application (${ITEM_SIZE_NOTE})`,
    action:
      rate > wcu / 2
        ? `keep at least half for the application: --rate ${half}, or raise the WCU during the migration`
        : "watch the table's WriteThrottleEvents while the backfill runs; the scanner backs off on throttling",
  };
}

function searchFinding(facts: PreflightFacts, options: PreflightOptions): Finding | undefined {
  const s = facts.search;
  if (!s) return undefined;
  const check = 'search-mapping';
  if ('error' in s) {
    return {
      level: 'warn',
      check,
      message: `could not read the mapping of OpenSearch index ${s.index}: ${s.error}`,
      action:
        'check --search-endpoint and the credentials (SigV4 for Amazon OpenSearch); search updates that ' +
        'fail become repair tasks, they never hold up DynamoDB work',
    };
  }
  if (!s.exists) {
    return {
      level: 'fail',
      check,
      message: `OpenSearch index ${s.index} does not exist`,
      action:
        "set --search-index / STREAMFILL_SEARCH_INDEX to the config's search index, or unset --search-endpoint " +
        'to migrate without the search keywords',
    };
  }
  const fields = options.keywordFields ?? [];
  const conflicts = fields.filter(
    (f) => s.fieldTypes[f] !== undefined && s.fieldTypes[f] !== 'keyword',
  );
  if (conflicts.length) {
    const what = conflicts.map((f) => `${f} is ${s.fieldTypes[f]}`).join(', ');
    return {
      level: 'fail',
      check,
      message:
        `index ${s.index}: ${what}, expected keyword; a mapping cannot change a field's type in place, ` +
        'so the search migration would write nothing',
      action:
        `reindex ${s.index} into a new index whose mapping declares ${fields.join(', ')} as keyword ` +
        '(then move the alias or the app to it), and run preflight again',
    };
  }
  const present = fields.filter((f) => s.fieldTypes[f] === 'keyword');
  const absent = fields.filter((f) => s.fieldTypes[f] === undefined);
  return {
    level: 'ok',
    check,
    message:
      `index ${s.index}: ` +
      [
        present.length ? `already keyword: ${present.join(', ')}` : '',
        absent.length ? `to be added as keyword: ${absent.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    action: absent.length ? 'the backfill adds them first (additive mapping update)' : 'none',
  };
}
