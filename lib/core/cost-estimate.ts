// What a backfill costs at on-demand prices: read units of the scan, write units of the
// migration writes on the table and on every GSI a written attribute touches. Pure math; the
// facts (consumed capacity, item size, index shapes) are gathered by the caller.

/** On-demand request prices in USD per million request units. */
export interface OnDemandPrices {
  readPerMillion: number;
  writePerMillion: number;
  /** Where the numbers come from (shown next to the estimate). */
  source: string;
}

/**
 * us-east-1, Standard table class, on-demand capacity, as published by AWS with the price cut
 * effective 1 Nov 2024 (read 2025-01): $0.125 per million read request units, $0.625 per
 * million write request units. Other Regions and the Standard-IA class differ: pass
 * `--price-read-per-million` / `--price-write-per-million`.
 */
export const DEFAULT_PRICES: OnDemandPrices = {
  readPerMillion: 0.125,
  writePerMillion: 0.625,
  source: 'us-east-1 on-demand, Standard table class (AWS price list effective 2024-11-01)',
};

/** A GSI as DescribeTable describes it. */
export interface IndexShape {
  name: string;
  /** Its key attributes (partition and sort). */
  keys: readonly string[];
  projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  /** NonKeyAttributes of an INCLUDE projection. */
  include?: readonly string[];
}

/**
 * The indexes a write of `written` attributes also writes to: those whose key or projection
 * includes one of them (a KEYS_ONLY index only through its keys).
 */
export function indexesTouched(
  indexes: readonly IndexShape[],
  written: readonly string[],
): IndexShape[] {
  return indexes.filter((ix) =>
    written.some(
      (a) =>
        ix.keys.includes(a) ||
        ix.projection === 'ALL' ||
        (ix.projection === 'INCLUDE' && (ix.include ?? []).includes(a)),
    ),
  );
}

/** One write request unit per started KB; one eventually consistent read unit per 2 × 4 KB. */
export const WRITE_UNIT_BYTES = 1_024;
export const READ_UNIT_BYTES = 4_096;

export interface CostInput {
  /** Items the scan examined. */
  scanned: number;
  /** Read units the scan reported (ConsumedCapacity); 0 or undefined: estimated from sizes. */
  consumedReadUnits?: number;
  /** Items that are (or would be) written. */
  writes: number;
  /** Average item size in bytes (DescribeTable TableSizeBytes / ItemCount), if known. */
  averageItemBytes?: number;
  /** Attributes the writes set or remove. */
  written: readonly string[];
  indexes: readonly IndexShape[];
  prices?: OnDemandPrices;
}

export interface CostEstimate {
  readUnits: number;
  /** `consumed-capacity` when DynamoDB reported it, else `item-size`. */
  readBasis: 'consumed-capacity' | 'item-size';
  tableWriteUnits: number;
  indexWriteUnits: number;
  writeUnits: number;
  /** Names of the GSIs the writes touch. */
  indexesTouched: string[];
  usd: { read: number; write: number; total: number };
  prices: OnDemandPrices;
  /** What the numbers assume, for the operator to judge. */
  assumptions: string[];
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

/** The estimate; every assumption it makes is listed in `assumptions`. */
export function estimateCost(input: CostInput): CostEstimate {
  const prices = input.prices ?? DEFAULT_PRICES;
  for (const [name, v] of [
    ['scanned', input.scanned],
    ['writes', input.writes],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be >= 0, got ${v}`);
  }
  const assumptions: string[] = [];
  const itemBytes =
    input.averageItemBytes && input.averageItemBytes > 0 ? input.averageItemBytes : undefined;
  const size = itemBytes ?? WRITE_UNIT_BYTES;
  if (!itemBytes) assumptions.push('item size unknown (empty table statistics): 1 KB assumed');

  let readUnits: number;
  let readBasis: CostEstimate['readBasis'];
  if (input.consumedReadUnits && input.consumedReadUnits > 0) {
    readUnits = input.consumedReadUnits;
    readBasis = 'consumed-capacity';
  } else {
    // A Scan is charged on the full size of the items it examines, summed per page.
    readUnits = Math.ceil((input.scanned * size) / READ_UNIT_BYTES) * 0.5;
    readBasis = 'item-size';
    assumptions.push(
      'scan reads estimated from the item size (eventually consistent, 0.5 unit per 4 KB)',
    );
  }
  // UpdateItem: one unit per started KB of the larger of the old and new item; the derived
  // attributes are small, so the item's size stands for both.
  const perWrite = Math.max(1, Math.ceil(size / WRITE_UNIT_BYTES));
  const tableWriteUnits = input.writes * perWrite;
  const touched = indexesTouched(input.indexes, input.written);
  // An index entry is at most the item (ALL) and at least one unit.
  const indexWriteUnits = touched.length * input.writes * perWrite;
  if (touched.length) {
    assumptions.push(
      `each write also writes ${touched.map((i) => i.name).join(', ')} once (twice when it changes an existing index key)`,
    );
  }
  const writeUnits = tableWriteUnits + indexWriteUnits;
  const read = (readUnits / 1e6) * prices.readPerMillion;
  const write = (writeUnits / 1e6) * prices.writePerMillion;
  return {
    readUnits,
    readBasis,
    tableWriteUnits,
    indexWriteUnits,
    writeUnits,
    indexesTouched: touched.map((i) => i.name),
    usd: { read: round6(read), write: round6(write), total: round6(read + write) },
    prices,
    assumptions,
  };
}

const usd = (n: number): string => (n < 0.01 && n > 0 ? `$${n.toFixed(6)}` : `$${n.toFixed(2)}`);

/** `~$0.42 (scan 1,234 RRU $0.0002, writes 5,000 WRU incl. GSI by-app $0.0031)`. */
export function describeCost(c: CostEstimate): string {
  const n = new Intl.NumberFormat('en-US');
  const gsi = c.indexesTouched.length ? ` incl. ${c.indexesTouched.join(', ')}` : '';
  return (
    `~${usd(c.usd.total)}: scan ${n.format(c.readUnits)} read units (${c.readBasis}) ${usd(c.usd.read)}, ` +
    `writes ${n.format(c.writeUnits)} write units${gsi} ${usd(c.usd.write)} — ${c.prices.source}`
  );
}
