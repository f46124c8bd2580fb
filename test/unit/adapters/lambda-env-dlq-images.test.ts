// STREAMFILL_DLQ_KEEP_IMAGES (issue 15 item 5): parked messages keep item images only when it
// says true; a value that is neither true nor false stops the function, naming it.
import { describe, expect, it } from 'vitest';
import { dlqKeepImages } from '../../../lib/config/defaults.ts';
import { ConfigError, lambdaConfig } from '../../../lib/config/lambda-env.ts';
import { bundledPlanner } from '../../../lib/engine/bundled-config.ts';

const PIKA = bundledPlanner();

const BASE = { STREAMFILL_SESSION_TABLE: 's', STREAMFILL_USER_TABLE: 'u' };

describe('STREAMFILL_DLQ_KEEP_IMAGES', () => {
  it('unset, empty, false or 0: images are not kept; true or 1: kept', () => {
    for (const [v, keep] of [
      [undefined, false],
      ['', false],
      ['false', false],
      ['0', false],
      ['true', true],
      [' TRUE ', true],
      ['1', true],
    ] as const) {
      const env = v === undefined ? BASE : { ...BASE, STREAMFILL_DLQ_KEEP_IMAGES: v };
      expect(lambdaConfig(env, PIKA).dlqKeepImages, String(v)).toBe(keep);
      expect(dlqKeepImages(env), String(v)).toBe(keep);
    }
  });

  it('anything else is refused with the variable and the value', () => {
    const env = { ...BASE, STREAMFILL_DLQ_KEEP_IMAGES: 'yes please' };
    expect(() => lambdaConfig(env, PIKA)).toThrow(ConfigError);
    expect(() => lambdaConfig(env, PIKA)).toThrow(
      /STREAMFILL_DLQ_KEEP_IMAGES must be true or false, got "yes please"/,
    );
    expect(() => dlqKeepImages(env)).toThrow(/STREAMFILL_DLQ_KEEP_IMAGES must be true or false/);
  });
});
