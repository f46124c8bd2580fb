// STREAMFILL_MIGRATIONS (set by ContinuousBackfill): the registry's names only, else the
// function refuses to start, naming the variable and the unknown names.
import { describe, expect, it } from 'vitest';
import { ConfigError, lambdaConfig } from '../../../lib/config/lambda-env.ts';
import { bundledPlanner } from '../../../lib/engine/bundled-config.ts';

const PIKA = bundledPlanner();

const BASE = { STREAMFILL_SESSION_TABLE: 's', STREAMFILL_USER_TABLE: 'u' };

describe('STREAMFILL_MIGRATIONS', () => {
  it('unset or empty: every migration (undefined)', () => {
    expect(lambdaConfig(BASE, PIKA).migrations).toBeUndefined();
    expect(lambdaConfig({ ...BASE, STREAMFILL_MIGRATIONS: '' }, PIKA).migrations).toBeUndefined();
  });

  it('a list of registered names', () => {
    expect(
      lambdaConfig({ ...BASE, STREAMFILL_MIGRATIONS: 'session-sort-key, session-user-type' }, PIKA)
        .migrations,
    ).toEqual(['session-sort-key', 'session-user-type']);
  });

  it('an unknown name stops the function', () => {
    const bad = () =>
      lambdaConfig({ ...BASE, STREAMFILL_MIGRATIONS: 'session-sort-key,sortkey' }, PIKA);
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      /environment variable STREAMFILL_MIGRATIONS names unknown migrations sortkey \(known: session-sort-key/,
    );
  });
});
