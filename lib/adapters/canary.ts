// Writing and removing the gate's canary item in the migrated table: created only where no item
// exists (never an application item overwritten), with a TTL so a canary left behind by a
// killed scanner expires by itself.
import { DeleteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CANARY_PARTITION } from '../core/canary.ts';
import type { Key } from '../core/types.ts';

export async function writeCanary(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: Key,
  options: { ttlAttribute?: string; expiresAtSeconds: number; nowMs: number },
): Promise<void> {
  const pk = Object.keys(key)[0] as string;
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: `SET #w = :w${options.ttlAttribute ? ', #ttl = :ttl' : ''}`,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: {
        '#pk': pk,
        '#w': 'streamfill_canary_written_at',
        ...(options.ttlAttribute && { '#ttl': options.ttlAttribute }),
      },
      ExpressionAttributeValues: {
        ':w': new Date(options.nowMs).toISOString(),
        ...(options.ttlAttribute && { ':ttl': options.expiresAtSeconds }),
      },
    }),
  );
}

/** Removes a canary once seen (only a canary: the condition names the reserved partition). */
export async function deleteCanary(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: Key,
): Promise<void> {
  const pk = Object.keys(key)[0] as string;
  await doc.send(
    new DeleteCommand({
      TableName: tableName,
      Key: key,
      ConditionExpression: '#pk = :canary',
      ExpressionAttributeNames: { '#pk': pk },
      ExpressionAttributeValues: { ':canary': CANARY_PARTITION },
    }),
  );
}
