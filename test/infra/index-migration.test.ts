// IndexMigration: the GSIs each phase synthesizes (keys and projection pinned) for Pika 0.5's
// sort-key change and ABCA #110's projection change, and every refusal at synth.
import { App, Stack, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  IndexMigration,
  type IndexDefinition,
  type IndexMigrationPhase,
} from '../../lib/infra/constructs/index-migration.ts';

const S = dynamodb.AttributeType.STRING;

// Pika 0.5 (seed: "Chat Session GSI Update"): user-chat-app-index's sort key moves from
// chat_app_id to the composite chat_app_sk; the replacement gets a new name.
const PIKA_OLD: IndexDefinition = {
  indexName: 'user-chat-app-index',
  partitionKey: { name: 'user_id', type: S },
  sortKey: { name: 'chat_app_id', type: S },
  projectionType: dynamodb.ProjectionType.ALL,
};
const PIKA_NEW: IndexDefinition = {
  indexName: 'user-chat-app-sk-index',
  partitionKey: { name: 'user_id', type: S },
  sortKey: { name: 'chat_app_sk', type: S },
  projectionType: dynamodb.ProjectionType.ALL,
};

// ABCA #110: TaskApprovalsTable's user_id-status-index needs matching_rule_ids in its INCLUDE
// projection; the dual index gets the new projection under a new name.
const ABCA_BASE_ATTRS = [
  'task_id',
  'request_id',
  'tool_name',
  'tool_input_preview',
  'severity',
  'reason',
  'created_at',
  'timeout_s',
];
const ABCA_OLD: IndexDefinition = {
  indexName: 'user_id-status-index',
  partitionKey: { name: 'user_id', type: S },
  sortKey: { name: 'status', type: S },
  projectionType: dynamodb.ProjectionType.INCLUDE,
  nonKeyAttributes: ABCA_BASE_ATTRS,
};
const ABCA_NEW: IndexDefinition = {
  ...ABCA_OLD,
  indexName: 'user_id-status-v2-index',
  nonKeyAttributes: [...ABCA_BASE_ATTRS, 'matching_rule_ids'],
};

const PREVIOUS: Record<IndexMigrationPhase, IndexMigrationPhase> = {
  before: 'before',
  expand: 'before',
  switch: 'expand',
  contract: 'switch',
};

function sessionStack(): { stack: Stack; table: dynamodb.Table } {
  const stack = new Stack(new App(), 'Pika');
  const table = new dynamodb.Table(stack, 'ChatSession', {
    tableName: 'chat-session-test',
    partitionKey: { name: 'user_id', type: S },
    sortKey: { name: 'session_id', type: S },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  });
  return { stack, table };
}

function approvalsStack(): { stack: Stack; table: dynamodb.Table } {
  const stack = new Stack(new App(), 'Abca');
  const table = new dynamodb.Table(stack, 'TaskApprovals', {
    partitionKey: { name: 'task_id', type: S },
    sortKey: { name: 'request_id', type: S },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  });
  return { stack, table };
}

interface CfnTable {
  GlobalSecondaryIndexes?: unknown[];
  AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
}
function tableProps(stack: Stack): CfnTable {
  const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
  const [only] = Object.values(tables) as { Properties: CfnTable }[];
  return only!.Properties;
}

