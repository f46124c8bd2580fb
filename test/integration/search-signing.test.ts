// What a signed search client really sends, captured by a loopback HTTP server.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';

let server: Server;
let url: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{"cluster_name":"capture"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('search client', () => {
  it('signs requests with SigV4 for the es service when asked to', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDSTREAMFILLTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    process.env.AWS_REGION = 'eu-west-1';
    const clients = makeClients({ searchEndpoint: url, searchAuth: 'sigv4' });
    try {
      await clients.search!.info();
      const auth = String(seen.at(-1)?.authorization);
      expect(auth).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDSTREAMFILLTEST\/\d{8}\/eu-west-1\/es\/aws4_request/,
      );
      expect(seen.at(-1)?.['x-amz-date']).toBeDefined();
    } finally {
      destroyClients(clients);
    }
  });

  it('sends plain requests to a local cluster', async () => {
    const clients = makeClients({ searchEndpoint: url, searchAuth: 'auto' });
    try {
      await clients.search!.info();
      expect(seen.at(-1)?.authorization).toBeUndefined();
    } finally {
      destroyClients(clients);
    }
  });
});
