// A stack for trying streamfill out: Pika-shaped tables of its own (chat-session with a
// NEW_AND_OLD_IMAGES stream, TTL and the user-chat-app GSI; chat-user; tag definitions) and a
// ContinuousBackfill on them. Deleting the stack deletes everything, its data included.
import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  StreamViewType,
  Table,
  type TableProps,
} from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { addPikaTableOutputs, pikaBackfillProps } from '../presets/pika-cdk.ts';
import { ContinuousBackfill } from './constructs/continuous-backfill.ts';
import {
  IndexMigration,
  type IndexDefinition,
  type IndexMigrationPhase,
} from './constructs/index-migration.ts';
import type { StreamfillConfig } from './context-config.ts';
import { tuningFromConfig } from './streamfill-stack.ts';

export interface SandboxStackProps extends StackProps {
  config: StreamfillConfig;
}

const S = AttributeType.STRING;

/** Pika 0.5's session GSI change: sort key chat_app_id → chat_app_sk, under a new name. */
export const SANDBOX_SESSION_INDEXES: { old: IndexDefinition; new: IndexDefinition } = {
  old: {
    indexName: 'user-chat-app-index',
    partitionKey: { name: 'user_id', type: S },
    sortKey: { name: 'chat_app_id', type: S },
  },
  new: {
    indexName: 'user-chat-app-sk-index',
    partitionKey: { name: 'user_id', type: S },
    sortKey: { name: 'chat_app_sk', type: S },
  },
};

/**
 * Sandbox tables named like Pika's (`chat-session-<stack>`, `chat-user-<stack>`,
 * `pika-tag-def-<stack>`) and the continuous backfill on them.
 *
 * @example
 * new SandboxStack(app, 'streamfill-sandbox', { config: configFromContext(app.node) });
 */
export class SandboxStack extends Stack {
  readonly sessionTable: Table;
  readonly userTable: Table;
  readonly tagTable: Table;
  readonly sessionIndex: IndexMigration;
  readonly backfill: ContinuousBackfill;

  constructor(scope: Construct, id: string, props: SandboxStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: 'streamfill sandbox: Pika-shaped tables and a continuous backfill on them',
      ...stackProps,
    });
    const common: Partial<TableProps> = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    };
    this.sessionTable = new Table(this, 'ChatSessionTable', {
      ...common,
      tableName: `chat-session-${this.stackName}`,
      partitionKey: { name: 'user_id', type: S },
      sortKey: { name: 'session_id', type: S },
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: 'exp_date_unix_seconds',
    });
    this.userTable = new Table(this, 'ChatUserTable', {
      ...common,
      tableName: `chat-user-${this.stackName}`,
      partitionKey: { name: 'user_id', type: S },
    });
    this.tagTable = new Table(this, 'TagDefinitionsTable', {
      ...common,
      tableName: `pika-tag-def-${this.stackName}`,
      partitionKey: { name: 'scope', type: S },
      sortKey: { name: 'tag', type: S },
    });
    this.tagTable.addGlobalSecondaryIndex({
      indexName: 'chatappid-status-index',
      partitionKey: { name: 'chat_app_id', type: S },
      sortKey: { name: 'status', type: S },
    });
    // Walk Pika 0.5's GSI change one deployment at a time (docs/runbook.md):
    // -c indexPhase=expand -c previousIndexPhase=before, then switch, then contract.
    this.sessionIndex = new IndexMigration(this, 'SessionIndex', {
      table: this.sessionTable,
      oldIndex: SANDBOX_SESSION_INDEXES.old,
      newIndex: SANDBOX_SESSION_INDEXES.new,
      phase: (config.indexPhase ?? 'before') as IndexMigrationPhase,
      previousPhase: (config.previousIndexPhase ??
        config.indexPhase ??
        'before') as IndexMigrationPhase,
    });

    // The Pika preset on these tables. The tag table has no stream here, so its migrations are
    // one-shot (`backfill --one-shot`).
    this.backfill = new ContinuousBackfill(
      this,
      'Backfill',
      pikaBackfillProps({
        sessionTable: this.sessionTable,
        userTable: this.userTable,
        tagTable: this.tagTable,
        ...tuningFromConfig(this, config),
        // A sandbox leaves nothing behind: state table and log groups go with it.
        stateTableRemovalPolicy: RemovalPolicy.DESTROY,
        logRemovalPolicy: RemovalPolicy.DESTROY,
      }),
    );
    addPikaTableOutputs(this.backfill);
  }
}
