// Harness networking (bench backfill, throttling tests): a loopback TCP proxy that adds a fixed latency to every chunk it forwards (by default only
// towards the server: one request ≈ one chunk, so ≈ `requestDelayMs` more per request), the
// shape of a real network in front of a local service. Order is kept; chunks never overtake.
import net from 'node:net';

export interface DelayOptions {
  /** Added to each client → server chunk. */
  requestDelayMs: number;
  /** Added to each server → client chunk (default 0). */
  responseDelayMs?: number;
}

// Releases each chunk `delayMs` after it arrived, never before the chunk ahead of it.
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number): void {
  if (delayMs <= 0) {
    from.pipe(to);
    return;
  }
  let lastRelease = 0;
  from.on('data', (chunk: Buffer) => {
    const at = Math.max(Date.now() + delayMs, lastRelease);
    lastRelease = at;
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, at - Date.now());
  });
  from.on('end', () => setTimeout(() => to.end(), Math.max(0, lastRelease - Date.now())));
}

export class DelayProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly options: DelayOptions,
  ) {}

  static forUrl(url: string, options: DelayOptions): DelayProxy {
    const u = new URL(url);
    return new DelayProxy({ host: u.hostname, port: Number(u.port) }, options);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      client.setNoDelay(true);
      const upstream = net.connect(this.target);
      upstream.setNoDelay(true);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      delayedPipe(client, upstream, this.options.requestDelayMs);
      delayedPipe(upstream, client, this.options.responseDelayMs ?? 0);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