const PIKA_OLD_CFN = {
  IndexName: 'user-chat-app-index',
  KeySchema: [
    { AttributeName: 'user_id', KeyType: 'HASH' },
    { AttributeName: 'chat_app_id', KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
};
const PIKA_NEW_CFN = {
  IndexName: 'user-chat-app-sk-index',
  KeySchema: [
    { AttributeName: 'user_id', KeyType: 'HASH' },
    { AttributeName: 'chat_app_sk', KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
};
const ABCA_KEYS = [
  { AttributeName: 'user_id', KeyType: 'HASH' },
  { AttributeName: 'status', KeyType: 'RANGE' },
];
const ABCA_OLD_CFN = {
  IndexName: 'user_id-status-index',
  KeySchema: ABCA_KEYS,
  Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ABCA_BASE_ATTRS },
};
const ABCA_NEW_CFN = {
  IndexName: 'user_id-status-v2-index',
  KeySchema: ABCA_KEYS,
  Projection: {
    ProjectionType: 'INCLUDE',
    NonKeyAttributes: [...ABCA_BASE_ATTRS, 'matching_rule_ids'],
  },
};

// The first synthesis loads most of aws-cdk-lib (seconds on a busy machine): do it under the
// hook timeout, not inside the first test's 5 s.
beforeAll(() => {
  Template.fromStack(sessionStack().stack);
});

describe('Pika 0.5: the session index moves to the chat_app_sk sort key', () => {
  const expected: Record<IndexMigrationPhase, { gsis: unknown[]; reads: string }> = {
    before: { gsis: [PIKA_OLD_CFN], reads: 'user-chat-app-index' },
    expand: { gsis: [PIKA_OLD_CFN, PIKA_NEW_CFN], reads: 'user-chat-app-index' },
    switch: { gsis: [PIKA_OLD_CFN, PIKA_NEW_CFN], reads: 'user-chat-app-sk-index' },
    contract: { gsis: [PIKA_NEW_CFN], reads: 'user-chat-app-sk-index' },
  };
  it.each(Object.keys(expected) as IndexMigrationPhase[])(
    "phase '%s' synthesizes exactly its indexes, keys and projection",
    (phase) => {
      const { stack, table } = sessionStack();
      const m = new IndexMigration(stack, 'SessionIndex', {
        table,
        oldIndex: PIKA_OLD,
        newIndex: PIKA_NEW,
        phase,
        previousPhase: PREVIOUS[phase],
      });
      const props = tableProps(stack);
      expect(props.GlobalSecondaryIndexes).toEqual(expected[phase].gsis);
      expect(m.readIndexName).toBe(expected[phase].reads);
      // Attribute definitions follow the keys in use: chat_app_id leaves with the old index.
      const defined = props.AttributeDefinitions.map((a) => a.AttributeName).sort();
      const keys = new Set(['user_id', 'session_id']);
      for (const g of expected[phase].gsis as (typeof PIKA_OLD_CFN)[])
        for (const k of g.KeySchema) keys.add(k.AttributeName);
      expect(defined).toEqual([...keys].sort());
      expect(props.AttributeDefinitions.every((a) => a.AttributeType === 'S')).toBe(true);
    },
  );

  it('reports the one change of each forward step', () => {
    const changes = (phase: IndexMigrationPhase) => {
      const { stack, table } = sessionStack();
      return new IndexMigration(stack, 'M', {
        table,
        oldIndex: PIKA_OLD,
        newIndex: PIKA_NEW,
        phase,
        previousPhase: PREVIOUS[phase],
      }).changes;
    };
    expect(changes('expand')).toEqual([{ action: 'create', indexName: 'user-chat-app-sk-index' }]);
    expect(changes('switch')).toEqual([]);
    expect(changes('contract')).toEqual([{ action: 'delete', indexName: 'user-chat-app-index' }]);
  });

  it('tells the operator what to do next in a synth annotation', () => {
    const { stack, table } = sessionStack();
    new IndexMigration(stack, 'M', {
      table,
      oldIndex: PIKA_OLD,
      newIndex: PIKA_NEW,
      phase: 'expand',
      previousPhase: 'before',
    });
    Annotations.fromStack(stack).hasInfo(
      '/Pika/M',
      Match.stringLikeRegexp(
        'streamfill index status --index user-chat-app-sk-index.*then deploy .switch.',
      ),
    );
  });

  it('works on a TableV2 as well (global table resource)', () => {
    const stack = new Stack(new App(), 'PikaV2');
    const table = new dynamodb.TableV2(stack, 'ChatSession', {
      partitionKey: { name: 'user_id', type: S },
      sortKey: { name: 'session_id', type: S },
      dynamoStream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    new IndexMigration(stack, 'M', {
      table,
      oldIndex: PIKA_OLD,
      newIndex: PIKA_NEW,
      phase: 'expand',
      previousPhase: 'before',
    });
    const [res] = Object.values(
      Template.fromStack(stack).findResources('AWS::DynamoDB::GlobalTable'),
    ) as { Properties: { GlobalSecondaryIndexes: unknown[] } }[];
    expect(res!.Properties.GlobalSecondaryIndexes).toEqual([PIKA_OLD_CFN, PIKA_NEW_CFN]);
  });
});

describe('ABCA #110: a dual index with the new projection', () => {
  const expected: Record<IndexMigrationPhase, unknown[]> = {
    before: [ABCA_OLD_CFN],
    expand: [ABCA_OLD_CFN, ABCA_NEW_CFN],
    switch: [ABCA_OLD_CFN, ABCA_NEW_CFN],
    contract: [ABCA_NEW_CFN],
  };
  it.each(Object.keys(expected) as IndexMigrationPhase[])(
    "phase '%s' pins the INCLUDE projection of each index",
    (phase) => {
      const { stack, table } = approvalsStack();
      new IndexMigration(stack, 'PendingIndex', {
        table,
        oldIndex: ABCA_OLD,
        newIndex: ABCA_NEW,
        phase,
        previousPhase: PREVIOUS[phase],
      });
      expect(tableProps(stack).GlobalSecondaryIndexes).toEqual(expected[phase]);
    },
  );

  it('gives a provisioned Table index the capacity asked for (5 by default)', () => {
    const stack = new Stack(new App(), 'Prov');
    const table = new dynamodb.Table(stack, 'T', {
      partitionKey: { name: 'task_id', type: S },
      billingMode: dynamodb.BillingMode.PROVISIONED,
    });
    new IndexMigration(stack, 'M', {
      table,
      oldIndex: ABCA_OLD,
      newIndex: { ...ABCA_NEW, readCapacity: 7, writeCapacity: 9 },
      phase: 'expand',
      previousPhase: 'before',
    });
    const gsis = tableProps(stack).GlobalSecondaryIndexes as {
      ProvisionedThroughput: unknown;
    }[];
    expect(gsis.map((g) => g.ProvisionedThroughput)).toEqual([
      { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      { ReadCapacityUnits: 7, WriteCapacityUnits: 9 },
    ]);
  });
});

describe('refusals at synth', () => {
  const build = (
    phase: IndexMigrationPhase,
    previousPhase: IndexMigrationPhase,
    defs: { oldIndex: IndexDefinition; newIndex: IndexDefinition } = {
      oldIndex: PIKA_OLD,
      newIndex: PIKA_NEW,
    },
  ) => {
    const { stack, table } = sessionStack();
    return new IndexMigration(stack, 'M', { table, ...defs, phase, previousPhase });
  };

  it('refuses two GSI changes in one deployment and names the next deployments', () => {
    expect(() => build('contract', 'before')).toThrow(
      "IndexMigration Pika/M: phase 'contract' removes user-chat-app-index while adding " +
        "user-chat-app-sk-index against the deployed phase 'before', but DynamoDB allows one GSI " +
        "create or delete per table update: deploy 'expand' first, wait for `streamfill index " +
        "status --index user-chat-app-sk-index` to show ACTIVE and backfilled, then 'switch', then 'contract'",
    );
    expect(() => build('before', 'contract')).toThrow(
      "phase 'before' removes user-chat-app-sk-index while adding user-chat-app-index against the " +
        "deployed phase 'contract', but DynamoDB allows one GSI create or delete per table update: " +
        "deploy 'switch' first, wait for `streamfill index status --index user-chat-app-index` to " +
        "show ACTIVE and backfilled, then 'expand', then 'before'",
    );
  });

  it('refuses reading an index that this very deployment creates', () => {
    expect(() => build('switch', 'before')).toThrow(
      "IndexMigration Pika/M: phase 'switch' makes the app read user-chat-app-sk-index, which the " +
        "deployed phase 'before' (previousPhase 'before') does not have yet (it would be created in " +
        "this deployment and is empty until backfilled): deploy 'expand' first, wait for " +
        "`streamfill index status --index user-chat-app-sk-index` to show ACTIVE and backfilled, then 'switch'",
    );
    expect(() => build('expand', 'contract')).toThrow(
      "phase 'expand' makes the app read user-chat-app-index, which the deployed phase 'contract' " +
        "(previousPhase 'contract') does not have yet (it would be created in this deployment and is " +
        "empty until backfilled): deploy 'switch' first, wait for `streamfill index status --index " +
        "user-chat-app-index` to show ACTIVE and backfilled, then 'expand'",
    );
  });

  it('refuses removing the index the app still reads (skipping the switch)', () => {
    expect(() => build('contract', 'expand')).toThrow(
      "IndexMigration Pika/M: phase 'contract' removes user-chat-app-index, which the app still " +
        "reads in the deployed phase 'expand' (previousPhase 'expand'): deploy 'switch' first, then 'contract'",
    );
    expect(() => build('before', 'switch')).toThrow(
      "phase 'before' removes user-chat-app-sk-index, which the app still reads in the deployed " +
        "phase 'switch' (previousPhase 'switch'): deploy 'expand' first, then 'before'",
    );
  });

  it('allows every single step forward and back, and staying put', () => {
    const phases: IndexMigrationPhase[] = ['before', 'expand', 'switch', 'contract'];
    for (let i = 0; i < phases.length; i++) {
      for (const j of [i - 1, i, i + 1]) {
        const from = phases[i]!;
        const to = phases[j];
        if (to) expect(() => build(to, from), `${from} → ${to}`).not.toThrow();
      }
    }
  });

  it('refuses a changed index under the old name', () => {
    expect(() =>
      build('expand', 'before', {
        oldIndex: PIKA_OLD,
        newIndex: { ...PIKA_NEW, indexName: 'user-chat-app-index' },
      }),
    ).toThrow(
      'IndexMigration: newIndex "user-chat-app-index" has the old index\'s name but its sort key ' +
        "changes chat_app_id (S) → chat_app_sk (S): DynamoDB cannot change a GSI's keys or " +
        'projection in place: give it a new name (e.g. "user-chat-app-v2-index")',
    );
    expect(() =>
      build('expand', 'before', {
        oldIndex: ABCA_OLD,
        newIndex: { ...ABCA_NEW, indexName: 'user_id-status-index' },
      }),
    ).toThrow(
      "but its projection changes INCLUDE [created_at, reason, request_id, severity, task_id, timeout_s, tool_input_preview, tool_name] → INCLUDE [created_at, matching_rule_ids, reason, request_id, severity, task_id, timeout_s, tool_input_preview, tool_name]: DynamoDB cannot change a GSI's keys or projection in place: give it a new name",
    );
  });

  it('refuses an identical old and new index', () => {
    expect(() => build('expand', 'before', { oldIndex: PIKA_OLD, newIndex: PIKA_OLD })).toThrow(
      'IndexMigration: oldIndex and newIndex are the same index "user-chat-app-index" with the same ' +
        'keys and projection: there is nothing to migrate',
    );
  });

  it('refuses an unknown phase, naming the setting and value', () => {
    expect(() => build('shrink' as IndexMigrationPhase, 'before')).toThrow(
      'IndexMigration phase must be one of before, expand, switch, contract, got "shrink"',
    );
    expect(() => build('expand', 'Expand' as IndexMigrationPhase)).toThrow(
      'IndexMigration previousPhase must be one of before, expand, switch, contract, got "Expand"',
    );
  });

  it('refuses capacity settings on a TableV2 index', () => {
    const stack = new Stack(new App(), 'V2');
    const table = new dynamodb.TableV2(stack, 'T', {
      partitionKey: { name: 'user_id', type: S },
    });
    expect(
      () =>
        new IndexMigration(stack, 'M', {
          table,
          oldIndex: PIKA_OLD,
          newIndex: { ...PIKA_NEW, readCapacity: 10 },
          phase: 'expand',
          previousPhase: 'before',
        }),
    ).toThrow(
      'IndexMigration: index "user-chat-app-sk-index" sets readCapacity/writeCapacity, which apply to ' +
        'a provisioned Table only; a TableV2 index inherits the table capacity',
    );
  });

  it('refuses two migrations that each change the same table in one deployment', () => {
    const { stack, table } = sessionStack();
    new IndexMigration(stack, 'First', {
      table,
      oldIndex: PIKA_OLD,
      newIndex: PIKA_NEW,
      phase: 'expand',
      previousPhase: 'before',
    });
    const other = {
      oldIndex: {
        ...PIKA_OLD,
        indexName: 'by-app',
        partitionKey: { name: 'chat_app_id', type: S },
      },
      newIndex: {
        ...PIKA_NEW,
        indexName: 'by-app-v2',
        partitionKey: { name: 'chat_app_id', type: S },
      },
    };
    expect(
      () =>
        new IndexMigration(stack, 'Second', {
          table,
          ...other,
          phase: 'expand',
          previousPhase: 'before',
        }),
    ).toThrow(
      'IndexMigration Pika/Second: this deployment would create by-app-v2 while Pika/First already ' +
        'creates user-chat-app-sk-index on the same table, but DynamoDB allows one GSI create or ' +
        'delete per table update: deploy one of them (keep the other at its previous phase) first',
    );
    // The second one staying at its phase is no change: allowed.
    expect(
      () =>
        new IndexMigration(stack, 'Third', {
          table,
          oldIndex: { ...other.oldIndex, indexName: 'c' },
          newIndex: { ...other.newIndex, indexName: 'c-v2' },
          phase: 'before',
          previousPhase: 'before',
        }),
    ).not.toThrow();
  });
});
