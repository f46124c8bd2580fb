// A short fingerprint of a config's declared shape, so a Lambda function whose bundled config
// and environment (set by the construct from the config it loaded at synth) disagree refuses to
// start instead of migrating with the wrong rules. Function bodies are left out: the construct
// and the bundle compile them separately, so their text differs; a changed rule that keeps its
// name, tables, inputs and writes is not caught (its bundle and environment ship together).
import { createHash } from 'node:crypto';
import type { Planner } from '../core/config/planner.ts';

/** Set by the CDK construct; checked by lambdaConfig at cold start. */
export const CONFIG_FINGERPRINT_ENV = 'STREAMFILL_CONFIG_FINGERPRINT';

/** 16 hex characters of the SHA-256 of the config's tables, lookups, migrations and indices. */
export function configFingerprint(planner: Planner): string {
  const { resolved } = planner;
  const shape = {
    tables: [...resolved.tables.values()].map((t) => [t.name, t.key, t.ttl ?? null]),
    lookups: [...resolved.lookups.values()].map((l) => [l.name, l.table.name, l.attributes]),
    migrations: [...planner.summaries.values()].map((m) => [
      m.name,
      m.table,
      m.target,
      m.inputs,
      m.writes,
      m.lookups,
      m.optIn,
    ]),
    indices: planner.migratedTables.flatMap((t) =>
      planner.searchSpecsFor(t, planner.allMigrations).map((s) => s.index),
    ),
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
