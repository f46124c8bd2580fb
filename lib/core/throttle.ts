// The backfill throttler's pure decision logic (gh-ost style: it only observes and decides):
// a token bucket for --rate, back-off driven by DynamoDB ThrottlingReasons, pause conditions.
// Every "wait" carries a human-readable reason so progress output can say what it waits on.

/** Milliseconds since some epoch; injected so tests drive time. */
export type Clock = () => number;

const count = new Intl.NumberFormat('en-US');

/** `800 ms`, `1.6 s`, `2 min 5 s`. */
export function formatWait(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const s = Math.round(ms / 1_000);
  return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
}

// ---------------------------------------------------------------------------------------------
// Token bucket

/**
 * `rate` tokens per second, at most `burst` saved up. `reserve(n)` takes n tokens at once and
 * returns how long the caller must wait before acting on them: a page larger than the burst
 * still goes through, it just waits for its tokens (the bucket goes into debt), so the long-run
 * rate holds whatever the page size.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;

  constructor(
    readonly ratePerSecond: number,
    options: { burst?: number; now?: Clock } = {},
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new RangeError(`rate must be a positive number of items/s, got ${ratePerSecond}`);
    }
    this.burst = options.burst ?? Math.max(1, Math.ceil(ratePerSecond));
    if (!(this.burst >= 1)) throw new RangeError(`burst must be >= 1, got ${this.burst}`);
    this.now = options.now ?? Date.now;
    this.last = this.now();
    this.tokens = this.burst;
  }

  private readonly now: Clock;

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1_000);
  }

  /** Tokens available now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `n` tokens; returns the ms to wait before using them (0 = go now). */
  reserve(n: number): number {
    if (!(n >= 0)) throw new RangeError(`cannot reserve ${n} tokens`);
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1_000) / this.ratePerSecond);
  }
}

// ---------------------------------------------------------------------------------------------
// DynamoDB throttling reasons

/** As DynamoDB returns it: `reason` = ResourceType + OperationType + LimitType, `resource` an ARN. */
export interface ThrottlingReason {
  reason?: string;
  resource?: string;
}

export type ThrottleLimit =
  | 'ProvisionedThroughputExceeded'
  | 'AccountLimitExceeded'
  | 'KeyRangeThroughputExceeded'
  | 'MaxOnDemandThroughputExceeded';

export interface ClassifiedReason {
  /** `segment`: a hot key range, slow only the lane that hit it; `all`: a table/index/account limit. */
  scope: 'segment' | 'all';
  resourceType?: 'Table' | 'Index';
  operation?: 'Read' | 'Write';
  limit?: ThrottleLimit;
  text: string;
}

const REASON_RE =
  /^(Table|Index)(Read|Write)(ProvisionedThroughputExceeded|AccountLimitExceeded|KeyRangeThroughputExceeded|MaxOnDemandThroughputExceeded)$/;

/** `arn:aws:dynamodb:r:a:table/chat-session-prod/index/by-app` → `chat-session-prod/index/by-app`. */
export function resourceName(resource: string | undefined): string | undefined {
  if (!resource) return undefined;
  const i = resource.indexOf(':table/');
  return i === -1 ? resource : resource.slice(i + ':table/'.length);
}

/**
 * Only a key-range reason is local to the keys a segment touches; every other limit (and an
 * unknown or missing reason, e.g. from an older endpoint) is shared, so everything slows down.
 */
export function classifyThrottlingReason(r: ThrottlingReason): ClassifiedReason {
  const name = resourceName(r.resource);
  const text = `${r.reason ?? 'throttled (no reason given)'}${name ? ` on ${name}` : ''}`;
  const m = r.reason ? REASON_RE.exec(r.reason) : null;
  if (!m) return { scope: 'all', text };
  const limit = m[3] as ThrottleLimit;
  return {
    scope: limit === 'KeyRangeThroughputExceeded' ? 'segment' : 'all',
    resourceType: m[1] as 'Table' | 'Index',
    operation: m[2] as 'Read' | 'Write',
    limit,
    text,
  };
}

// ---------------------------------------------------------------------------------------------
// Back-off

export interface BackoffOptions {
  /** First back-off, ms (default 100). */
  baseMs?: number;
  /** Longest back-off, ms (default 20 s). */
  capMs?: number;
  random?: () => number;
  now?: Clock;
}

interface Lane {
  level: number;
  until: number;
  reason: string;
}

export interface BackoffWait {
  waitMs: number;
  reason: string;
}

/**
 * Exponential back-off with jitter per lane ("segment") and for everything. A throttle raises
 * the level of the lane(s) its reasons name; each success lowers it by one, so the pace
 * recovers step by step instead of jumping back to the rate that was throttled.
 */
