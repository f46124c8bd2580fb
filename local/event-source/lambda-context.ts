// A Lambda `Context` for in-process invocations by the local event source mappings.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Context } from 'aws-lambda';
import { runFenced } from './invocation-fence.ts';

export interface LambdaContextOptions {
  functionName: string;
  functionVersion?: string;
  /** Function timeout; `getRemainingTimeInMillis()` counts down from it. Default 60 s. */
  timeoutMs?: number;
  memoryLimitInMB?: number;
  region?: string;
  accountId?: string;
  /** Default: a fresh random UUID per context (one context per invocation, as in Lambda). */
  awsRequestId?: string;
  /** Clock for tests. */
  now?: () => number;
}

export const DEFAULT_FUNCTION_TIMEOUT_MS = 60_000;
export const LOCAL_ACCOUNT_ID = '000000000000';

export function functionArn(
  functionName: string,
  region = 'us-east-1',
  accountId = LOCAL_ACCOUNT_ID,
): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${functionName}`;
}

/** `YYYY/MM/DD/[$LATEST]<32 hex>` like Lambda's log stream names. */
function logStreamName(version: string, at: Date): string {
  const day = at.toISOString().slice(0, 10).replace(/-/g, '/');
  return `${day}/[${version}]${randomUUID().replace(/-/g, '')}`;
}

/** One context per invocation; its deadline starts now. */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
  const version = options.functionVersion ?? '$LATEST';
  const deadline = now() + timeoutMs;
  const unsupported = (name: string) => () => {
    throw new Error(
      `context.${name}() is not supported by the local runner: return a promise from the handler`,
    );
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: version,
    invokedFunctionArn: functionArn(options.functionName, options.region, options.accountId),
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: options.awsRequestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: logStreamName(version, new Date(now())),
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

export class FunctionTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

export type InvocationOutcome<R> =
  | { ok: true; result: R; durationMs: number }
  | { ok: false; error: Error; timedOut: boolean; durationMs: number };

/** After a timeout, how long a still-running handler is waited for before it is abandoned. */
export const DEFAULT_TIMEOUT_GRACE_MS = 10_000;

/**
 * Invoke a handler as Lambda would: a thrown error or a rejected promise is a function error,
 * and exceeding the timeout is one too (`Task timed out after N seconds`). Lambda stops a
 * timed-out function; in-process its fenced clients refuse every request from the deadline on
 * and abort the ones in flight (invocation-fence.ts), so the late handler writes nothing. We
 * still wait (up to `graceMs`) for it to settle before returning, so that a retry does not
 * overlap it; one that hangs beyond that is abandoned (it cannot block `stop()`).
 */
export async function invokeHandler<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
  context: Context,
  timeoutMs: number,
  graceMs = DEFAULT_TIMEOUT_GRACE_MS,
): Promise<InvocationOutcome<R>> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  // At the deadline the invocation's requests stop (invocation-fence.ts), as Lambda stops it.
  const deadline = new AbortController();
  // Every request in flight listens to it (the writer alone keeps 16 in flight).
  setMaxListeners(0, deadline.signal);
  const run = runFenced(
    deadline.signal,
    `${context.functionName} ${context.awsRequestId}`,
    async () => handler(event, context),
  );
  const outcome = await Promise.race([
    run.then(
      (result) => ({ ok: true as const, result }),
      (err: unknown) => ({ ok: false as const, error: toError(err) }),
    ),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    timedOut = true;
    deadline.abort(new FunctionTimeoutError(timeoutMs));
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      run.catch(() => undefined),
      new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(graceTimer);
    return {
      ok: false,
      error: new FunctionTimeoutError(timeoutMs),
      timedOut,
      durationMs: performance.now() - started,
    };
  }
  const durationMs = performance.now() - started;
  return outcome.ok ? { ...outcome, durationMs } : { ...outcome, timedOut, durationMs };
}

export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  let text: string;
  try {
    text = JSON.stringify(err) ?? String(err);
  } catch {
    text = String(err);
  }
  return new Error(text);
}

// ---------------------------------------------------------------------------------------
// Shared by both mappings

/** Structured logger; `console` and the Powertools Logger both fit. */
export interface EventSourceLogger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info(message: string, details?: Record<string, unknown>): void;
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** Default: quiet about routine work, loud about trouble. */
export const defaultLogger: EventSourceLogger = {
  info: () => undefined,
  warn: (message, details) => console.warn(`[event-source] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[event-source] ${message}`, details ?? ''),
};

/** setTimeout as a promise that resolves early (never rejects) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
