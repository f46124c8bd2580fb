// A migrated or looked-up table's customer managed KMS key. The functions' table grants are
// statements on the table ARN (least privilege, no `/index/*`), so the key is granted apart.
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';

/**
 * The table's customer managed KMS key, when it has one, for what the function does with its
 * items (DynamoDB encrypts and decrypts with it on the caller's behalf).
 */
export function grantTableKey(table: ITable, grantee: IGrantable, use: 'read' | 'readWrite'): void {
  const actions = ['kms:Decrypt', 'kms:DescribeKey'];
  if (use === 'readWrite') actions.push('kms:Encrypt', 'kms:GenerateDataKey');
  table.encryptionKey?.grant(grantee, ...actions);
}