export class ThrottleBackoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private readonly now: Clock;
  private readonly lanes = new Map<number, Lane>();
  private readonly all: Lane = { level: 0, until: 0, reason: '' };

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 100;
    this.capMs = options.capMs ?? 20_000;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) {
      throw new RangeError(`back-off needs 0 < baseMs <= capMs, got ${this.baseMs}, ${this.capMs}`);
    }
  }

  // "Equal jitter": half fixed, half random, so a throttled lane always waits a real while
  // and lanes throttled together do not come back in lock-step.
  private delay(level: number): number {
    const d = Math.min(this.capMs, this.baseMs * 2 ** (level - 1));
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  private lane(segment: number): Lane {
    let l = this.lanes.get(segment);
    if (!l) this.lanes.set(segment, (l = { level: 0, until: 0, reason: '' }));
    return l;
  }

  /** Records a throttled request of `segment`; returns the wait it imposes, with its reason. */
  onThrottle(segment: number, reasons: readonly ThrottlingReason[]): BackoffWait {
    const classified = (reasons.length ? reasons : [{}]).map(classifyThrottlingReason);
    const shared = classified.filter((c) => c.scope === 'all');
    const now = this.now();
    const target = shared.length ? this.all : this.lane(segment);
    const why = (shared.length ? shared : classified).map((c) => c.text).join(', ');
    target.level++;
    const waitMs = this.delay(target.level);
    target.until = Math.max(target.until, now + waitMs);
    target.reason = shared.length
      ? `all segments backing off ${formatWait(waitMs)}: ${why}`
      : `segment ${segment} backing off ${formatWait(waitMs)}: ${why}`;
    return { waitMs, reason: target.reason };
  }

  /** A request of `segment` succeeded: one step of recovery for it and for the shared level. */
  onSuccess(segment: number): void {
    const l = this.lanes.get(segment);
    if (l && l.level > 0) l.level--;
    if (this.all.level > 0) this.all.level--;
  }

  /** The back-off `segment` must still sit out now, if any (the longer of its own and the shared). */
  waitFor(segment: number): BackoffWait | undefined {
    const now = this.now();
    const own = this.lanes.get(segment);
    const candidates = [this.all, ...(own ? [own] : [])].filter((l) => l.until > now);
    if (!candidates.length) return undefined;
    const l = candidates.reduce((a, b) => (b.until > a.until ? b : a));
    return { waitMs: l.until - now, reason: l.reason };
  }

  /** Current levels, for status output and tests. */
  levels(): { all: number; segments: Record<number, number> } {
    const segments: Record<number, number> = {};
    for (const [s, l] of this.lanes) if (l.level) segments[s] = l.level;
    return { all: this.all.level, segments };
  }
}

// ---------------------------------------------------------------------------------------------
// Pause conditions

/** What the throttler last saw of the world; any field may be unknown. */
export interface Observations {
  /** `backfill pause` (or a signal) is in effect. */
  operatorPaused?: boolean;
  /** Work-queue messages visible + in flight + delayed. */
  queueBacklog?: number;
  /** How far the stream consumer is behind, ms (IteratorAge / local lag). */
  streamLagMs?: number;
  /** The consumer's heartbeat; undefined when none was ever published. */
  consumer?: { caughtUp: boolean; heartbeatAtMs: number; lagMs?: number };
}

export interface PauseBounds {
  /** Pause while the work-queue backlog exceeds this (messages). */
  maxQueueBacklog?: number;
  /** Pause while the stream lag exceeds this. */
  maxStreamLagMs?: number;
  /** Require a live, caught-up consumer (false with --no-wait-for-consumer). */
  requireConsumer?: boolean;
  /** A heartbeat older than this means the consumer is not running (default 60 s). */
  heartbeatStaleMs?: number;
}

