import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Pure tests first: a broken rule fails fast, before the services start.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          // One set of real local services for the whole run; each test file isolates itself
          // (own DynamoDB Local database via its access key, own queues, own indices).
          globalSetup: ['test/support/global-services.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // 2 cores: two files at a time keep the Java services responsive.
          maxWorkers: 2,
        },
      },
    ],
  },
});
