// A loopback HTTP proxy in front of DynamoDB Local that can answer chosen operations with the
// throttling errors real DynamoDB returns (HTTP 400, ThrottlingReasons [{reason, resource}]),
// for N requests or a fraction of them, and counts what it did. Everything else is forwarded.
import http from 'node:http';

export type ThrottleErrorName = 'ThrottlingException' | 'ProvisionedThroughputExceededException';

export interface ThrottleRule {
  /** DynamoDB operation (`Scan`, `UpdateItem`, ...) or `*`. */
  operation: string;
  /** Only requests whose body names this table (`"TableName":"x"`). */
  tableName?: string;
  /** Only requests whose JSON body contains this text (e.g. `"Segment":2`). */
  bodyIncludes?: string;
  error?: ThrottleErrorName;
  reasons: { reason: string; resource: string }[];
  /** Throttle this many matching requests, then forward again. */
  count?: number;
  /** Or throttle this fraction (0..1) of matching requests, indefinitely. */
  fraction?: number;
  random?: () => number;
}

export interface ProxyCounts {
  forwarded: number;
  throttled: number;
  /** Throttled requests per operation. */
  byOperation: Record<string, number>;
}

/** The error body as DynamoDB's JSON protocol sends it. */
export function throttleBody(error: ThrottleErrorName, reasons: ThrottleRule['reasons']): string {
  const list = reasons.map((r) => ({ __type: 'ThrottlingReason', ...r }));
  // The service model names the list `ThrottlingReasons` on ProvisionedThroughputExceeded
  // (and RequestLimitExceeded) but `throttlingReasons` on ThrottlingException.
  return JSON.stringify({
    __type: `com.amazonaws.dynamodb.v20120810#${error}`,
    message:
      error === 'ThrottlingException'
        ? 'Throughput exceeds the current capacity of your table or index.'
        : 'The level of configured provisioned throughput for the table was exceeded.',
    [error === 'ThrottlingException' ? 'throttlingReasons' : 'ThrottlingReasons']: list,
  });
}

export class ThrottlingProxy {
  private server: http.Server | undefined;
  private readonly target: URL;
  private rules: (ThrottleRule & { left: number })[] = [];
  readonly counts: ProxyCounts = { forwarded: 0, throttled: 0, byOperation: {} };
  private readonly agent = new http.Agent({ keepAlive: true });
  port = 0;

  constructor(targetUrl: string) {
    this.target = new URL(targetUrl);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Adds a rule; the first matching rule with requests left decides. */
  throttle(rule: ThrottleRule): void {
    if (rule.count === undefined && rule.fraction === undefined) {
      throw new Error('throttle rule needs count or fraction');
    }
    this.rules.push({ ...rule, left: rule.count ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  private match(operation: string, body: string): ThrottleRule | undefined {
    for (const r of this.rules) {
      if (r.left <= 0) continue;
      if (r.operation !== '*' && r.operation !== operation) continue;
      if (r.tableName && !body.includes(`"TableName":${JSON.stringify(r.tableName)}`)) continue;
      if (r.bodyIncludes && !body.includes(r.bodyIncludes)) continue;
      if (r.fraction !== undefined && (r.random ?? Math.random)() >= r.fraction) continue;
      r.left--;
      return r;
    }
    return undefined;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.slice(target.indexOf('.') + 1);
        const rule = this.match(operation, body.toString('utf8'));
        if (rule) {
          const error = rule.error ?? 'ThrottlingException';
          this.counts.throttled++;
          this.counts.byOperation[operation] = (this.counts.byOperation[operation] ?? 0) + 1;
          const out = throttleBody(error, rule.reasons);
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-requestid': `throttle-${this.counts.throttled}`,
            'content-length': Buffer.byteLength(out),
          });
          res.end(out);
          return;
        }
        this.counts.forwarded++;
        const up = http.request(
          {
            host: this.target.hostname,
            port: this.target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
            agent: this.agent,
          },
          (upRes) => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
          },
        );
        up.on('error', (e) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${e.message}`);
        });
        up.end(body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
