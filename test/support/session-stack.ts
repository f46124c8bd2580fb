// Test support: a fresh set of Pika tables (own stream), one user and a session index, named
// uniquely, plus the definition of a bare session table for tests that need other stream settings.
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Clients } from '../../lib/adapters/clients.ts';
import {
  ensurePikaTables,
  ensureSessionIndex,
  putItems,
  type PikaTableNames,
} from '../../local/pika-tables.ts';
import { uniqueName } from './env.ts';

/** Tables `<unique>-session|user|tag` with user `u1` (internal-user) and an index `<name>-idx-…`. */
export async function freshSessionStack(
  clients: Clients,
  name: string,
): Promise<{ tables: PikaTableNames; index: string; prefix: string }> {
  const prefix = uniqueName(name);
  const tables = {
    session: `${prefix}-session`,
    user: `${prefix}-user`,
    tag: `${prefix}-tag`,
  };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, [{ user_id: 'u1', user_type: 'internal-user' }]);
  const index = uniqueName(`${name}-idx`);
  await ensureSessionIndex(clients.search!, index);
  return { tables, index, prefix };
}

/** A chat-session table definition (user_id, session_id), on demand, plus `extra`. */
export function sessionTableDef(
  TableName: string,
  extra: Partial<CreateTableCommandInput> = {},
): CreateTableCommandInput {
  return {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'user_id', AttributeType: 'S' },
      { AttributeName: 'session_id', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'user_id', KeyType: 'HASH' },
      { AttributeName: 'session_id', KeyType: 'RANGE' },
    ],
    ...extra,
  };
}
