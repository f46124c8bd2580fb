// Fresh Bedrock Chat tables for a copy test: V2 and V3 (real keys, indexes, V2's NEW_IMAGE
// stream), a state table, the preset's planner and the engine's deps over them.
import { ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import type { Clients } from '../../lib/adapters/clients.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';
import bedrock from '../../lib/presets/bedrock-chat-v3.ts';
import { ensureBedrockTables, type BedrockTableNames } from '../../local/bedrock-tables.ts';
import { uniqueName } from './env.ts';

/** The preset's V2 table, by its declared name. */
export const V2 = 'bedrock-v2-conversation';
export const bedrockPlanner = compilePlanner(resolveConfig(bedrock));

export interface BedrockFixture {
  names: BedrockTableNames;
  /** Declared → physical. */
  tables: Record<string, string>;
  stateTable: string;
  /** The engine's deps (no search), copies and their dependencies included. */
  deps: EngineDeps;
}

export async function bedrockFixture(clients: Clients, prefix: string): Promise<BedrockFixture> {
  const p = uniqueName(prefix);
  const names = { v2Conversation: `${p}-v2`, v3Conversation: `${p}-v3c`, v3Bot: `${p}-v3b` };
  await ensureBedrockTables(clients.dynamodb, names);
  const stateTable = `${p}-state`;
  await ensureStateTable(clients.dynamodb, stateTable);
  const tables = {
    [V2]: names.v2Conversation,
    'bedrock-v3-conversation': names.v3Conversation,
    'bedrock-v3-bot': names.v3Bot,
  };
  const { search: _none, ...deps } = engineDeps(clients, {
    tables,
    planner: bedrockPlanner,
    stateTable,
  });
  return { names, tables, stateTable, deps };
}
