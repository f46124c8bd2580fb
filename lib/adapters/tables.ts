// Table metadata the CLI and handlers check before they start (existence, stream settings).
import {
  DescribeTableCommand,
  ResourceNotFoundException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

export async function tableExists(dynamodb: DynamoDBClient, TableName: string): Promise<boolean> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName }));
    return true;
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return false;
    throw e;
  }
}

/** A table's stream as DescribeTable reports it. */
export interface TableStream {
  enabled: boolean;
  viewType?: string;
  arn?: string;
}

/** The table's stream, or undefined when the table does not exist. */
export async function describeTableStream(
  dynamodb: DynamoDBClient,
  TableName: string,
): Promise<TableStream | undefined> {
  try {
    const { Table: t = {} } = await dynamodb.send(new DescribeTableCommand({ TableName }));
    return {
      enabled: t.StreamSpecification?.StreamEnabled === true,
      ...(t.StreamSpecification?.StreamViewType && {
        viewType: t.StreamSpecification.StreamViewType,
      }),
      ...(t.LatestStreamArn && { arn: t.LatestStreamArn }),
    };
  } catch (e) {
    if (e instanceof ResourceNotFoundException) return undefined;
    throw e;
  }
}

/** The table's key attributes, name → DynamoDB scalar type ('S' | 'N' | 'B'), from DescribeTable. */
export async function keyAttributeTypes(
  dynamodb: DynamoDBClient,
  TableName: string,
): Promise<Map<string, string>> {
  const { Table: t = {} } = await dynamodb.send(new DescribeTableCommand({ TableName }));
  const types = new Map(
    (t.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]),
  );
  return new Map(
    (t.KeySchema ?? []).map((k) => [k.AttributeName as string, String(types.get(k.AttributeName))]),
  );
}
