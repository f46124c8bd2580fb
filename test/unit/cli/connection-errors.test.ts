import { describe, expect, it } from 'vitest';
import { describeConnectionError } from '../../../scripts/connection-errors.ts';

const refused = (port: number) =>
  Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
    code: 'ECONNREFUSED',
    address: '127.0.0.1',
    port,
  });
const env = {
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4566',
  AWS_ENDPOINT_URL_SQS: 'http://localhost:9324',
  SEARCH_ENDPOINT: 'http://127.0.0.1:9200',
};

describe('connection errors', () => {
  it('name the service, its endpoint and the fix', () => {
    expect(describeConnectionError(refused(4566), env)).toMatch(
      /^DynamoDB at http:\/\/127\.0\.0\.1:4566 refused the connection — is `streamfill services up` running\?/,
    );
    expect(describeConnectionError(refused(9324), env)).toMatch(
      /^SQS at http:\/\/localhost:9324 refused/,
    );
  });

  it('find the network error inside a cause or an AggregateError', () => {
    const wrapped = new Error('fetch failed', { cause: new AggregateError([refused(9200)]) });
    expect(describeConnectionError(wrapped, env)).toMatch(
      /^OpenSearch at http:\/\/127\.0\.0\.1:9200 refused/,
    );
  });

  it('say AWS and the region when no endpoint variable matches; ignore other errors', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND dynamodb.xx.amazonaws.com'), {
      code: 'ENOTFOUND',
      hostname: 'dynamodb.xx.amazonaws.com',
    });
    expect(describeConnectionError(dns, { AWS_REGION: 'xx' })).toContain(
      'AWS (region xx) has a host name that does not resolve (ENOTFOUND dynamodb.xx.amazonaws.com)',
    );
    expect(describeConnectionError(new Error('table "x" does not exist'), env)).toBeUndefined();
  });
});
