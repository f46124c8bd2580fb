// What the backfill shows: its progress (a bar on a TTY, plain lines elsewhere) and its closing
// summary. Also the demo's view of its backfill.
import cliProgress from 'cli-progress';
import { describeCost } from '../../../lib/core/cost-estimate.ts';
import { formatKey } from '../../../lib/core/key-format.ts';
import { formatWait } from '../../../lib/core/throttle.ts';
import type { BackfillProgress, BackfillSummary } from '../../../lib/engine/backfill.ts';

const count = new Intl.NumberFormat('en-US');

/** The limits part of the progress line: what is in force, and the last change with its author. */
function renderLimits(p: BackfillProgress): string {
  const rate = p.limits.rate === null ? 'no rate limit' : `rate ≤ ${count.format(p.limits.rate)}/s`;
  return p.limitsChange ? `${rate} (${p.limitsChange})` : rate;
}

/** `skipped 1,200 (1,180 settled)`: what the scan left out, and how much the planner filter did. */
function renderSkipped(skipped: number, settled: number): string {
  return `${count.format(skipped)}${settled ? ` (${count.format(settled)} settled)` : ''}`;
}

function renderLine(p: BackfillProgress): string {
  const pct = p.fraction === undefined ? '?' : `${(p.fraction * 100).toFixed(1)} %`;
  return (
    `${pct} | scanned ${count.format(p.scanned)} | enqueued ${count.format(p.enqueued)} | skipped ${renderSkipped(p.skipped, p.skippedSettled)} | ` +
    (p.unsendable ? `parked ${count.format(p.unsendable)} | ` : '') +
    `${count.format(Math.round(p.ratePerSecond))} items/s | segments ${p.segmentsDone}/${p.totalSegments} | ${p.etaText} | ` +
    `${renderLimits(p)} | ` +
    (p.waiting
      ? `${p.waiting}${p.waitingLanes > 1 ? ` (${p.waitingLanes} lanes waiting)` : ''}`
      : 'not waiting')
  );
}

/**
 * A progress bar on a TTY; elsewhere (CI, pipes) a plain line every `intervalMs`. Also the
 * demo's view of its backfill.
 */
export function progressView(
  tty: boolean,
  intervalMs: number,
): { update: (p: BackfillProgress) => void; stop: () => void } {
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          '{bar} {pct} | scanned {scanned} | enqueued {enqueued} | skipped {skipped} | {rate} items/s | {eta}\n  ↳ {wait}',
        hideCursor: true,
        barsize: 24,
        etaBuffer: 1,
        fps: 5,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p) => {
        const payload = {
          pct: p.fraction === undefined ? '  ? %' : `${(p.fraction * 100).toFixed(1)} %`,
          scanned: count.format(p.scanned),
          enqueued: count.format(p.enqueued),
          skipped: renderSkipped(p.skipped, p.skippedSettled),
          rate: count.format(Math.round(p.ratePerSecond)),
          eta: `${p.etaText} · segments ${p.segmentsDone}/${p.totalSegments}`,
          wait:
            (p.waiting
              ? `${p.waiting}${p.waitingLanes > 1 ? ` (${p.waitingLanes} lanes waiting)` : ''}`
              : 'not waiting') + ` · ${renderLimits(p)}`,
        };
        const value = Math.round((p.fraction ?? 0) * 1000);
        if (!started) {
          bar.start(1000, value, payload);
          started = true;
        } else bar.update(value, payload);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let lastWait: string | undefined;
  let lastChange: string | undefined;
  return {
    update: (p) => {
      const t = Date.now();
      // Always show a new wait reason or limits change at once; otherwise a line every interval.
      if (
        t - last >= intervalMs ||
        (p.waiting && p.waiting !== lastWait) ||
        p.limitsChange !== lastChange ||
        p.phase === 'done'
      ) {
        last = t;
        lastWait = p.waiting;
        lastChange = p.limitsChange;
        console.log(`backfill: ${renderLine(p)}`);
      }
    },
    stop: () => {},
  };
}

/** The backfill's closing lines: counts, rates, waits, problems and the cost estimate. */
export function renderSummary(s: BackfillSummary): string {
  const lines: string[] = [];
  const head = s.dryRun ? 'dry run' : s.mode === 'distributed' ? 'distributed' : s.outcome;
  lines.push(
    `backfill ${s.tableName} (${s.table}, ${head}${s.runId ? `, run ${s.runId}` : ''}): scanned ${count.format(s.scanned)}, ` +
      `${s.dryRun ? 'would enqueue' : 'enqueued'} ${count.format(s.dryRun ? s.scanned - s.skipped : s.enqueued)} in ${count.format(s.messages)} messages, ` +
      `${s.dryRun ? 'would skip' : 'skipped'} ${count.format(s.skipped)} (${count.format(s.skippedSettled)} settled by the planner filter; the rest canaries, --keys not found) in ${formatWait(s.durationMs)} — ${count.format(Math.round(s.scannedPerSecond))} scanned/s, ${count.format(Math.round(s.enqueuedPerSecond))} enqueued/s`,
  );
  lines.push(`  filter: ${s.filter}`);
  if (s.dryRunCounts) {
    const d = s.dryRunCounts;
    lines.push(
      `  plan: ${count.format(d.wouldWrite)} would be written, ${count.format(d.searchOnly)} search-only, ${count.format(d.unchanged)} need nothing, ` +
        `${count.format(d.expired)} expired (left to TTL), ${count.format(d.malformed)} malformed`,
    );
    if (s.samples?.length) {
      lines.push('  samples (before → after; planned as the worker would, lookups read for real):');
      for (const x of s.samples) {
        lines.push(`    ${formatKey(x.key)}`);
        for (const c of x.changes) {
          lines.push(
            `      ${c.attribute}: ${c.before === undefined ? '(absent)' : JSON.stringify(c.before)} → ${c.after === undefined ? '(removed)' : JSON.stringify(c.after)}`,
          );
        }
        if (x.search) lines.push(`      search doc: ${JSON.stringify(x.search)}`);
      }
    }
  }
  const waits = Object.entries(s.waits);
  if (waits.length) {
    lines.push(
      `  waits: ${waits.map(([k, w]) => `${k} ×${w.count} (${formatWait(w.laneMs)} lane time; last: ${w.last})`).join('; ')}`,
    );
  }
  if (s.missingKeys?.length) {
    lines.push(
      `  ${s.missingKeys.length} key(s) not in the table: ${s.missingKeys.slice(0, 10).map(formatKey).join('; ')}${s.missingKeys.length > 10 ? ' …' : ''}`,
    );
  }
  if (s.unsendable)
    lines.push(
      `  ${s.unsendable} item(s) could not be carried to the worker (malformed or too large for a message): ` +
        (s.parked === s.unsendable
          ? 'each parked in the DLQ with its reason (see problems)'
          : `${s.parked} parked in the DLQ, the rest only listed (see problems)`),
    );
  for (const p of s.problems) lines.push(`  problem: ${p}`);
  lines.push(`  cost estimate: ${describeCost(s.cost)}`);
  for (const a of s.cost.assumptions) lines.push(`    (${a})`);
  return lines.join('\n');
}
