// The example's tables as the orders app defines them: `order_no` is a number sort key, and the
// orders table streams NEW_AND_OLD_IMAGES (streamfill's live path reads it).
export const TABLES = {
  orders: {
    key: [
      { name: 'tenant_id', type: 'S' },
      { name: 'order_no', type: 'N' },
    ],
    stream: true,
    ttl: 'expires_at',
  },
  customers: { key: [{ name: 'customer_id', type: 'S' }], stream: false },
};

/** CreateTable input of one table (DynamoDB Local, or any account). */
export function createTableInput(name, physicalName = name) {
  const t = TABLES[name];
  return {
    TableName: physicalName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: t.key.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
    KeySchema: t.key.map((k, i) => ({ AttributeName: k.name, KeyType: i ? 'RANGE' : 'HASH' })),
    ...(t.stream && {
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  };
}
