// Stops a timed-out in-process invocation's work, as Lambda stops a timed-out function.
//
// AWS: when an invocation exceeds its timeout, Lambda stops it ("Task timed out after N
// seconds"; the execution environment is shut down and re-initialized), so nothing that function
// would have written afterwards ever reaches DynamoDB, SQS or OpenSearch. In-process we cannot kill
// a promise, so each invocation runs in its own async context carrying an AbortSignal that fires at
// the deadline, and the clients the handler uses are fenced:
// - AWS SDK v3 clients: every attempt (retries included) checks the signal before it is sent, and
//   the HTTP request in flight at the deadline is aborted;
// - the OpenSearch client: a request checks it before it starts, and the deadline aborts it (its
//   own retries included).
// A request already on the wire at the deadline may still be applied by the server, exactly as a
// request sent just before Lambda stops a function may be.

import { AsyncLocalStorage } from 'node:async_hooks';

interface Invocation {
  readonly signal: AbortSignal;
  readonly label: string;
}

const current = new AsyncLocalStorage<Invocation>();

/** Thrown (or rejected) for a request an invocation tries to make after its deadline. */
export class InvocationStoppedError extends Error {
  constructor(label: string) {
    super(
      `${label}: the invocation timed out; Lambda would have stopped it, so this request is not sent`,
    );
    this.name = 'InvocationStoppedError';
  }
}

/** Runs `fn` as one invocation: requests made inside it stop once `signal` aborts. */
export function runFenced<R>(signal: AbortSignal, label: string, fn: () => Promise<R>): Promise<R> {
  return current.run({ signal, label }, fn);
}

/** The invocation the caller runs in, if any. */
function stoppedInvocation(): Invocation | undefined {
  const inv = current.getStore();
  return inv?.signal.aborted ? inv : undefined;
}

const FENCED = Symbol.for('streamfill.invocationFence');

type Marked = { [FENCED]?: true };

interface SdkClientLike {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'finalizeRequest'; priority: 'low'; name: string },
    ): void;
  };
  config: {
    requestHandler?: unknown;
  };
}

interface RequestHandlerLike {
  handle(request: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Fences an AWS SDK v3 client (a DocumentClient shares its client's stack: fence the client). */
export function fenceSdkClient(sdkClient: { middlewareStack: object; config: object }): void {
  // Typed loosely: every SDK v3 client has these, with generics this module need not know.
  const client = sdkClient as SdkClientLike;
  const marked = client as SdkClientLike & Marked;
  if (marked[FENCED]) return;
  marked[FENCED] = true;
  // finalizeRequest, low priority: inside the retry middleware, so every attempt is checked.
  client.middlewareStack.add(
    (next) => async (args) => {
      const stopped = stoppedInvocation();
      if (stopped) throw new InvocationStoppedError(stopped.label);
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'streamfillInvocationFence' },
  );
  const handler = client.config.requestHandler as (RequestHandlerLike & Marked) | undefined;
  if (handler && typeof handler.handle === 'function' && !handler[FENCED]) {
    handler[FENCED] = true;
    const handle = handler.handle.bind(handler);
    handler.handle = (request, options) => {
      const inv = current.getStore();
      if (!inv || options?.abortSignal) return handle(request, options);
      return handle(request, { ...options, abortSignal: inv.signal });
    };
  }
}

interface TransportReturn {
  abort(): unknown;
}

interface OpenSearchLike {
  transport: {
    request(params: unknown, options?: unknown, callback?: unknown): unknown;
  };
}

/** Fences an OpenSearch client: no request starts, and none goes on, after the deadline. */
export function fenceOpenSearchClient(client: OpenSearchLike): void {
  const transport = client.transport as OpenSearchLike['transport'] & Marked;
  if (transport[FENCED]) return;
  transport[FENCED] = true;
  const request = transport.request.bind(transport);
  transport.request = (params, options, callback) => {
    const inv = current.getStore();
    if (!inv) return request(params, options, callback);
    const cb = typeof options === 'function' ? options : callback;
    if (inv.signal.aborted) {
      const err = new InvocationStoppedError(inv.label);
      if (typeof cb === 'function') {
        process.nextTick(cb as (e: Error) => void, err);
        return { abort: () => undefined };
      }
      return Promise.reject(err);
    }
    let ret: TransportReturn | undefined;
    const abort = () => ret?.abort();
    const done = () => inv.signal.removeEventListener('abort', abort);
    inv.signal.addEventListener('abort', abort, { once: true });
    if (typeof cb === 'function') {
      const wrapped = (...args: unknown[]) => {
        done();
        (cb as (...a: unknown[]) => void)(...args);
      };
      ret = request(
        params,
        typeof options === 'function' ? wrapped : options,
        wrapped,
      ) as TransportReturn;
    } else {
      const promised = request(params, options) as TransportReturn & PromiseLike<unknown>;
      ret = promised;
      promised.then(done, done);
    }
    return ret;
  };
}