/** Why work must pause now, or undefined to go on. Checks in order of what an operator must fix. */
export function pauseReason(
  obs: Observations,
  bounds: PauseBounds,
  nowMs: number,
): string | undefined {
  if (obs.operatorPaused) return 'paused by operator (`streamfill backfill resume` continues)';
  if (bounds.requireConsumer) {
    const c = obs.consumer;
    const stale = bounds.heartbeatStaleMs ?? 60_000;
    if (!c) return 'waiting: no stream consumer heartbeat yet (is `streamfill run` running?)';
    const age = nowMs - c.heartbeatAtMs;
    if (age > stale) {
      return `waiting: stream consumer heartbeat stale (last ${formatWait(age)} ago > ${formatWait(stale)})`;
    }
    if (!c.caughtUp) {
      return `waiting: stream consumer not caught up${c.lagMs === undefined ? '' : ` (lag ${formatWait(c.lagMs)})`}`;
    }
  }
  if (
    bounds.maxStreamLagMs !== undefined &&
    obs.streamLagMs !== undefined &&
    obs.streamLagMs > bounds.maxStreamLagMs
  ) {
    return `waiting: stream lag ${formatWait(obs.streamLagMs)} > ${formatWait(bounds.maxStreamLagMs)}`;
  }
  if (
    bounds.maxQueueBacklog !== undefined &&
    obs.queueBacklog !== undefined &&
    obs.queueBacklog > bounds.maxQueueBacklog
  ) {
    return `waiting: work queue backlog ${count.format(obs.queueBacklog)} > ${count.format(bounds.maxQueueBacklog)}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The throttler

export type Decision =
  { go: true } | { go: false; kind: 'paused' | 'backoff' | 'rate'; waitMs: number; reason: string };

export interface ThrottlerOptions extends PauseBounds {
  /** --rate items/s; undefined = unlimited. */
  rate?: number;
  /** Items the bucket may save up (default one second's worth). */
  burst?: number;
  backoff?: Omit<BackoffOptions, 'now' | 'random'>;
  /** How long to wait before re-checking a pause condition (default 1 s). */
  pollMs?: number;
  now?: Clock;
  random?: () => number;
}

/**
 * Combines the three: pause conditions (from the latest observations), back-off, and the rate.
 * A scanner asks `beforePage(segment)` before each read, `reserve(n)` for the items it read,
 * reports `onThrottle` / `onSuccess`, and sleeps `waitMs` showing `reason` whenever told to.
 */
export class Throttler {
  private obs: Observations = {};
  private bucket: TokenBucket | undefined;
  readonly backoff: ThrottleBackoff;
  private readonly now: Clock;
  private readonly pollMs: number;
  private readonly options: ThrottlerOptions;

  constructor(options: ThrottlerOptions = {}) {
    this.options = { ...options };
    this.now = options.now ?? Date.now;
    this.pollMs = options.pollMs ?? 1_000;
    this.bucket =
      options.rate === undefined
        ? undefined
        : new TokenBucket(options.rate, {
            now: this.now,
            ...(options.burst !== undefined && { burst: options.burst }),
          });
    this.backoff = new ThrottleBackoff({
      ...options.backoff,
      now: this.now,
      ...(options.random && { random: options.random }),
    });
  }

  /**
   * Changes the limits of a running scan (`backfill set`): `rate` null = unlimited; fields left
   * out keep their value. A new rate starts a fresh bucket (no debt carried over).
   */
  setLimits(l: { rate?: number | null; maxQueueBacklog?: number; maxStreamLagMs?: number }): void {
    if (l.rate !== undefined) {
      this.bucket =
        l.rate === null
          ? undefined
          : new TokenBucket(l.rate, {
              now: this.now,
              ...(this.options.burst !== undefined && { burst: this.options.burst }),
            });
    }
    if (l.maxQueueBacklog !== undefined) this.options.maxQueueBacklog = l.maxQueueBacklog;
    if (l.maxStreamLagMs !== undefined) this.options.maxStreamLagMs = l.maxStreamLagMs;
  }

  /** The limits in force now. */
  limits(): { rate: number | null; maxQueueBacklog?: number; maxStreamLagMs?: number } {
    return {
      rate: this.bucket?.ratePerSecond ?? null,
      ...(this.options.maxQueueBacklog !== undefined && {
        maxQueueBacklog: this.options.maxQueueBacklog,
      }),
      ...(this.options.maxStreamLagMs !== undefined && {
        maxStreamLagMs: this.options.maxStreamLagMs,
      }),
    };
  }

  /** Merges new observations (fields left out keep their last value). */
  observe(update: Observations): void {
    this.obs = { ...this.obs, ...update };
  }

  observations(): Observations {
    return this.obs;
  }

  /** May `segment` read its next page now? */
  beforePage(segment: number): Decision {
    const paused = pauseReason(this.obs, this.options, this.now());
    if (paused) return { go: false, kind: 'paused', waitMs: this.pollMs, reason: paused };
    const b = this.backoff.waitFor(segment);
    if (b) return { go: false, kind: 'backoff', ...b };
    return { go: true };
  }

  /** Takes `items` from the rate budget; the wait (if any) is before they may be enqueued. */
  reserve(items: number): Decision {
    if (!this.bucket) return { go: true };
    const waitMs = this.bucket.reserve(items);
    if (waitMs === 0) return { go: true };
    return {
      go: false,
      kind: 'rate',
      waitMs,
      reason: `rate limit ${count.format(this.bucket.ratePerSecond)} items/s: waiting ${formatWait(waitMs)}`,
    };
  }

  onThrottle(segment: number, reasons: readonly ThrottlingReason[]): Decision {
    return { go: false, kind: 'backoff', ...this.backoff.onThrottle(segment, reasons) };
  }

  onSuccess(segment: number): void {
    this.backoff.onSuccess(segment);
  }
}
