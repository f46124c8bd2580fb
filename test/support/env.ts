// Per-file isolation on the shared local services (started once by ./global-services.ts).
//
// DynamoDB Local (not -sharedDb) keeps one database per access key + region, so each test file
// gets its own key: its tables never collide with another file's, and stream records do not pile
// up in one database (where writes to stream-enabled tables get 10-50x slower). Queues and
// indices are shared: name them with uniqueName().

import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { SERVICE_ENV_KEYS, type ServiceEnv } from '../../local/services/index.ts';
import type {} from './global-services.ts'; // the ProvidedContext['serviceEnv'] augmentation

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

/** A letters-and-digits access key for `name` (a separate DynamoDB Local database). */
export function accessKeyFor(name: string): string {
  const base = name.replace(/[^A-Za-z0-9]/g, '').slice(0, 16);
  return `T${base}${randomAlnum(6)}`;
}

/**
 * Call at module scope of an integration test file: points the AWS SDK at the shared local
 * services, with an access key of its own (derived from `name`) so that this file gets its own
 * DynamoDB Local database.
 */
export function useLocalServices(name: string): void {
  const env: ServiceEnv | undefined = inject('serviceEnv');
  if (!env) {
    throw new Error(
      'useLocalServices: no serviceEnv provided; run integration tests with `vitest --project integration` ' +
        '(its globalSetup is test/support/global-services.ts)',
    );
  }
  for (const key of SERVICE_ENV_KEYS) process.env[key] = env[key];
  process.env.AWS_ACCESS_KEY_ID = accessKeyFor(name);
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  process.env.AWS_REGION = 'us-east-1';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}

/**
 * A name unique to this run for queues and indices: lowercase letters, digits and dashes,
 * starting with a letter, at most 60 characters.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 40);
  return `${clean || 't'}-${Date.now().toString(36)}-${randomAlnum(5)}`;
}
