// Where a request goes: loopback (this machine: the local services) or anywhere else. Pure, so
// the CLI's wrong-target guards and the CDK's synth checks judge a URL the same way.

/** `localhost`, `127.0.0.0/8` or `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Whether `url` points at this machine; false for anything that is not a URL. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * Why a search endpoint must not be used, or undefined: plain `http:` is only for a cluster on
 * this machine — anywhere else the session documents (chat contents) and, on Amazon OpenSearch,
 * the SigV4-signed requests would cross the network unencrypted.
 */
export function plainHttpSearchProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined; // not a URL: the caller's own check says so
  }
  if (parsed.protocol !== 'http:' || isLoopbackHost(parsed.hostname)) return undefined;
  return (
    `${JSON.stringify(url)} is plain http to ${parsed.hostname}: session documents would cross the network ` +
    `unencrypted; use https://${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname} (plain http only for localhost)`
  );
}
