// Readiness probes (plain HTTP: no SDK needed to know a server answers), for services started
// here (Java) or elsewhere (Docker, endpoints recorded by `streamfill services up`).

async function httpOk(
  url: string,
  init: RequestInit = {},
  timeoutMs = 2_000,
): Promise<Response | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? res : undefined;
  } catch {
    return undefined;
  }
}

/** DynamoDB Local answers ListTables (it needs a SigV4-shaped Authorization header, not a valid one). */
export async function probeDynamoDb(endpoint: string): Promise<boolean> {
  const res = await httpOk(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.ListTables',
      'x-amz-date': '20240101T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=streamfillprobe/20240101/us-east-1/dynamodb/aws4_request, ' +
        'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0',
    },
    body: '{"Limit":1}',
  });
  return res !== undefined;
}

export async function probeSqs(endpoint: string): Promise<boolean> {
  return (await httpOk(`${endpoint}/?Action=ListQueues`)) !== undefined;
}

export async function probeOpenSearch(endpoint: string): Promise<boolean> {
  const res = await httpOk(
    `${endpoint}/_cluster/health?wait_for_status=yellow&timeout=1s`,
    {},
    3_000,
  );
  if (!res) return false;
  try {
    const body = (await res.json()) as { status?: string };
    return body.status === 'green' || body.status === 'yellow';
  } catch {
    return false;
  }
}
