import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FileCheckpointStore,
  MemoryCheckpointStore,
  SHARD_END,
} from '../../../local/event-source/checkpoint.ts';
import {
  createLambdaContext,
  FunctionTimeoutError,
  invokeHandler,
} from '../../../local/event-source/lambda-context.ts';

const ARN =
  'arn:aws:dynamodb:ddblocal:000000000000:table/chat-session-local/stream/2026-11-21T23:32:33.721';
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('FileCheckpointStore', () => {
  it('persists per stream across instances, atomically (no temp files left)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cp-'));
    dirs.push(dir);
    const a = new FileCheckpointStore(dir);
    expect(await a.load(ARN)).toEqual({});
    await Promise.all([a.save(ARN, 's1', '10'), a.save(ARN, 's2', '20'), a.save(ARN, 's1', '11')]);
    await a.save(ARN, 's0', SHARD_END);
    await a.save(`${ARN}-other`, 's1', '99');

    const b = new FileCheckpointStore(dir);
    expect(await b.load(ARN)).toEqual({ s0: SHARD_END, s1: '11', s2: '20' });
    expect(await b.load(`${ARN}-other`)).toEqual({ s1: '99' });
    const files = await readdir(dir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files).toHaveLength(2);
    expect(JSON.parse(await readFile(b.fileFor(ARN), 'utf8'))).toMatchObject({
      streamArn: ARN,
      shards: { s1: '11' },
    });
  });

  it('load returns a copy', async () => {
    const store = new MemoryCheckpointStore();
    await store.save(ARN, 's', '1');
    const loaded = await store.load(ARN);
    loaded.s = '2';
    expect(await store.load(ARN)).toEqual({ s: '1' });
  });
});

describe('lambda context', () => {
  it('looks like Lambda and counts down from the timeout', () => {
    let t = 1_000;
    const ctx = createLambdaContext({ functionName: 'fn', timeoutMs: 5_000, now: () => t });
    expect(ctx.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:fn');
    expect(ctx.logGroupName).toBe('/aws/lambda/fn');
    expect(ctx.functionVersion).toBe('$LATEST');
    expect(ctx.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx.getRemainingTimeInMillis()).toBe(5_000);
    t += 4_000;
    expect(ctx.getRemainingTimeInMillis()).toBe(1_000);
    t += 9_000;
    expect(ctx.getRemainingTimeInMillis()).toBe(0);
    expect(createLambdaContext({ functionName: 'fn' }).awsRequestId).not.toBe(ctx.awsRequestId);
  });

  it('a slow handler times out, but is awaited before returning', async () => {
    let settled = false;
    const out = await invokeHandler(
      async () => {
        await new Promise((r) => setTimeout(r, 80));
        settled = true;
      },
      {},
      createLambdaContext({ functionName: 'f' }),
      20,
    );
    expect(out.ok).toBe(false);
    expect(!out.ok && out.error).toBeInstanceOf(FunctionTimeoutError);
    expect(settled).toBe(true);
  });

  it('a handler that hangs after its timeout is abandoned after the grace period', async () => {
    const started = performance.now();
    const out = await invokeHandler(
      () => new Promise(() => undefined),
      {},
      createLambdaContext({ functionName: 'f' }),
      10,
      30,
    );
    expect(out.ok).toBe(false);
    expect(!out.ok && out.timedOut).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('non-Error rejections become Errors', async () => {
    const out = await invokeHandler(
      () => Promise.reject('nope'),
      {},
      createLambdaContext({ functionName: 'f' }),
      1000,
    );
    expect(!out.ok && out.error.message).toBe('nope');
  });
});
