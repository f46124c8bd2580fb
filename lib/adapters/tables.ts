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
