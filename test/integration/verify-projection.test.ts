// Issue 7 item 10: the scans of verify (and of the in-process pass) read keys and inputs only —
// a 300 KB blob beside them is never read, and the verdict is the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { legacySessions } from '../../local/legacy-data.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('verify-projection');

let clients: Clients;
let tables: PikaTableNames;
const scans: {
  table: string | undefined;
  projection: string | undefined;
  names: Record<string, string>;
}[] = [];

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('vp');
  tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  await ensurePikaTables(clients.dynamodb, tables);
  const blob = 'x'.repeat(300 * 1024);
  const sessions = legacySessions({ sessions: 12, users: 3, seed: 7 }).map((s) => ({
    ...s,
    transcript_blob: blob,
  }));
  await putItems(clients.doc, tables.session, sessions);
  clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ScanCommand') {
        const input = args.input as {
          TableName?: string;
          ProjectionExpression?: string;
          ExpressionAttributeNames?: Record<string, string>;
        };
        scans.push({
          table: input.TableName,
          projection: input.ProjectionExpression,
          names: input.ExpressionAttributeNames ?? {},
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordScans' },
  );
});

afterAll(() => destroyClients(clients));

describe('verify reads keys and inputs only', () => {
  it('projects every scan and never names the blob; the verdict still sees every item', async () => {
    const report = await verifyAll({ planner: PIKA, doc: clients.doc, tables });
    expect(report.checked).toBe(12);
    expect(report.pending).toBeGreaterThan(0); // legacy items: nothing migrated yet
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) {
      expect(scan.projection).toBeDefined();
      const read = Object.values(scan.names);
      // Every migrated table is verified (the tag table too), each read by its own keys and inputs.
      expect(read).toEqual(
        expect.arrayContaining(
          scan.table === tables.session
            ? ['user_id', 'session_id', 'chat_app_id']
            : ['scope', 'tag', 'usage_mode'],
        ),
      );
      expect(read).not.toContain('transcript_blob');
    }
  });
});
