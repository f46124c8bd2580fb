import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Import boundaries (docs/ARCHITECTURE.md). Regexes, not globs, so that `../../x` paths of any
// depth are caught too.
const HARNESS = {
  regex: '(^|/)local/',
  message: 'lib/ and handlers/ ship to Lambda: they never import the local harness (local/).',
};
const boundary = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

export default tseslint.config(
  { ignores: ['node_modules/', '.cache/', 'cdk.out/', 'dist/', '.streamfill/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    // What ships never reaches for the harness.
    files: ['lib/**/*.ts', 'handlers/**/*.ts'],
    rules: boundary(HARNESS, {
      regex: '(^|/)scripts/',
      message: 'lib/ and handlers/ never import the CLI (scripts/).',
    }),
  },
  {
    // The product library never reaches for its entry points.
    files: ['lib/**/*.ts'],
    rules: boundary(HARNESS, {
      regex: '(^|/)(handlers|scripts)/',
      message: 'lib/ never imports entry points (handlers/, scripts/): they import lib/.',
    }),
  },
  {
    // The pure core must never reach for AWS: rules stay testable without a network.
    files: ['lib/core/**/*.ts'],
    rules: boundary(
      {
        regex:
          // node:crypto's hashes are pure computation (copy digests), the rest of node: is I/O.
          '^(@aws-sdk/|@opensearch-project/|@aws-lambda-powertools/|node:(?!crypto$)|aws-cdk-lib|constructs$)',
        message: 'lib/core is pure: no AWS, I/O or infrastructure imports.',
      },
      {
        regex: '(^|/)(adapters|engine|infra|local|handlers|scripts)/',
        message: 'lib/core is pure: it imports nothing outside lib/core.',
      },
    ),
  },
  {
    // Adapters know no migration rule and no pipeline.
    files: ['lib/adapters/**/*.ts'],
    rules: boundary(HARNESS, {
      regex: '(^|/)(core/migrations|engine|infra|handlers|scripts)/',
      message: 'lib/adapters know no migration rule: take field names and guards as parameters.',
    }),
  },
  {
    // A preset is a config as a user writes it: the public API (lib/index.ts), nothing else.
    files: ['lib/presets/**/*.ts'],
    rules: boundary(HARNESS, {
      regex: '^(\\.(?!\\./index\\.ts$)|/|@aws-sdk/|@opensearch-project/|aws-cdk-lib|node:)',
      message: 'lib/presets import only the public API (../index.ts), as a user config would.',
    }),
  },
  {
    // A preset's CDK companion is a user's CDK app: the public CDK API (../cdk.ts), aws-cdk-lib.
    files: ['lib/presets/**/*-cdk.ts'],
    rules: boundary(HARNESS, {
      regex: '^(\\.(?!\\./cdk\\.ts$)|/|@aws-sdk/|@opensearch-project/)',
      message: "a preset's CDK helper imports only the public CDK API (../cdk.ts) and aws-cdk-lib.",
    }),
  },
);
