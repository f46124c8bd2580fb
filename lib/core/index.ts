// Public surface of the pure core.
export type * from './types.ts';
export * from './errors.ts';
export * from './keys.ts';
export * from './migrations/index.ts';
export * from './plan.ts';
export * from './stats.ts';
