// OpenSearch access of the streamfill functions: which endpoint, how requests are signed, and
// the one IAM statement each kind of OpenSearch needs (a managed domain or a Serverless
// collection). Checked at synth so that a missing grant is an error here, not a 403 per batch.
import { Token } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ENV, SEARCH_INDEX } from '../../config/defaults.ts';
import { plainHttpSearchProblem } from '../../core/endpoints.ts';

/** Where the search migrations' documents live and what grants access to them. */
export interface SearchAccessProps {
  /** The endpoint URL (`https://…`), handed to the functions as SEARCH_ENDPOINT. */
  readonly endpoint: string;
  /** The index the search migrations update. @default - the config's index (SEARCH_INDEX without one) */
  readonly index?: string;
  /**
   * An Amazon OpenSearch Service domain: grants es:ESHttpGet/Head/Post/Put on the index only
   * (`<domainArn>/<index>` and `<domainArn>/<index>/*`: the mapping check, the additive mapping,
   * `/<index>/_bulk` and `/<index>/_mget`)
   * and signs with SigV4 (service `es`). With fine-grained access control, map the functions'
   * roles to an OpenSearch role as well (see docs/runbook.md).
   * @default - none; required for an endpoint on `*.es.amazonaws.com`
   */
  readonly domainArn?: string;
  /**
   * An OpenSearch Serverless collection: grants aoss:APIAccessAll on it and signs with SigV4
   * (service `aoss`). The collection's data access policy must also allow the functions' roles.
   * @default - none; required for an endpoint on `*.aoss.amazonaws.com`
   */
  readonly collectionArn?: string;
}

const DOMAIN_ARN = /^arn:aws[a-z-]*:es:[a-z0-9-]+:\d{12}:domain\/[a-z][a-z0-9-]{2,27}$/;
const COLLECTION_ARN = /^arn:aws[a-z-]*:aoss:[a-z0-9-]+:\d{12}:collection\/[a-z0-9]{3,40}$/;

/** The problems with `search`, each naming the setting and its value (empty when fine). */
export function searchAccessProblems(search: SearchAccessProps): string[] {
  const problems: string[] = [];
  const { endpoint, domainArn, collectionArn } = search;
  const known = (v: string | undefined): v is string => v !== undefined && !Token.isUnresolved(v);
  let host = '';
  if (known(endpoint)) {
    try {
      const url = new URL(endpoint);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
      host = url.hostname;
    } catch {
      problems.push(`search.endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`);
    }
  }
  const insecure = known(endpoint) ? plainHttpSearchProblem(endpoint) : undefined;
  if (insecure) problems.push(`search.endpoint ${insecure}`);
  if (domainArn !== undefined && collectionArn !== undefined) {
    problems.push(
      'search.domainArn and search.collectionArn are both set: give the one the endpoint belongs to',
    );
  }
  if (known(domainArn) && !DOMAIN_ARN.test(domainArn)) {
    problems.push(
      `search.domainArn ${JSON.stringify(domainArn)} is not a domain ARN ` +
        '(arn:aws:es:<region>:<account>:domain/<name>)',
    );
  }
  if (known(collectionArn) && !COLLECTION_ARN.test(collectionArn)) {
    problems.push(
      `search.collectionArn ${JSON.stringify(collectionArn)} is not a collection ARN ` +
        '(arn:aws:aoss:<region>:<account>:collection/<id>)',
    );
  }
  // Without the grant every signed request is a 403, and every batch goes to the DLQ.
  if (host.endsWith('.es.amazonaws.com') && domainArn === undefined) {
    problems.push(
      `search.endpoint ${JSON.stringify(endpoint)} is an Amazon OpenSearch Service domain: ` +
        'set search.domainArn (aws opensearch describe-domain --domain-name <name> --query DomainStatus.ARN)',
    );
  }
  if (host.endsWith('.aoss.amazonaws.com') && collectionArn === undefined) {
    problems.push(
      `search.endpoint ${JSON.stringify(endpoint)} is an OpenSearch Serverless collection: ` +
        'set search.collectionArn (aws opensearchserverless batch-get-collection --names <name>)',
    );
  }
  return problems;
}

/** The statement that lets a function read and update the index's documents, if any is needed. */
export function searchAccessStatement(search: SearchAccessProps): PolicyStatement | undefined {
  const index = search.index ?? SEARCH_INDEX;
  if (search.domainArn !== undefined) {
    return new PolicyStatement({
      sid: 'UpdateSearchDocuments',
      // GET/HEAD: mapping and index checks; POST: bulk updates; PUT: the additive mapping. Only
      // the declared index: the documents of other indices (other apps' documents) stay out of reach.
      actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
      resources: [`${search.domainArn}/${index}`, `${search.domainArn}/${index}/*`],
    });
  }
  if (search.collectionArn !== undefined) {
    return new PolicyStatement({
      sid: 'UpdateServerlessSearchDocuments',
      // The only data-plane action of OpenSearch Serverless; the data access policy narrows it.
      actions: ['aoss:APIAccessAll'],
      resources: [search.collectionArn],
    });
  }
  return undefined;
}

/** SEARCH_ENDPOINT, the index and the signing choice, as the functions read them. */
export function searchEnvironment(
  search: SearchAccessProps | undefined,
  defaultIndex: string,
): Record<string, string> {
  if (!search) return {};
  return {
    [ENV.searchEndpoint]: search.endpoint,
    [ENV.searchIndex]: search.index ?? defaultIndex,
    // Explicit, so that a custom domain name (no *.amazonaws.com host) is still signed.
    ...(search.domainArn !== undefined && { [ENV.searchAuth]: 'sigv4' }),
    ...(search.collectionArn !== undefined && { [ENV.searchAuth]: 'aoss' }),
  };
}
