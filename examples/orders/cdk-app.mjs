// The orders app's CDK stack: its two tables and streamfill deployed on them with this
// directory's config (bundled into the Lambda functions at synth, no Docker).
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { ContinuousBackfill } from 'streamfill/cdk';
import { TABLES } from './tables.mjs';

const app = new App();
const stack = new Stack(app, 'Orders');
const tables = Object.fromEntries(
  Object.entries(TABLES).map(([name, t]) => {
    const [pk, sk] = t.key.map((k) => ({
      name: k.name,
      type: AttributeType[k.type === 'N' ? 'NUMBER' : 'STRING'],
    }));
    return [
      name,
      new Table(stack, name, {
        partitionKey: pk,
        ...(sk && { sortKey: sk }),
        billingMode: BillingMode.PAY_PER_REQUEST,
        ...(t.stream && { stream: StreamViewType.NEW_AND_OLD_IMAGES }),
        ...(t.ttl && { timeToLiveAttribute: t.ttl }),
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    ];
  }),
);
new ContinuousBackfill(stack, 'Migration', { config: 'streamfill.config.ts', tables });
app.synth();
