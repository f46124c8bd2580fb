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
          // The SDK's notice about Node 20 support would repeat in every worker.
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          // Synthesis bundles the real handler with the local esbuild (seconds, not minutes).
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
